import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { authorizationRequest, authorizationServer, insecure, parseForm, post, signIn } from '../helpers/oauth-browser.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * The authorization code flow with PKCE end to end: a real gateway on port 0, the login page
 * driven like a browser would, and oauth4webapi as the client application.
 */

const REDIRECT = 'https://spa.example/callback';
const PASSWORD = 'correct horse battery staple';

async function grantError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) return error.error;
    throw error;
  }
  throw new Error('expected the token endpoint to refuse');
}

describe('OAuth2 authorization code + PKCE (public client)', () => {
  let server: TestGateway;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let organisationId: string;
  let aliceId: string;
  let bobSecret: string;

  beforeAll(async () => {
    server = await startTestGateway();
    const { identity } = server.gateway;
    organisationId = await identity.createOrganisation('acme', 'test');
    aliceId = await identity.addUser({ organisation: organisationId, username: 'alice', password: PASSWORD, groups: ['staff'], by: 'test' });
    await identity.addUser({ organisation: organisationId, username: 'bob', password: PASSWORD, groups: [], by: 'test' });
    bobSecret = (await identity.enrollMfa('bob', 'test')).secret;
    const registered = await identity.registerClient({
      organisation: organisationId,
      name: 'Acme <Single Page> & "App"',
      redirectUris: [REDIRECT, 'https://spa.example/other'],
      public: true,
      by: 'test',
    });
    client = { client_id: registered.clientId, token_endpoint_auth_method: 'none' };
    as = authorizationServer(server.url);
  });

  afterAll(async () => {
    await server.close();
  });

  const exchange = async (location: URL, start: { verifier: string; state: string }, redirectUri = REDIRECT, verifier = start.verifier) => {
    const params = oauth.validateAuthResponse(as, client, location, start.state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, insecure);
    return { params, response };
  };

  it('signs in, redeems the code once, and the access token authorizes a socket', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const { location } = await signIn(start, { username: 'alice', password: PASSWORD });
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe(start.state);

    const { params, response } = await exchange(location, start);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
    expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'rooms chat' });
    expect(typeof tokens.refresh_token).toBe('string');

    // The code works once: a second redemption is refused.
    const again = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT, start.verifier, insecure);
    expect(await grantError(oauth.processAuthorizationCodeResponse(as, client, again))).toBe('invalid_grant');

    const socket = await TestClient.connect(server.wsUrl());
    const answer = await socket.request('authorize', { method: 'oauth2', token: tokens.access_token });
    expect(answer.event).toBe('authorized');
    expect(answer.data).toMatchObject({ userId: aliceId, organisationId, groups: ['members', 'staff'] });
    socket.close();

    // The reuse revoked the grant (RFC 6749 section 4.1.2): its refresh token is dead too.
    const refreshed = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure);
    expect(await grantError(oauth.processRefreshTokenResponse(as, client, refreshed))).toBe('invalid_grant');

    const types = server.gateway.store.readAll({ streamId: `oauthgrant-${codeIdOf(params.get('code')!)}` }).map((event) => event.type);
    expect(types).toEqual(['AuthorizationCodeRedeemed', 'AuthorizationCodeReuseRefused', 'GrantRevoked', 'RefreshTokenRefused']);
  });

  it('refuses a wrong verifier and a wrong redirect_uri without burning the code', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const { location } = await signIn(start, { username: 'alice', password: PASSWORD });

    const wrongVerifier = await exchange(location, start, REDIRECT, oauth.generateRandomCodeVerifier());
    expect(await grantError(oauth.processAuthorizationCodeResponse(as, client, wrongVerifier.response))).toBe('invalid_grant');

    const wrongRedirect = await exchange(location, start, 'https://spa.example/other');
    expect(await grantError(oauth.processAuthorizationCodeResponse(as, client, wrongRedirect.response))).toBe('invalid_grant');

    const right = await exchange(location, start);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, right.response);
    expect(typeof tokens.access_token).toBe('string');

    const refusals = server.gateway.store.readAll({ type: 'OAuthRequestRefused' }).map((event) => event.data as { reason: string; grantId?: string });
    const codeId = codeIdOf(right.params.get('code')!);
    expect(refusals.filter((refusal) => refusal.grantId === codeId).map((refusal) => refusal.reason)).toEqual(['pkce_mismatch', 'redirect_uri_mismatch']);
  });

  it('rotates refresh tokens; a reused one is refused and revokes the grant', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const { location } = await signIn(start, { username: 'alice', password: PASSWORD });
    const first = await oauth.processAuthorizationCodeResponse(as, client, (await exchange(location, start)).response);

    const second = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), first.refresh_token!, insecure),
    );
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.scope).toBe('rooms chat');

    // The first refresh token was used up by the rotation.
    const reuse = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), first.refresh_token!, insecure);
    expect(await grantError(oauth.processRefreshTokenResponse(as, client, reuse))).toBe('invalid_grant');
    // ...and the replay revoked the grant: the newest refresh token stops working as well.
    const newest = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), second.refresh_token!, insecure);
    expect(await grantError(oauth.processRefreshTokenResponse(as, client, newest))).toBe('invalid_grant');

    const socket = await TestClient.connect(server.wsUrl());
    expect((await socket.request('authorize', { method: 'oauth2', token: second.access_token })).event).toBe('authorized');
    socket.close();
  });

  it('asks for the TOTP code when the user has MFA enrolled', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const { location } = await signIn(start, { username: 'bob', password: PASSWORD, totpSecret: bobSecret });
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, (await exchange(location, start)).response);
    const socket = await TestClient.connect(server.wsUrl());
    const answer = await socket.request('authorize', { method: 'oauth2', token: tokens.access_token });
    expect(answer.event).toBe('authorized');
    socket.close();
    const flowTypes = server.gateway.store
      .readAll({ type: 'AuthorizationCodeIssued' })
      .map((event) => event.data as { method: string; userId: string; pkce: boolean })
      .filter((issued) => issued.method === 'mfa');
    expect(flowTypes).toHaveLength(1);
    expect(flowTypes[0]!.pkce).toBe(true);
  });

  it('refuses the refresh of a disabled user', async () => {
    const { identity } = server.gateway;
    await identity.addUser({ organisation: organisationId, username: 'carol', password: PASSWORD, groups: [], by: 'test' });
    const start = await authorizationRequest(as, client, REDIRECT);
    const { location } = await signIn(start, { username: 'carol', password: PASSWORD });
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, (await exchange(location, start)).response);
    await identity.disableUser('carol', 'test', 'left the company');
    const refreshed = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure);
    expect(await grantError(oauth.processRefreshTokenResponse(as, client, refreshed))).toBe('invalid_grant');
    const refused = server.gateway.store.readAll({ type: 'RefreshTokenRefused' }).map((event) => (event.data as { reason: string }).reason);
    expect(refused).toContain('user_disabled');
  });

  it('keeps a wrong password on the page, escaped, and records it', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const page = await fetch(start.url);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const html = await page.text();
    expect(html).toContain('Acme &lt;Single Page&gt; &amp; &quot;App&quot;');
    expect(html).not.toContain('<Single Page>');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const form = parseForm(html);
    const answer = await post(new URL(form.action, start.url), { ...form.fields, step: 'password', username: '<b>alice', password: 'nope' }, cookie);
    expect(answer.status).toBe(401);
    const again = await answer.text();
    expect(again).toContain('Unknown user or wrong password.');
    expect(again).toContain('value="&lt;b&gt;alice"');
    const failures = server.gateway.store.readAll({ type: 'OAuthLoginFailed' }).map((event) => event.data as { username: string; reason: string });
    expect(failures).toContainEqual(expect.objectContaining({ username: '<b>alice', reason: 'unknown_user_or_password' }));
  });

  it('refuses a form posted without the browser cookie it was issued for (CSRF)', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const page = await fetch(start.url);
    const form = parseForm(await page.text());
    const forged = await post(new URL(form.action, start.url), { ...form.fields, step: 'password', username: 'alice', password: PASSWORD }, 'switchyard_oauth_browser=' + 'A'.repeat(43));
    expect(forged.status).toBe(403);
    expect(forged.headers.get('location')).toBeNull();
  });

  it('shows errors on the page, never redirecting, until the redirect URI is validated', async () => {
    const unknown = await fetch(server.url(`/auth/oauth2/authorize?response_type=code&client_id=nope&redirect_uri=${encodeURIComponent(REDIRECT)}`), {
      redirect: 'manual',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('location')).toBeNull();
    expect(await unknown.text()).toContain('not registered');

    const start = await authorizationRequest(as, client, 'https://evil.example/callback');
    const unregistered = await fetch(start.url, { redirect: 'manual' });
    expect(unregistered.status).toBe(400);
    expect(unregistered.headers.get('location')).toBeNull();

    // A prefix or a variant of a registered URI is not the registered URI.
    const variant = await authorizationRequest(as, client, `${REDIRECT}/../callback?x=1`);
    expect((await fetch(variant.url, { redirect: 'manual' })).status).toBe(400);
  });

  it('redirects errors after the redirect URI is validated: PKCE required, plain refused', async () => {
    const noPkce = await authorizationRequest(as, client, REDIRECT);
    noPkce.url.searchParams.delete('code_challenge');
    noPkce.url.searchParams.delete('code_challenge_method');
    const missing = await fetch(noPkce.url, { redirect: 'manual' });
    expect(missing.status).toBe(302);
    const back = new URL(missing.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('state')).toBe(noPkce.state);
    expect(() => oauth.validateAuthResponse(as, client, back, noPkce.state)).toThrow(oauth.AuthorizationResponseError);

    const plain = await authorizationRequest(as, client, REDIRECT, { code_challenge_method: 'plain', code_challenge: 'x'.repeat(43) });
    const refused = await fetch(plain.url, { redirect: 'manual' });
    expect(new URL(refused.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');

    const token = await authorizationRequest(as, client, REDIRECT, { response_type: 'token' });
    const implicit = await fetch(token.url, { redirect: 'manual' });
    expect(new URL(implicit.headers.get('location')!).searchParams.get('error')).toBe('unsupported_response_type');
  });

  it('sends the user back with access_denied on cancel', async () => {
    const start = await authorizationRequest(as, client, REDIRECT);
    const page = await fetch(start.url);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const form = parseForm(await page.text());
    const answer = await post(new URL(form.action, start.url), { ...form.fields, step: 'cancel' }, cookie);
    expect(answer.status).toBe(302);
    const back = new URL(answer.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(start.state);
    // The form is finished: submitting it again does not sign anyone in.
    const replay = await post(new URL(form.action, start.url), { ...form.fields, step: 'password', username: 'alice', password: PASSWORD }, cookie);
    expect(replay.status).toBe(409);
  });

  it('answers token endpoint errors per RFC 6749', async () => {
    const token = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(server.url('/auth/oauth2/token'), { method: 'POST', body: new URLSearchParams(body), headers });

    const unknown = await token({ grant_type: 'authorization_code', client_id: 'nobody', code: 'x', redirect_uri: REDIRECT });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(unknown.headers.get('cache-control')).toBe('no-store');
    expect(await unknown.json()).toMatchObject({ error: 'invalid_client' });

    const unsupported = await token({ grant_type: 'password', client_id: client.client_id });
    expect(unsupported.status).toBe(400);
    expect(await unsupported.json()).toMatchObject({ error: 'unsupported_grant_type' });

    const badCode = await token({ grant_type: 'authorization_code', client_id: client.client_id, code: 'not.a.code', redirect_uri: REDIRECT });
    expect(await badCode.json()).toMatchObject({ error: 'invalid_grant' });

    const noCode = await token({ grant_type: 'authorization_code', client_id: client.client_id, redirect_uri: REDIRECT });
    expect(await noCode.json()).toMatchObject({ error: 'invalid_request' });

    const publicCredentials = await token({ grant_type: 'client_credentials', client_id: client.client_id });
    expect(await publicCredentials.json()).toMatchObject({ error: 'unauthorized_client' });

    const json = await fetch(server.url('/auth/oauth2/token'), { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: 'invalid_request' });
  });
});

/** The code's `jti`: the grant stream's id. */
function codeIdOf(code: string): string {
  return (JSON.parse(Buffer.from(code.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;
}
