import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOperatorContext } from '../../src/cli/context.js';
import { loadConfig } from '../../src/app/config.js';
import { MFA_PROMPT } from '../../src/modules/identity/topics.js';
import { runCli } from '../helpers/child-gateway.js';
import { ask, connect, createUsers, login, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import type { Frame } from '../helpers/ws-client.js';

/**
 * PROTOCOL.md section 4 over real sockets: the Extream login -> mfa -> authorized flow, the
 * token it hands out used on a fresh socket, TOTP replay and skew, parallel submissions of
 * one code, the MFA lock and its unlock, login rate limits; and the audit trail each step
 * leaves in the log. The gateway's clock is steered (see helpers/identity.ts), so every TOTP
 * step and rate-limit window is one the test chose.
 */

const codeAt = (user: TestUser, server: IdentityGateway, offsetSeconds = 0): Promise<string> =>
  generate({ secret: user.secret!, epoch: server.clock.epochSeconds + offsetSeconds });

/** A six-digit code that is no valid code anywhere in the accepted window (±1 step). */
async function wrongCode(user: TestUser, server: IdentityGateway): Promise<string> {
  const window = await Promise.all([-30, 0, 30].map((offset) => codeAt(user, server, offset)));
  for (let candidate = 0; ; candidate++) {
    const code = String((123_456 + candidate * 7919) % 1_000_000).padStart(6, '0');
    if (!window.includes(code)) return code;
  }
}

const sessionStream = (peerId: string) => `session-${peerId}`;

// Logins are scrypt at N=2^17: ~0.3 s on a quiet core, ten times that on a loaded shared machine.
// The timeouts are hang guards sized for the latter; nothing here asserts how long anything took.
describe('login, MFA and tokens', { timeout: 240_000 }, () => {
  let server: IdentityGateway;
  let organisationId: string;
  let users: Record<string, TestUser>;

  beforeAll(async () => {
    // Generous login limits here: the rate-limit tests below run on a gateway of their own. No
    // authentication deadline: ten scrypt logins on a loaded machine can outlast the default
    // 30 s, and sockets waiting in mfa-pending would be closed (the deadline has its own test).
    server = await startIdentityGateway({
      loginAttemptsPerMinutePerUser: '1000',
      loginAttemptsPerMinutePerAddress: '10000',
      authDeadlineSeconds: '0',
    });
    organisationId = await server.gateway.identity.createOrganisation('acme', 'test');
    users = await createUsers(server, 'acme', [
      { username: 'ada', mfa: true, groups: ['staff'] },
      { username: 'bob' },
      { username: 'cleo', mfa: true },
      { username: 'dan', mfa: true },
      { username: 'eve', mfa: true },
      { username: 'fay', mfa: true },
      { username: 'gil', mfa: true },
    ]);
  }, 240_000);
  afterAll(async () => {
    await server?.close();
  });

  it('the Extream flow: login -> mfa -> authorized, then the token authenticates and authorizes a fresh socket', async () => {
    server.clock.nextTotpSteps();
    const ada = users.ada!;
    const first = await connect(server);
    const challenge = await login(first.client, ada);
    expect(challenge.event).toBe('mfa');
    expect(challenge.data).toEqual(MFA_PROMPT);

    const authorized = await ask(first.client, 'mfa', { code: await codeAt(ada, server) });
    expect(authorized.event).toBe('authorized');
    const { userId, groups, token } = authorized.data as { userId: string; groups: string[]; token: string };
    expect(userId).toBe(ada.userId);
    expect(groups).toEqual(['members', 'staff']);
    expect(token.split('.')).toHaveLength(3);

    const fresh = await connect(server);
    const authenticated = await ask(fresh.client, 'authenticate', { method: 'oauth2', token });
    expect(authenticated).toMatchObject({ event: 'authenticated', data: { organisationId, authStatus: 'authorized' } });
    const reauthorized = await ask(fresh.client, 'authorize', { method: 'oauth2', token });
    expect(reauthorized).toMatchObject({ event: 'authorized', data: { userId: ada.userId, groups: ['members', 'staff'], organisationId } });

    // The audit trail of the first socket, in order, and of the second.
    const trail = server.gateway.store.readStream(sessionStream(first.peerId));
    expect(trail.map((event) => event.type)).toEqual(['LoginSucceeded', 'MfaChallenged', 'MfaPassed', 'SessionAuthorized', 'TokenIssued']);
    expect(trail[0]!.data).toEqual({ userId: ada.userId, username: 'ada', mfaRequired: true, remoteAddress: '127.0.0.1' });
    expect(trail[3]!.data).toMatchObject({ userId: ada.userId, organisationId, method: 'mfa', remoteAddress: '127.0.0.1' });
    expect(trail[4]!.data).toMatchObject({ kind: 'access', subject: ada.userId });
    expect(trail.every((event) => event.metadata.actor === `connection:${first.peerId}`)).toBe(true);
    const accepted = server.events('MfaCodeAccepted', (event) => event.streamId === `user-${ada.userId}`);
    expect(accepted.at(-1)!.data).toMatchObject({ connectionId: first.peerId, remoteAddress: '127.0.0.1' });
    expect(server.gateway.store.readStream(sessionStream(fresh.peerId)).map((event) => [event.type, (event.data as { method?: string }).method])).toEqual([
      ['SessionAuthorized', 'token'],
      ['SessionAuthorized', 'token'],
    ]);
    first.client.close();
    fresh.client.close();
  });

  it('login without MFA authorizes at once and the token works elsewhere', async () => {
    const bob = users.bob!;
    const { client, peerId } = await connect(server);
    const answer = await login(client, bob);
    expect(answer).toMatchObject({ event: 'authorized', data: { userId: bob.userId, groups: ['members'] } });
    const token = (answer.data as { token: string }).token;
    expect(server.gateway.store.readStream(sessionStream(peerId)).map((event) => event.type)).toEqual(['LoginSucceeded', 'SessionAuthorized', 'TokenIssued']);

    const other = await connect(server);
    expect(await ask(other.client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized', data: { userId: bob.userId } });
    client.close();
    other.client.close();
  });

  it('a wrong password and an unknown user both get the same unauthorized answer, and are in the log', async () => {
    const { client, peerId } = await connect(server);
    const wrong = await login(client, { username: 'bob', password: 'not-bobs-password' });
    const unknown = await login(client, { username: 'nobody-here', password: 'whatever-password' });
    for (const answer of [wrong, unknown]) {
      expect(answer).toMatchObject({ event: 'unauthorized', data: { code: 'UNAUTHORIZED', message: 'unknown user or wrong password' } });
    }
    expect(wrong.data).toEqual(unknown.data);
    expect(server.gateway.store.readStream(sessionStream(peerId)).map((event) => event.data)).toEqual([
      { username: 'bob', reason: 'unknown_user_or_password', remoteAddress: '127.0.0.1' },
      { username: 'nobody-here', reason: 'unknown_user_or_password', remoteAddress: '127.0.0.1' },
    ]);
    expect(server.events('LoginFailed', (event) => event.streamId === sessionStream(peerId))).toHaveLength(2);
    // Still anonymous: a token-less request that needs a user is refused.
    expect(await ask(client, 'mfa', { code: '123456' })).toMatchObject({ event: 'unauthorized', data: { code: 'UNAUTHORIZED' } });
    client.close();
  });

  it('a TOTP code works once: the same code on a second login is refused', async () => {
    server.clock.nextTotpSteps();
    const ada = users.ada!;
    const code = await codeAt(ada, server);
    const first = await connect(server);
    expect(await login(first.client, ada)).toMatchObject({ event: 'mfa' });
    expect(await ask(first.client, 'mfa', { code })).toMatchObject({ event: 'authorized' });

    const second = await connect(server);
    expect(await login(second.client, ada)).toMatchObject({ event: 'mfa' });
    expect(await ask(second.client, 'mfa', { code })).toMatchObject({
      event: 'unauthorized',
      data: { code: 'UNAUTHORIZED', message: 'invalid or already used code' },
    });
    expect(server.gateway.store.readStream(sessionStream(second.peerId)).map((event) => event.type)).toEqual([
      'LoginSucceeded',
      'MfaChallenged',
      'MfaFailed',
    ]);
    // The refused socket is still waiting for a code, and a newer one passes.
    server.clock.advance(30_000);
    expect(await ask(second.client, 'mfa', { code: await codeAt(ada, server) })).toMatchObject({ event: 'authorized' });
    first.client.close();
    second.client.close();
  });

  it('ten parallel submissions of one code on ten sockets give exactly one success', async () => {
    server.clock.nextTotpSteps();
    const cleo = users.cleo!;
    const sockets = [];
    // Logins four at a time: each takes one of the four scrypt slots.
    for (let batch = 0; batch < 10; batch += 4) {
      const opened = await Promise.all(Array.from({ length: Math.min(4, 10 - batch) }, () => connect(server)));
      const answers = await Promise.all(opened.map(({ client }) => login(client, cleo)));
      expect(answers.map((answer) => answer.event)).toEqual(opened.map(() => 'mfa'));
      sockets.push(...opened);
    }
    const code = await codeAt(cleo, server);
    const ids = sockets.map((_, index) => 1000 + index);
    for (const [index, { client }] of sockets.entries()) client.sendJson({ event: 'mfa', data: { code }, id: ids[index] });
    const answers: Frame[] = await Promise.all(sockets.map(({ client }, index) => client.next((frame) => frame.id === ids[index], 120_000)));
    expect(answers.filter((answer) => answer.event === 'authorized')).toHaveLength(1);
    expect(answers.filter((answer) => answer.event === 'unauthorized')).toHaveLength(9);

    const userStream = `user-${cleo.userId}`;
    expect(server.events('MfaCodeAccepted', (event) => event.streamId === userStream)).toHaveLength(1);
    expect(server.events('MfaCodeRejected', (event) => event.streamId === userStream)).toHaveLength(9);
    const peers = new Set(sockets.map(({ peerId }) => sessionStream(peerId)));
    expect(server.events('MfaPassed', (event) => peers.has(event.streamId))).toHaveLength(1);
    expect(server.events('MfaFailed', (event) => peers.has(event.streamId))).toHaveLength(9);
    expect(server.events('TokenIssued', (event) => peers.has(event.streamId))).toHaveLength(1);
    for (const { client } of sockets) client.close();
  });

  it('accepts one step of clock skew either way, refuses two', async () => {
    server.clock.nextTotpSteps();
    const dan = users.dan!;
    const { client, peerId } = await connect(server);
    expect(await login(client, dan)).toMatchObject({ event: 'mfa' });
    // Refusals first: an accepted code would make older steps replays, whatever their skew.
    expect(await ask(client, 'mfa', { code: await codeAt(dan, server, -60) })).toMatchObject({ event: 'unauthorized' });
    expect(await ask(client, 'mfa', { code: await codeAt(dan, server, 60) })).toMatchObject({ event: 'unauthorized' });
    expect(await ask(client, 'mfa', { code: await codeAt(dan, server, -30) })).toMatchObject({ event: 'authorized' });

    server.clock.nextTotpSteps();
    const ahead = await connect(server);
    expect(await login(ahead.client, dan)).toMatchObject({ event: 'mfa' });
    expect(await ask(ahead.client, 'mfa', { code: await codeAt(dan, server, 30) })).toMatchObject({ event: 'authorized' });
    expect(server.gateway.store.readStream(sessionStream(peerId)).map((event) => event.type)).toEqual([
      'LoginSucceeded',
      'MfaChallenged',
      'MfaFailed',
      'MfaFailed',
      'MfaPassed',
      'SessionAuthorized',
      'TokenIssued',
    ]);
    client.close();
    ahead.client.close();
  });

  it('10 consecutive wrong codes lock MFA (FORBIDDEN, even for the right code) until IdentityService.unlockMfa', async () => {
    server.clock.nextTotpSteps();
    const eve = users.eve!;
    const { client, peerId } = await connect(server);
    expect(await login(client, eve)).toMatchObject({ event: 'mfa' });
    const wrong = await wrongCode(eve, server);
    for (let attempt = 1; attempt <= 10; attempt++) {
      expect(await ask(client, 'mfa', { code: wrong })).toMatchObject({ event: 'unauthorized', data: { code: 'UNAUTHORIZED' } });
    }
    const locked = await ask(client, 'mfa', { code: await codeAt(eve, server) });
    expect(locked).toMatchObject({ event: 'unauthorized', data: { code: 'FORBIDDEN', message: 'MFA is locked after too many wrong codes' } });

    const userStream = `user-${eve.userId}`;
    expect(server.events('MfaLocked', (event) => event.streamId === userStream)).toHaveLength(1);
    expect(server.events('MfaLocked', (event) => event.streamId === userStream)[0]!.data).toMatchObject({
      consecutiveFailures: 10,
      until: server.clock.now() + 900_000,
    });
    const failures = server.events<{ reason: string }>('MfaFailed', (event) => event.streamId === sessionStream(peerId));
    expect(failures.map((event) => event.data.reason)).toEqual([...Array<string>(10).fill('invalid'), 'locked']);
    expect(server.events<{ reason: string }>('MfaCodeRejected', (event) => event.streamId === userStream).map((event) => event.data.reason)).toEqual([
      ...Array<string>(10).fill('invalid'),
      'locked',
    ]);

    await server.gateway.identity.unlockMfa('eve', 'operator');
    expect(server.events('MfaUnlocked', (event) => event.streamId === userStream)).toHaveLength(1);
    expect(await ask(client, 'mfa', { code: await codeAt(eve, server) })).toMatchObject({ event: 'authorized' });
    client.close();
  });

  it('the lock runs out after mfaLockSeconds, and a lock that ran out does not stop the next lock', async () => {
    server.clock.nextTotpSteps();
    const fay = users.fay!;
    const { client } = await connect(server);
    expect(await login(client, fay)).toMatchObject({ event: 'mfa' });
    const failTen = async () => {
      const wrong = await wrongCode(fay, server);
      for (let attempt = 1; attempt <= 10; attempt++) await ask(client, 'mfa', { code: wrong });
    };
    await failTen();
    expect((await ask(client, 'mfa', { code: await codeAt(fay, server) })).data).toMatchObject({ code: 'FORBIDDEN' });
    server.clock.advance(900_000);
    server.clock.nextTotpSteps();
    await failTen();
    expect((await ask(client, 'mfa', { code: await codeAt(fay, server) })).data).toMatchObject({ code: 'FORBIDDEN' });
    expect(server.events('MfaLocked', (event) => event.streamId === `user-${fay.userId}`)).toHaveLength(2);
    client.close();
  });

  it('`switchyard users mfa unlock` lifts a lock while the server runs', async () => {
    server.clock.nextTotpSteps();
    const eve = users.eve!;
    const { client } = await connect(server);
    expect(await login(client, eve)).toMatchObject({ event: 'mfa' });
    const wrong = await wrongCode(eve, server);
    for (let attempt = 1; attempt <= 10; attempt++) await ask(client, 'mfa', { code: wrong });
    expect((await ask(client, 'mfa', { code: await codeAt(eve, server) })).data).toMatchObject({ code: 'FORBIDDEN' });

    const result = await runCli(['users', 'mfa', 'unlock', 'eve', '--data', server.dataDir]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain('MFA unlocked for eve');
    // No wait for the server to notice: the code is checked against the log's latest word.
    expect(await ask(client, 'mfa', { code: await codeAt(eve, server) })).toMatchObject({ event: 'authorized' });
    expect(server.events('MfaUnlocked', (event) => event.streamId === `user-${eve.userId}` && event.metadata.actor === 'operator')).toHaveLength(2);
    client.close();
  });
  it('the right code right after an unlock the server has not seen yet passes (and is not counted as a failure)', async () => {
    server.clock.nextTotpSteps();
    const gil = users.gil!;
    const { client } = await connect(server);
    expect(await login(client, gil)).toMatchObject({ event: 'mfa' });
    const wrong = await wrongCode(gil, server);
    for (let attempt = 1; attempt <= 10; attempt++) await ask(client, 'mfa', { code: wrong });
    // What the CLI does, in this process: its own store and actors on the same database. The
    // server learns of the unlock only from its log follower's next poll.
    const operator = openOperatorContext(loadConfig({ flags: { data: server.dataDir }, env: {} }));
    try {
      await operator.identity.unlockMfa('gil', 'operator');
    } finally {
      await operator.close();
    }
    expect(await ask(client, 'mfa', { code: await codeAt(gil, server) })).toMatchObject({ event: 'authorized' });
    const rejected = server.events<{ reason: string }>('MfaCodeRejected', (event) => event.streamId === `user-${gil.userId}`);
    expect(rejected).toHaveLength(10);
  });
});

describe('login rate limits', { timeout: 240_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;

  beforeAll(async () => {
    server = await startIdentityGateway({ loginAttemptsPerMinutePerUser: '3', loginAttemptsPerMinutePerAddress: '5', authDeadlineSeconds: '0' });
    await server.gateway.identity.createOrganisation('acme', 'test');
    users = await createUsers(server, 'acme', [{ username: 'gus' }, { username: 'hal' }]);
  }, 240_000);
  afterAll(async () => {
    await server?.close();
  });

  it('per username, then per address; refusals are logged and a minute later logins work again', async () => {
    const { client, peerId } = await connect(server);
    const gus = users.gus!;
    // Three attempts for gus (address: 3 of 5 used).
    for (let attempt = 0; attempt < 3; attempt++) expect((await login(client, { ...gus, password: 'wrong-password' })).data).toMatchObject({ code: 'UNAUTHORIZED' });
    // The 4th for gus is refused before any password check, right password or not (address: 4 of 5).
    expect(await login(client, gus)).toMatchObject({ event: 'unauthorized', data: { code: 'RATE_LIMITED' } });
    // Another user from the same address: the 5th attempt of the address passes, the 6th does not.
    expect(await login(client, users.hal!)).toMatchObject({ event: 'authorized' });
    expect(await login(client, users.hal!)).toMatchObject({ event: 'unauthorized', data: { code: 'RATE_LIMITED' } });

    const failed = server.events<{ username: string; reason: string; remoteAddress: string }>('LoginFailed', (event) => event.streamId === sessionStream(peerId));
    expect(failed.map((event) => [event.data.username, event.data.reason, event.data.remoteAddress])).toEqual([
      ['gus', 'unknown_user_or_password', '127.0.0.1'],
      ['gus', 'unknown_user_or_password', '127.0.0.1'],
      ['gus', 'unknown_user_or_password', '127.0.0.1'],
      ['gus', 'rate_limited', '127.0.0.1'],
      ['hal', 'rate_limited', '127.0.0.1'],
    ]);

    server.clock.advance(60_000);
    expect(await login(client, gus)).toMatchObject({ event: 'authorized' });
    client.close();
  });
});
