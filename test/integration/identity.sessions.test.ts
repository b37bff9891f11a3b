import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_NOT_VALID } from '../../src/modules/identity/topics.js';
import { runCli } from '../helpers/child-gateway.js';
import { connect, ask, createUsers, login, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { compactJws, decodeJson, json64, split } from '../helpers/jws.js';
import type { TestClient } from '../helpers/ws-client.js';

/**
 * Sessions over real sockets: Chat Signal's app tokens (POST /app, auth-request), logout,
 * JWKS and key rotation (in process and by the CLI while the server runs), disabling a user
 * (sockets closed with 4501, tokens dead), the authentication deadline (4401), and forged
 * tokens at the edge, which must leave the socket exactly as anonymous as before.
 */

const APP_PASSWORD = 'chat-signal-app-password';

const postApp = async (server: IdentityGateway, body: unknown) => {
  const response = await fetch(server.url('/app'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

const kidOf = (token: string): string => decodeJson(split(token).header).kid as string;

async function stillServes(client: TestClient): Promise<void> {
  expect(await ask(client, 'ping')).toMatchObject({ event: 'pong' });
}

describe('app tokens, sessions, keys and disabled users', { timeout: 240_000 }, () => {
  let server: IdentityGateway;
  let organisationId: string;
  let users: Record<string, TestUser>;

  beforeAll(async () => {
    server = await startIdentityGateway({
      appPassword: APP_PASSWORD,
      authDeadlineSeconds: '0',
      loginAttemptsPerMinutePerUser: '1000',
      loginAttemptsPerMinutePerAddress: '10000',
    });
    organisationId = await server.gateway.identity.createOrganisation('acme', 'test');
    users = await createUsers(server, 'acme', [{ username: 'ivy' }, { username: 'jon' }, { username: 'kim' }, { username: 'lea' }]);
  }, 240_000);
  afterAll(async () => {
    await server?.close();
  });

  /** A user's access token, as login would hand out, without paying for scrypt. */
  const accessToken = async (user: TestUser) =>
    (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, claims: { org: organisationId }, now: server.clock.now() }))
      .token;

  it('POST /app: the configured password gets an app token; a wrong one 401, a bad body 400', async () => {
    const ok = await postApp(server, { app: 'chat', password: APP_PASSWORD });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 200, error: null, response: { token: expect.any(String) } });
    const token = (ok.body.response as { token: string }).token;
    const claims = await server.gateway.identity.tokens.verify('app', token, server.clock.now());
    expect(claims.sub).toBe('chat');
    expect(claims.exp).toBeUndefined();
    expect(server.events('AppTokenIssued', (event) => event.streamId === 'app-chat').map((event) => event.data)).toContainEqual({
      app: 'chat',
      jti: claims.jti,
      issuedAt: server.clock.now(),
    });

    expect(await postApp(server, { app: 'chat', password: `${APP_PASSWORD}x` })).toEqual({
      status: 401,
      body: { status: 401, error: 'wrong password', response: null },
    });
    expect((await postApp(server, { app: 'chat' })).status).toBe(400);
    expect((await postApp(server, 'not an object')).status).toBe(400);
    expect((await postApp(server, { app: 'bad app name!', password: APP_PASSWORD })).status).toBe(400);
  });

  it('auth-request with the app token (bare string and {token}) -> auth-accept {token}; a bad token -> auth-reject', async () => {
    const appToken = ((await postApp(server, { app: 'chat', password: APP_PASSWORD })).body.response as { token: string }).token;
    const bare = await connect(server);
    const accepted = await ask(bare.client, 'auth-request', appToken);
    expect(accepted).toMatchObject({ event: 'auth-accept', data: { token: expect.any(String) } });
    const sessionToken = (accepted.data as { token: string }).token;
    const claims = await server.gateway.identity.tokens.verify('session', sessionToken, server.clock.now());
    expect(claims).toMatchObject({ sub: 'chat', sid: bare.peerId });
    expect(server.gateway.store.readStream(`session-${bare.peerId}`).map((event) => [event.type, event.data])).toEqual([
      ['AppSessionStarted', { app: 'chat', appTokenId: expect.any(String), remoteAddress: '127.0.0.1' }],
      // With the token's digest (never the token): a cluster node that adopts the connection checks `auth` against it.
      ['TokenIssued', { kind: 'session', jti: claims.jti, subject: 'chat', expiresAt: claims.exp! * 1000, digest: createHash('sha256').update(sessionToken).digest('base64url') }],
    ]);

    const wrapped = await connect(server);
    expect(await ask(wrapped.client, 'auth-request', { token: appToken })).toMatchObject({ event: 'auth-accept' });

    const refused = await connect(server);
    for (const bad of [`${appToken}x`, { token: 'nope' }, sessionToken, 42, null]) {
      expect(await ask(refused.client, 'auth-request', bad)).toMatchObject({ event: 'auth-reject', data: TOKEN_NOT_VALID });
    }
    const refusals = server.events('TokenRefused', (event) => event.streamId === `session-${refused.peerId}`);
    expect(refusals.map((event) => event.data)).toEqual(Array(5).fill({ kind: 'app', reason: 'invalid token', remoteAddress: '127.0.0.1' }));

    // A revoked app token is refused too.
    await server.gateway.identity.revokeAppToken('chat', decodeJson(split(appToken).payload).jti as string, 'operator');
    expect(await ask(refused.client, 'auth-request', appToken)).toMatchObject({ event: 'auth-reject', data: TOKEN_NOT_VALID });
    for (const { client } of [bare, wrapped, refused]) client.close();
  });

  it('logout -> unauthorized {message:"logged out"}, a LoggedOut event, and the token can sign in again', async () => {
    const jon = users.jon!;
    const { client, peerId } = await connect(server);
    const authorized = await login(client, jon);
    expect(authorized).toMatchObject({ event: 'authorized', data: { userId: jon.userId } });
    expect(await ask(client, 'logout')).toEqual(expect.objectContaining({ event: 'unauthorized', data: { message: 'logged out', code: 'UNAUTHORIZED' } }));
    expect(server.events('LoggedOut', (event) => event.streamId === `session-${peerId}`).map((event) => event.data)).toEqual([{ userId: jon.userId }]);
    expect(await ask(client, 'authorize', { method: 'oauth2', token: (authorized.data as { token: string }).token })).toMatchObject({ event: 'authorized' });

    // An anonymous socket's logout answers the same and logs nothing.
    const anonymous = await connect(server);
    expect(await ask(anonymous.client, 'logout')).toMatchObject({ event: 'unauthorized', data: { message: 'logged out' } });
    expect(server.gateway.store.readStream(`session-${anonymous.peerId}`)).toEqual([]);
    client.close();
    anonymous.client.close();
  });

  it('/.well-known/jwks.json lists the verifying keys; after a rotation old tokens verify and new ones carry the new kid', async () => {
    const ivy = users.ivy!;
    const before = await accessToken(ivy);
    const jwks = async () => {
      const response = await fetch(server.url('/.well-known/jwks.json'));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      return ((await response.json()) as { keys: { kid: string; kty: string; crv: string; x: string; d?: string }[] }).keys;
    };
    const initial = await jwks();
    expect(initial.map((key) => key.kid)).toContain(kidOf(before));
    for (const key of initial) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key.d).toBeUndefined();
    }

    const rotated = server.gateway.keyRing.rotate(server.clock.now(), 86_400);
    const after = await accessToken(ivy);
    expect(kidOf(after)).toBe(rotated.kid);
    expect(kidOf(before)).not.toBe(rotated.kid);
    const { client } = await connect(server);
    expect(await ask(client, 'authorize', { method: 'oauth2', token: before })).toMatchObject({ event: 'authorized', data: { userId: ivy.userId } });
    expect(await ask(client, 'authorize', { method: 'oauth2', token: after })).toMatchObject({ event: 'authorized', data: { userId: ivy.userId } });
    expect((await jwks()).map((key) => key.kid)).toEqual(expect.arrayContaining([kidOf(before), rotated.kid]));
    client.close();
  });

  it('`switchyard keys rotate` while the server runs: new tokens carry the CLI key, old ones still work', async () => {
    const ivy = users.ivy!;
    const before = await accessToken(ivy);
    const result = await runCli(['keys', 'rotate', '--data', server.dataDir, '--json']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const { kid, retired } = JSON.parse(result.stdout) as { kid: string; retired: string[] };
    expect(retired).toEqual([kidOf(before)]);

    const { client } = await connect(server);
    const appToken = ((await postApp(server, { app: 'chat', password: APP_PASSWORD })).body.response as { token: string }).token;
    expect(kidOf(appToken)).toBe(kid);
    const accepted = await ask(client, 'auth-request', appToken);
    expect(kidOf((accepted.data as { token: string }).token)).toBe(kid);
    expect(await ask(client, 'authorize', { method: 'oauth2', token: before })).toMatchObject({ event: 'authorized' });
    const keys = ((await (await fetch(server.url('/.well-known/jwks.json'))).json()) as { keys: { kid: string }[] }).keys;
    expect(keys.map((key) => key.kid)).toEqual(expect.arrayContaining([kid, kidOf(before)]));
    client.close();
  });

  it('IdentityService.disableUser closes every socket of the user with 4501 and its tokens stop working', async () => {
    const kim = users.kim!;
    const viaLogin = await connect(server);
    const loggedIn = await login(viaLogin.client, kim);
    expect(loggedIn).toMatchObject({ event: 'authorized' });
    const token = (loggedIn.data as { token: string }).token;
    const viaToken = await connect(server);
    expect(await ask(viaToken.client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
    const bystander = await connect(server);
    expect(await ask(bystander.client, 'authorize', { method: 'oauth2', token: await accessToken(users.lea!) })).toMatchObject({ event: 'authorized' });

    await server.gateway.identity.disableUser('kim', 'operator', 'left the company');
    expect(await viaLogin.client.waitClosed(30_000)).toEqual({ code: 4501, reason: 'user disabled' });
    expect(await viaToken.client.waitClosed(30_000)).toEqual({ code: 4501, reason: 'user disabled' });
    await stillServes(bystander.client);

    const fresh = await connect(server);
    expect(await ask(fresh.client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'unauthorized', data: TOKEN_NOT_VALID });
    expect(await ask(fresh.client, 'authenticate', { method: 'oauth2', token })).toMatchObject({ event: 'unauthorized', data: TOKEN_NOT_VALID });
    // The answer to a disabled user's right password is the wrong-password answer; the log says why.
    expect(await login(fresh.client, kim)).toMatchObject({ event: 'unauthorized', data: { code: 'UNAUTHORIZED', message: 'unknown user or wrong password' } });
    await stillServes(fresh.client);

    expect(server.events('UserDisabled', (event) => event.streamId === `user-${kim.userId}`).map((event) => event.data)).toEqual([
      { userId: kim.userId, by: 'operator', reason: 'left the company', disabledAt: server.clock.now() },
    ]);
    expect(server.events('LoginFailed', (event) => event.streamId === `session-${fresh.peerId}`).map((event) => event.data)).toEqual([
      { username: 'kim', reason: 'disabled', remoteAddress: '127.0.0.1' },
    ]);
    expect(server.events('TokenRefused', (event) => event.streamId === `session-${fresh.peerId}`)).toHaveLength(2);
    expect(server.events('ConnectionClosed', (event) => event.streamId === `connection-${viaLogin.peerId}`)[0]?.data).toMatchObject({ code: 4501 });
    bystander.client.close();
    fresh.client.close();
  });

  it('`switchyard users disable` while the server runs closes the user\'s sockets with 4501 and kills its tokens', async () => {
    const lea = users.lea!;
    const { client } = await connect(server);
    const loggedIn = await login(client, lea);
    expect(loggedIn).toMatchObject({ event: 'authorized' });
    const token = (loggedIn.data as { token: string }).token;
    const bystander = await connect(server);
    expect(await ask(bystander.client, 'authorize', { method: 'oauth2', token: await accessToken(users.jon!) })).toMatchObject({ event: 'authorized' });

    const result = await runCli(['users', 'disable', 'lea', '--data', server.dataDir, '--reason', 'offboarded']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    // The server learns of it from its log follower (it polls the log for other writers).
    expect(await client.waitClosed(30_000)).toEqual({ code: 4501, reason: 'user disabled' });
    await stillServes(bystander.client);

    const fresh = await connect(server);
    expect(await ask(fresh.client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'unauthorized', data: TOKEN_NOT_VALID });
    expect(server.events('UserDisabled', (event) => event.streamId === `user-${lea.userId}`)[0]).toMatchObject({
      data: { userId: lea.userId, by: 'operator', reason: 'offboarded' },
      metadata: { actor: 'operator' },
    });
    bystander.client.close();
    fresh.client.close();
  });

  it('forged tokens at the edge are refused and leave the socket anonymous', async () => {
    const jon = users.jon!;
    const genuine = await accessToken(jon);
    const { header, payload, signature } = split(genuine);
    const claims = decodeJson(payload);
    const tokens = server.gateway.identity.tokens;
    const now = server.clock.now();
    const forged: [string, unknown][] = [
      ['alg none', compactJws({ alg: 'none', typ: 'at+jwt' }, claims, { alg: 'none' })],
      ['tampered sub', `${header}.${json64({ ...claims, sub: users.ivy!.userId })}.${signature}`],
      ['signature cut', `${header}.${payload}.${signature.slice(0, -2)}`],
      ['refresh token as access', (await tokens.issue('refresh', { subject: jon.userId, ttlSeconds: 600, now })).token],
      ['session token as access', (await tokens.issue('session', { subject: jon.userId, ttlSeconds: 600, now })).token],
      ['expired', (await tokens.issue('access', { subject: jon.userId, ttlSeconds: 60, now: now - 3_600_000 })).token],
      ['user that does not exist', (await tokens.issue('access', { subject: 'no-such-user', ttlSeconds: 600, now })).token],
      ['no token', undefined],
    ];
    const { client, peerId } = await connect(server);
    for (const [name, token] of forged) {
      expect({ name, answer: await ask(client, 'authorize', { method: 'oauth2', token }) }).toMatchObject({ name, answer: { event: 'unauthorized', data: TOKEN_NOT_VALID } });
      expect({ name, answer: await ask(client, 'authenticate', { method: 'oauth2', token }) }).toMatchObject({ name, answer: { event: 'unauthorized', data: TOKEN_NOT_VALID } });
    }
    // Only refusals in the socket's session; and still anonymous: its logout logs nothing.
    await ask(client, 'logout');
    const trail = server.gateway.store.readStream(`session-${peerId}`);
    expect(trail).toHaveLength(forged.length * 2);
    expect(new Set(trail.map((event) => event.type))).toEqual(new Set(['TokenRefused']));
    expect(await ask(client, 'mfa', { code: '123456' })).toMatchObject({ event: 'unauthorized', data: { code: 'UNAUTHORIZED' } });
    // The genuine token still works on the same socket afterwards.
    expect(await ask(client, 'authorize', { method: 'oauth2', token: genuine })).toMatchObject({ event: 'authorized', data: { userId: jon.userId } });
    client.close();
  });
});

describe('authentication deadline, and /app when disabled', { timeout: 120_000 }, () => {
  let server: IdentityGateway;
  let user: TestUser;

  beforeAll(async () => {
    server = await startIdentityGateway({ authDeadlineSeconds: '1' });
    await server.gateway.identity.createOrganisation('acme', 'test');
    user = (await createUsers(server, 'acme', [{ username: 'max' }])).max!;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('POST /app answers 404 with how to enable it when no password is configured', async () => {
    const { status, body } = await postApp(server, { app: 'chat', password: 'anything-at-all' });
    expect(status).toBe(404);
    expect(body).toMatchObject({ status: 404, response: null });
    expect(body.error).toMatch(/SWITCHYARD_APP_PASSWORD/);
  });

  it('closes a socket that has not authenticated in time with 4401; authenticated ones stay', async () => {
    const identity = server.gateway.identity;
    const now = server.clock.now();
    // Opened first, so their deadlines pass before the anonymous socket's does.
    const asUser = await connect(server);
    const userToken = (await identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 600, now })).token;
    expect(await ask(asUser.client, 'authorize', { method: 'oauth2', token: userToken })).toMatchObject({ event: 'authorized' });
    const asOrganisation = await connect(server);
    const organisationId = identity.organisationFor(user.userId, null)!;
    const organisationToken = (await identity.tokens.issue('organisation', { subject: organisationId, ttlSeconds: 600, claims: { org: organisationId }, now })).token;
    expect(await ask(asOrganisation.client, 'authenticate', { method: 'oauth2', token: organisationToken })).toMatchObject({
      event: 'authenticated',
      data: { organisationId, authStatus: 'unauthorized' },
    });

    const anonymous = await connect(server);
    expect(await anonymous.client.waitClosed(30_000)).toEqual({ code: 4401, reason: 'not authenticated in time' });
    await stillServes(asUser.client);
    await stillServes(asOrganisation.client);
    expect(server.events('ConnectionClosed', (event) => event.streamId === `connection-${anonymous.peerId}`)[0]?.data).toMatchObject({ code: 4401 });
    asUser.client.close();
    asOrganisation.client.close();
  });
});
