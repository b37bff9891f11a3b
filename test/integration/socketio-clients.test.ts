import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/conditions.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectV2, connectV4, emitV2, emitWithAckV2, type V2Client, type V4Client } from '../helpers/socketio.js';

/**
 * PROTOCOL.md section 3 with the real clients: socket.io-client 4.x (Engine.IO v4) and 2.x
 * (Engine.IO v3, what Extream's SDK pins), WebSocket transport, against a real gateway.
 * Logins hash with scrypt: the bounds below are hang guards for a loaded machine.
 */

const LOGIN_TIMEOUT_MS = 120_000;

function closeAll(...clients: (V4Client | V2Client | undefined)[]): void {
  for (const client of clients) client?.socket.close();
}

describe('Socket.IO clients on /socket.io/', { timeout: 180_000 }, () => {
  let server: TestGateway;
  let appToken: string;
  let userToken: string;
  let userId: string;

  beforeAll(async () => {
    server = await startTestGateway({ loginAttemptsPerMinutePerUser: '1000', loginAttemptsPerMinutePerAddress: '10000' });
    const identity = server.gateway.identity;
    appToken = await identity.issueAppToken('demo');
    await identity.createOrganisation('acme', 'test');
    userId = await identity.addUser({ organisation: 'acme', username: 'ada', password: 'ada-correct-horse', groups: ['staff'], by: 'test' });
    // A user token as a browser gets it: `login` over a socket (here a 4.x one, with an ack).
    const client = await connectV4(server.port);
    const authorized = (await client.socket.timeout(LOGIN_TIMEOUT_MS).emitWithAck('login', { username: 'ada', password: 'ada-correct-horse' })) as {
      userId: string;
      token: string;
    };
    expect(authorized.userId).toBe(userId);
    userToken = authorized.token;
    // The event itself came too, beside the ack.
    expect((await client.log.next('authorized')).args[0]).toMatchObject({ userId, token: userToken });
    closeAll(client);
  }, LOGIN_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await server?.close();
  });

  describe('socket.io-client 4.x', () => {
    it('connects, its socket id is the peer_id, and the connection is in the log as socket.io', async () => {
      const client = await connectV4(server.port);
      const welcome = await client.log.next('welcome');
      expect(welcome.args[0]).toMatchObject({ peer_id: client.socket.id, protocol: 1 });
      const events = server.gateway.store.readStream(`connection-${client.socket.id}`);
      expect(events.map((event) => event.type)).toEqual(['ConnectionOpened']);
      expect(events[0]!.data).toMatchObject({ transport: 'socket.io' });
      closeAll(client);
    });

    it('ping -> pong: the answer comes as the event and as the ack', async () => {
      const client = await connectV4(server.port);
      const ack = (await client.socket.timeout(10_000).emitWithAck('ping')) as { ts: number };
      expect(typeof ack.ts).toBe('number');
      const pong = await client.log.next('pong');
      expect(pong.args).toEqual([ack]);
      closeAll(client);
    });

    it('an error answer is an ack too, and an `error` event', async () => {
      const client = await connectV4(server.port);
      const ack = await client.socket.timeout(10_000).emitWithAck('no-such-event', { x: 1 });
      expect(ack).toMatchObject({ code: 'UNKNOWN_EVENT' });
      expect((await client.log.next('error')).args[0]).toMatchObject({ code: 'UNKNOWN_EVENT' });
      closeAll(client);
    });

    it('authenticates with an app token in CONNECT auth, as auth-request would', async () => {
      const client = await connectV4(server.port, { auth: { token: appToken } });
      const accept = await client.log.next('auth-accept');
      const sessionToken = (accept.args[0] as { token: string }).token;
      expect(typeof sessionToken).toBe('string');
      // The session works like one made by auth-request: a room can be created with it.
      const created = await client.socket.timeout(10_000).emitWithAck('room-create-request', { auth: sessionToken });
      expect(created).toMatchObject({ room: expect.any(String) });
      expect(server.gateway.store.readStream(`session-${client.socket.id}`).map((event) => event.type)).toContain('AppSessionStarted');
      closeAll(client);
    });

    it('authenticates with a user token in the x-auth query parameter, as authorize would', async () => {
      const client = await connectV4(server.port, { query: { 'x-auth': userToken } });
      const authorized = await client.log.next('authorized');
      expect(authorized.args[0]).toMatchObject({ userId, groups: expect.arrayContaining(['staff']) });
      closeAll(client);
    });

    it('a bad token refuses the CONNECT (44) with connect_error, and the refusal is in the log', async () => {
      const refusal = await connectV4(server.port, { auth: { token: 'not.a.token' } }).then(
        () => undefined,
        (error: Error & { data?: unknown }) => error,
      );
      expect(refusal?.message).toBe('Token is not valid');
      expect(refusal?.data).toEqual({ code: 'UNAUTHORIZED' });
      const revoked = await connectV4(server.port, { query: { 'x-auth': `${userToken.slice(0, -4)}AAAA` } }).catch((error: Error) => error);
      expect(revoked).toBeInstanceOf(Error);
      const refused = server.gateway.store.readAll({ type: 'TokenRefused' });
      expect(refused.length).toBeGreaterThanOrEqual(2);
    });

    it('refuses namespaces that are not configured', async () => {
      const refusal = await connectV4(server.port, { namespace: '/admin' }).catch((error: Error) => error);
      expect(refusal).toMatchObject({ message: 'Invalid namespace' });
    });

    it('disconnect() leaves, the socket closes and the log has the close', async () => {
      const client = await connectV4(server.port);
      await client.log.next('welcome');
      const id = client.socket.id!;
      client.socket.disconnect();
      await until(() => server.gateway.store.readStream(`connection-${id}`).some((event) => event.type === 'ConnectionClosed'), 'close recorded');
    });

    it('a server close the client should not retry (45xx) arrives as DISCONNECT: "io server disconnect"', async () => {
      // A user of its own, with a token issued directly: disabling it touches no other test.
      const identity = server.gateway.identity;
      const beaId = await identity.addUser({ organisation: 'acme', username: 'bea', password: 'bea-correct-horse', groups: [], by: 'test' });
      const { token } = await identity.tokens.issue('access', { subject: beaId, ttlSeconds: 600, now: Date.now() });
      const client = await connectV4(server.port, { auth: { token } });
      await client.log.next('authorized');
      const reason = new Promise<string>((resolve) => client.socket.once('disconnect', (why) => resolve(why)));
      await identity.disableUser('bea', 'test', 'socket.io test');
      expect(await reason).toBe('io server disconnect');
    });
  });

  describe('socket.io-client 2.x', () => {
    it('connects without a CONNECT of its own; its socket id is the peer_id', async () => {
      const client = await connectV2(server.port);
      const welcome = await client.log.next('welcome');
      expect(welcome.args[0]).toMatchObject({ peer_id: client.socket.id });
      expect(server.gateway.store.readStream(`connection-${client.socket.id}`)[0]!.data).toMatchObject({ transport: 'socket.io' });
      closeAll(client);
    });

    it('ping -> pong as event and ack (2.x reserves the name `ping`: sent as a raw packet)', async () => {
      const client = await connectV2(server.port);
      const ack = (await emitWithAckV2(client.socket, 'ping')) as { ts: number };
      expect(typeof ack.ts).toBe('number');
      expect((await client.log.next('pong')).args).toEqual([ack]);
      closeAll(client);
    });

    it('acks ordinary events through the 2.x API', async () => {
      const client = await connectV2(server.port);
      const answer = await new Promise((resolve) => client.socket.emit('logout', null, resolve));
      expect(answer).toMatchObject({ message: 'logged out', code: 'UNAUTHORIZED' });
      closeAll(client);
    });

    it('authenticates with x-auth: an app token as auth-request, a user token as authorize', async () => {
      const app = await connectV2(server.port, { query: { 'x-auth': appToken } });
      expect((await app.log.next('auth-accept')).args[0]).toMatchObject({ token: expect.any(String) });
      const user = await connectV2(server.port, { query: { 'x-auth': userToken } });
      expect((await user.log.next('authorized')).args[0]).toMatchObject({ userId });
      closeAll(app, user);
    });

    it('a bad x-auth token is refused: the 2.x client gets `error` with the refusal and is not connected', async () => {
      const refusal = await connectV2(server.port, { query: { 'x-auth': 'garbage' } }).catch((error: Error & { data?: unknown }) => error);
      expect(refusal).toBeInstanceOf(Error);
      expect((refusal as { data?: unknown }).data).toEqual({ message: 'Token is not valid', data: { code: 'UNAUTHORIZED' } });
    });

    it('events without an ack get their answer as an event only', async () => {
      const client = await connectV2(server.port);
      emitV2(client.socket, 'auth-request', appToken);
      expect((await client.log.next('auth-accept')).args[0]).toMatchObject({ token: expect.any(String) });
      closeAll(client);
    });
  });

  describe('HTTP on /socket.io/ (long-polling: socketio-polling.test.ts)', () => {
    it('answers polling with a bad EIO or an unknown sid with 400, as the reference server does', async () => {
      const version = await fetch(server.url('/socket.io/?EIO=9&transport=polling'));
      expect(version.status).toBe(400);
      expect(await version.json()).toEqual({ code: 5, message: 'Unsupported protocol version' });
      const post = await fetch(server.url('/socket.io/?EIO=4&transport=polling&sid=abc'), { method: 'POST', body: '4hello' });
      expect(post.status).toBe(400);
      expect(await post.json()).toEqual({ code: 1, message: 'Session ID unknown' });
    });

    it('a 4.x client left on polling alone connects', async () => {
      const client = await connectV4(server.port, { transports: ['polling'] });
      expect((await client.log.next('welcome')).args[0]).toMatchObject({ peer_id: client.socket.id });
      closeAll(client);
    });

    it('refuses a WebSocket upgrade with a bad handshake query with 400', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=9&transport=websocket`);
        socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.once('open', () => reject(new Error('upgrade accepted')));
        socket.once('error', () => undefined);
      });
      expect(status).toBe(400);
    });
  });
});

describe('Socket.IO heartbeats and limits', { timeout: 60_000 }, () => {
  let server: TestGateway;

  beforeAll(async () => {
    // Short intervals so several pass quickly; a generous timeout so a loaded machine does not drop anyone.
    server = await startTestGateway({
      socketIoPingIntervalMs: '100',
      socketIoPingTimeoutMs: '5000',
      socketIoMaxPayloadBytes: '4096',
      badFrameLimit: '3',
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('keeps a 4.x and a 2.x client alive past several ping intervals, pinging in each version\'s direction', async () => {
    const v4 = await connectV4(server.port);
    const v2 = await connectV2(server.port);
    let v4Pings = 0;
    let v2Pongs = 0;
    // 4.x: the server pings, the client answers (its manager emits `ping`).
    v4.socket.io.on('ping', () => {
      v4Pings += 1;
      v4.log.wake();
    });
    // 2.x: the client pings every pingInterval (from the open packet), the server answers.
    v2.socket.io.on('pong', () => {
      v2Pongs += 1;
      v2.log.wake();
    });
    await v4.log.until(() => v4Pings >= 6, 'six server pings to the 4.x client');
    await v2.log.until(() => v2Pongs >= 6, 'six server pongs to the 2.x client');
    expect(v4.socket.connected).toBe(true);
    expect(v2.socket.connected).toBe(true);
    // Still answering events after all those intervals.
    expect(await v4.socket.timeout(10_000).emitWithAck('ping')).toMatchObject({ ts: expect.any(Number) });
    expect(await emitWithAckV2(v2.socket, 'ping')).toMatchObject({ ts: expect.any(Number) });
    closeAll(v4, v2);
  });

  it('closes a v4 socket that does not answer pings (4408) and a v3 socket that does not ping', async () => {
    const quiet = await startTestGateway({ socketIoPingIntervalMs: '100', socketIoPingTimeoutMs: '100' });
    try {
      for (const version of [4, 3]) {
        const closed = await new Promise<number>((resolve) => {
          const socket = new WebSocket(`ws://127.0.0.1:${quiet.port}/socket.io/?EIO=${version}&transport=websocket`);
          // A raw client that neither answers pings nor sends any: the server must give up.
          socket.once('close', (code) => resolve(code));
        });
        expect(closed, `EIO=${version}`).toBe(4408);
      }
    } finally {
      await quiet.close();
    }
  });

  it('counts bad packets like bad frames: `error` events, then close 4400 at the limit', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    const messages: string[] = [];
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.on('message', (data) => messages.push(data.toString()));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('40');
    socket.send('42{}');
    socket.send('4abc');
    socket.send('abc');
    expect(await closed).toBe(4400);
    expect(messages.filter((message) => message.startsWith('42["error",{"code":"BAD_REQUEST"')).length).toBe(3);
  });

  it('closes with 1009 a message over socketIoMaxPayloadBytes', async () => {
    const client = await connectV4(server.port);
    const reason = new Promise<string>((resolve) => client.socket.once('disconnect', (why) => resolve(why)));
    client.socket.emit('ping', 'x'.repeat(5000));
    expect(await reason).toBe('transport close');
  });
});
