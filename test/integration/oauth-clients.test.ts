import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { authorizationRequest, authorizationServer, insecure, signIn } from '../helpers/oauth-browser.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Confidential clients: client credentials (organisation tokens on the socket), client
 * authentication by Basic and by body, clients from the config file, and a code's single
 * use across concurrent requests and a restart. One data directory, restarted in the middle.
 */

const REDIRECT = 'https://backend.example/oauth/callback';
const PASSWORD = 'correct horse battery staple';
const CONFIGURED_SECRET = 'configured-secret-0123456789-abcdefghijklmnop';

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) return error.error;
    throw error;
  }
  throw new Error('expected the token endpoint to refuse');
}

describe('OAuth2 confidential clients', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-oauth-'));
  let server: TestGateway;
  let as: oauth.AuthorizationServer;
  let organisationId: string;
  let client: oauth.Client;
  let secret: string;

  beforeAll(async () => {
    server = await startTestGateway({}, dataDir);
    const { identity } = server.gateway;
    organisationId = await identity.createOrganisation('globex', 'test');
    await identity.addUser({ organisation: organisationId, username: 'dave', password: PASSWORD, groups: [], by: 'test' });
    // What `switchyard clients add --org globex --name Backend --redirect-uri URI` does.
    const registered = await identity.registerClient({ organisation: 'globex', name: 'Backend', redirectUris: [REDIRECT], public: false, by: 'operator' });
    client = { client_id: registered.clientId };
    secret = registered.clientSecret!;
    as = authorizationServer(server.url);
  });

  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('issues an organisation token by client credentials, which authenticates a socket without a user', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(secret), new URLSearchParams(), insecure);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const result = await oauth.processClientCredentialsResponse(as, client, response);
    expect(result).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
    expect(result.refresh_token).toBeUndefined();

    const socket = await TestClient.connect(server.wsUrl());
    const answer = await socket.request('authenticate', { method: 'oauth2', token: result.access_token });
    expect(answer).toMatchObject({ event: 'authenticated', data: { organisationId, authStatus: 'unauthorized' } });
    // An organisation token is not a user token.
    expect((await socket.request('authorize', { method: 'oauth2', token: result.access_token })).event).toBe('unauthorized');
    socket.close();

    const issued = server.gateway.store.readAll({ type: 'OrganisationTokenIssued' }).map((event) => event.data);
    expect(issued).toEqual([expect.objectContaining({ clientId: client.client_id, organisationId })]);
  });

  it('takes client_secret_post too, and refuses a wrong secret with 401 and a challenge', async () => {
    const post = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretPost(secret), new URLSearchParams({ scope: 'rooms' }), insecure);
    expect((await oauth.processClientCredentialsResponse(as, client, post)).scope).toBe('rooms');

    const wrong = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(`${secret}x`), new URLSearchParams(), insecure);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await wrong.clone().json()).toMatchObject({ error: 'invalid_client' });

    const none = await fetch(server.url('/auth/oauth2/token'), {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id }),
    });
    expect(none.status).toBe(401);

    const both = await fetch(server.url('/auth/oauth2/token'), {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_secret: secret }),
      headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}` },
    });
    expect(await both.json()).toMatchObject({ error: 'invalid_request' });

    const reasons = server.gateway.store.readAll({ type: 'OAuthRequestRefused' }).map((event) => (event.data as { reason: string }).reason);
    expect(reasons).toEqual(expect.arrayContaining(['wrong_client_secret', 'no_client_secret', 'two_auth_methods']));
  });

  it('lets exactly one of many concurrent redemptions of a code win (PKCE with a confidential client)', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const { location } = await signIn(start, { username: 'dave', password: PASSWORD });
    const params = oauth.validateAuthResponse(as, client, location, start.state);
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(secret), params, REDIRECT, start.verifier, insecure)),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
    const bodies = await Promise.all(responses.filter((response) => response.status === 400).map((response) => response.json()));
    expect(bodies.every((body) => (body as { error: string }).error === 'invalid_grant')).toBe(true);
    expect(server.gateway.store.readAll({ type: 'AuthorizationCodeRedeemed' })).toHaveLength(1);
  });

  it('keeps a code used across a restart, and registers clients from the config file', async () => {
    // A confidential client may leave PKCE out.
    const start = await authorizationRequest(as, client, REDIRECT);
    start.url.searchParams.delete('code_challenge');
    start.url.searchParams.delete('code_challenge_method');
    const { location } = await signIn(start, { username: 'dave', password: PASSWORD });
    const params = oauth.validateAuthResponse(as, client, location, start.state);
    const first = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(secret), params, REDIRECT, oauth.nopkce, insecure);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, first);

    await server.gateway.stop();
    const configured = [
      { id: 'globex-worker', organisation: 'globex', name: 'Worker', secret: CONFIGURED_SECRET },
      { id: 'globex-spa', organisation: organisationId, name: 'SPA', redirectUris: ['https://spa.globex.example/cb'], public: true },
    ];
    server = await startTestGateway({ oauthClients: JSON.stringify(configured) }, dataDir);
    as = authorizationServer(server.url);

    const again = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(secret), params, REDIRECT, oauth.nopkce, insecure);
    expect(await refusal(oauth.processAuthorizationCodeResponse(as, client, again))).toBe('invalid_grant');
    // The reuse revoked the grant, across the restart as well.
    const refresh = await oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretBasic(secret), tokens.refresh_token!, insecure);
    expect(await refusal(oauth.processRefreshTokenResponse(as, client, refresh))).toBe('invalid_grant');

    const worker: oauth.Client = { client_id: 'globex-worker' };
    const response = await oauth.clientCredentialsGrantRequest(as, worker, oauth.ClientSecretPost(CONFIGURED_SECRET), new URLSearchParams(), insecure);
    const result = await oauth.processClientCredentialsResponse(as, worker, response);
    const socket = await TestClient.connect(server.wsUrl());
    expect(await socket.request('authenticate', { method: 'oauth2', token: result.access_token })).toMatchObject({
      data: { organisationId, authStatus: 'unauthorized' },
    });
    socket.close();

    const spa = server.gateway.oauth.client('globex-spa');
    expect(spa).toMatchObject({ public: true, organisationId, redirectUris: ['https://spa.globex.example/cb'] });
    // The secret is recorded only as its hash.
    const registration = server.gateway.store.readStream('client-globex-worker')[0]!;
    expect(JSON.stringify(registration.data)).not.toContain(CONFIGURED_SECRET);
  });

  it('refuses to start when a configured client names an unknown organisation', async () => {
    await server.gateway.stop();
    const bad = [{ id: 'stray', organisation: 'no-such-org', name: 'Stray', secret: CONFIGURED_SECRET }];
    await expect(startTestGateway({ oauthClients: JSON.stringify(bad) }, dataDir)).rejects.toThrow(/no-such-org/);
    server = await startTestGateway({}, dataDir);
  });
});
