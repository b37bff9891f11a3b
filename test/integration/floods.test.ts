import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/conditions.js';
import { ask, connect, createUsers, startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Issue 16, points 2, 4 and 8: what anonymous clients can make the gateway do is bounded.
 * Limits are set low through config so each bound shows on a handful of frames; every
 * assertion is on answers and the log, none on timings.
 */

/** Waits for a condition that needs real time to hold (scrypt checks of the login frames): polls, asserts nothing about how long. */
async function eventually(condition: () => boolean, description: string, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition never held: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const FLOODERS = 5;
const FRAMES_PER_FLOODER = 4_000; // 20,000 frames in all
const REFUSAL_BUDGET = 5;

/** A bad frame of each sign-in topic, in turn. */
function floodFrame(index: number): unknown {
  switch (index % 4) {
    case 0:
      return { event: 'authorize', data: { method: 'oauth2', token: `bad.${index}.token` }, id: index + 1 };
    case 1:
      return { event: 'authenticate', data: { method: 'oauth2', token: `bad.${index}.token` }, id: index + 1 };
    case 2:
      return { event: 'auth-request', data: { token: `bad.${index}.token` }, id: index + 1 };
    default:
      return { event: 'login', data: { username: 'nobody', password: `guess-${index}` }, id: index + 1 };
  }
}

describe('an anonymous sign-in flood', () => {
  let server: IdentityGateway;

  beforeAll(async () => {
    // No window ends during the test (the test flushes it): the log's bound is then exact.
    server = await startIdentityGateway({ refusalEventsPerWindow: String(REFUSAL_BUDGET), refusalWindowSeconds: '3600' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is refused at once past the in-flight cap, closes the flooders with 4400, grows the log by a bound, and a control client is served throughout', async () => {
    const { identity } = server.gateway;
    const organisation = await identity.createOrganisation('floodco', 'test');
    const users = await createUsers(server, organisation, [{ username: 'ctl' }]);
    const ctl = users.ctl!;
    const token = (await identity.tokens.issue('access', { subject: ctl.userId, ttlSeconds: 3600, now: server.clock.now() })).token;

    const control = await connect(server);
    const flooders = await Promise.all(Array.from({ length: FLOODERS }, () => connect(server)));
    const before = server.gateway.store.readAll().length;
    // The storm limits (defaults) do not stand in the way of six sockets.
    expect(server.gateway.connections.admission('127.0.0.1', server.clock.now())).toBeUndefined();

    // The work in flight, sampled whenever a flooder hears back.
    let maxInFlight = 0;
    for (const { client } of flooders) client.socket.on('message', () => (maxInFlight = Math.max(maxInFlight, identity.signIns.inFlight)));

    for (const { client } of flooders) for (let index = 0; index < FRAMES_PER_FLOODER; index++) client.sendJson(floodFrame(index));
    // Served during the flood.
    expect(await ask(control.client, 'ping')).toMatchObject({ event: 'pong' });
    expect(await ask(control.client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized', data: { userId: ctl.userId } });

    for (const { client } of flooders) expect(await client.waitClosed(60_000)).toEqual({ code: 4400, reason: 'too many bad frames' });
    await eventually(() => identity.signIns.inFlight === 0, 'sign-ins in flight to finish');
    maxInFlight = Math.max(maxInFlight, identity.signIns.inFlight);
    // Each flooder holds at most its cap (default 4) of work at once.
    expect(maxInFlight).toBeLessThanOrEqual(FLOODERS * 4);

    // Refused at once with RATE_LIMITED past the cap: most frames never got to any work.
    const answers = flooders.flatMap(({ client }) => client.frames.filter((frame) => frame.event === 'unauthorized' || frame.event === 'auth-reject'));
    expect(answers.some((frame) => (frame.data as { code?: string }).code === 'RATE_LIMITED')).toBe(true);

    // Still served after it.
    expect(await ask(control.client, 'ping')).toMatchObject({ event: 'pong' });

    await identity.refusals.flush();
    await eventually(() => server.gateway.store.readAll({ type: 'ConnectionClosed' }).length >= FLOODERS, 'the flooders closes to be logged');
    const added = server.gateway.store.readAll().slice(before);
    const types = added.map((event) => event.type);
    // The bound: the control's sign-in, each flooder's close, the refusals logged one by one
    // (the address's budget for the window) and one summary of the rest.
    const individual = types.filter((type) => type === 'TokenRefused' || type === 'LoginFailed').length;
    expect(individual).toBe(REFUSAL_BUDGET);
    expect(types.filter((type) => type === 'RefusalsSummarised')).toHaveLength(1);
    expect(added.length).toBeLessThanOrEqual(1 + FLOODERS + REFUSAL_BUDGET + 1);
    const summary = added.find((event) => event.type === 'RefusalsSummarised')!.data as {
      remoteAddress: string;
      count: number;
      kinds: Record<string, number>;
      reasons: Record<string, number>;
      connections: number;
      firstAt: number;
      lastAt: number;
    };
    expect(summary).toMatchObject({ remoteAddress: '127.0.0.1', firstAt: server.clock.now(), lastAt: server.clock.now() });
    expect(summary.count).toBeGreaterThan(0);
    expect(summary.connections).toBeGreaterThan(0);
    expect(Object.values(summary.kinds).reduce((sum, count) => sum + count, 0)).toBe(summary.count);
    control.client.close();
  }, 120_000);
});

describe('connection storms from one address', () => {
  let server: IdentityGateway;

  beforeAll(async () => {
    server = await startIdentityGateway({ maxConnectionsPerAddress: '3', connectionsPerSecondPerAddress: '1' });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Refused at the upgrade (HTTP 429), before a socket or a log event exists. */
  async function refused(): Promise<void> {
    await expect(TestClient.open(server.wsUrl())).rejects.toThrow('HTTP 429');
  }

  it('refuses past the concurrent and per-second limits of the address, logs nothing for them, and another address is unaffected', async () => {
    const opened = () => server.gateway.store.readAll({ type: 'ConnectionOpened' }).length;
    const start = opened();
    const open = [await connect(server), await connect(server), await connect(server)];
    await refused();
    expect(server.gateway.connections.admission('127.0.0.1', server.clock.now())).toMatchObject({ code: 'RATE_LIMITED' });
    expect(server.gateway.connections.admission('192.0.2.7', server.clock.now())).toBeUndefined();

    // A slot frees: admitted again (4 of the 5 s burst at 1/s now spent).
    open[0]!.client.close();
    await until(() => server.gateway.connections.size === 2, 'the close to be seen');
    open[0] = await connect(server);
    // The fifth of the burst, then the rate refuses even with slots free.
    open[1]!.client.close();
    open[2]!.client.close();
    await until(() => server.gateway.connections.size === 1, 'the closes to be seen');
    open[1] = await connect(server);
    await refused();
    expect(server.gateway.connections.admission('192.0.2.7', server.clock.now())).toBeUndefined();
    expect(opened() - start).toBe(5);

    // A second later one more token.
    server.clock.advance(1000);
    open[2] = await connect(server);
    expect(opened() - start).toBe(6);
    for (const { client } of open) client.close();
  });
});

/** A WebSocket upgrade by hand, for the refusal's status, retry-after and body (ws keeps only the status). */
function refusedUpgrade(port: number): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/ws',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
    });
    req.on('error', reject);
    req.on('upgrade', (_response, socket) => {
      socket.destroy();
      reject(new Error('the upgrade was accepted'));
    });
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string | undefined, body: Buffer.concat(chunks).toString() }));
    });
    req.end();
  });
}

describe('the gateway at its most sockets at once (maxConnections)', () => {
  let server: IdentityGateway;

  beforeAll(async () => {
    server = await startIdentityGateway({ maxConnections: '3', maxConnectionsPerAddress: '0', connectionsPerSecondPerAddress: '0' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses the upgrade past it with 503 UNAVAILABLE and retry-after, from every address, and admits again once a socket closes', async () => {
    const opened = () => server.gateway.store.readAll({ type: 'ConnectionOpened' }).length;
    const start = opened();
    const open = [await connect(server), await connect(server), await connect(server)];
    const refusal = await refusedUpgrade(server.port);
    expect(refusal.status).toBe(503);
    expect(Number(refusal.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refusal.body)).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    // Not an address's limit: every address is refused alike.
    expect(server.gateway.connections.admission('192.0.2.7', server.clock.now())).toMatchObject({ code: 'UNAVAILABLE' });
    expect(opened() - start).toBe(3);

    open[0]!.client.close();
    await until(() => server.gateway.connections.size === 2, 'the close to be seen');
    open[0] = await connect(server);
    expect(opened() - start).toBe(4);
    for (const { client } of open) client.close();
  });
});

describe('shared-secret guesses', () => {
  let server: TestGateway;
  const APP_PASSWORD = 'app-password-0123456789';

  beforeAll(async () => {
    server = await startTestGateway({
      appPassword: APP_PASSWORD,
      appPasswordAttemptsPerMinutePerAddress: '3',
      clientSecretAttemptsPerMinutePerClient: '3',
      clientSecretAttemptsPerMinutePerAddress: '100',
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const postApp = (password: string) =>
    fetch(server.url('/app'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ app: 'chat', password }) });

  it('POST /app: wrong passwords past the limit get 429 RATE_LIMITED with retry-after, the right one too', async () => {
    for (let attempt = 0; attempt < 3; attempt++) expect((await postApp(`wrong-${attempt}`)).status).toBe(401);
    for (const password of ['wrong-again', APP_PASSWORD]) {
      const response = await postApp(password);
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await response.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    }
  });

  it('OAuth2 client secrets: wrong secrets past the limit of the client get 429 slow_down with retry-after', async () => {
    const { identity } = server.gateway;
    await identity.createOrganisation('guessco', 'test');
    const registered = await identity.registerClient({ organisation: 'guessco', name: 'Backend', redirectUris: [], public: false, by: 'operator' });
    const token = (secret: string) =>
      fetch(server.url('/auth/oauth2/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: registered.clientId, client_secret: secret }),
      });
    // The right secret spends nothing.
    expect((await token(registered.clientSecret!)).status).toBe(200);
    for (let attempt = 0; attempt < 3; attempt++) expect((await token(`wrong-${attempt}`)).status).toBe(401);
    for (const secret of ['wrong-again', registered.clientSecret!]) {
      const response = await token(secret);
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await response.json()).toMatchObject({ error: 'slow_down' });
    }
  });
});
