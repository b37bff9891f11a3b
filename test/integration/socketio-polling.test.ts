import WebSocket from 'ws';
import { io as ioV4, type Socket as V4Socket } from 'socket.io-client';
import ioV2, { type V2Socket } from 'socket.io-client-v2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientConnection, type SocketSink } from '../../src/edge/connection.js';
import { EngineSocket } from '../../src/edge/socketio/engineio-socket.js';
import type { EngineVersion } from '../../src/protocol/engineio.js';
import { startSocketIoFixture, type SocketIoFixture } from '../fixtures/socketio-fixture.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/conditions.js';
import { RawEngineSocket } from '../helpers/raw-engineio.js';
import { EventLog, emitV2, emitWithAckV2 } from '../helpers/socketio.js';

/**
 * PROTOCOL.md section 3, Engine.IO HTTP long-polling: real socket.io clients with their
 * default options (polling, then the upgrade to websocket) and with polling alone, the raw
 * requests of the reference server's bad-input cases, the protocol fixture's polling (what
 * the official suites exercise), and the heartbeat timers of both transports. Waits are on
 * conditions; the bounds are hang guards.
 */

type Client<S> = { socket: S; log: EventLog };

function v4(port: number, options: { transports?: string[]; auth?: Record<string, unknown> } = {}): Promise<Client<V4Socket>> {
  const socket = ioV4(`http://127.0.0.1:${port}`, { reconnection: false, forceNew: true, ...options });
  const log = new EventLog();
  socket.onAny((event: string, ...args: unknown[]) => log.push(event, args));
  socket.on('disconnect', () => log.wake());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.io.engine.on('upgrade', () => log.wake());
      resolve({ socket, log });
    });
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

const v2Transport = (socket: V2Socket): string => socket.io.engine.transport.name;

function v2(port: number, options: { transports?: string[]; query?: Record<string, string> } = {}): Promise<Client<V2Socket>> {
  const socket = ioV2(`http://127.0.0.1:${port}`, { reconnection: false, forceNew: true, ...options });
  const log = new EventLog();
  const onevent = socket.onevent.bind(socket);
  socket.onevent = (packet) => {
    const [event, ...args] = (packet.data ?? []) as [string, ...unknown[]];
    log.push(event, args);
    onevent(packet);
  };
  socket.on('disconnect', () => log.wake());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.io.on('packet', () => log.wake());
      resolve({ socket, log });
    });
    socket.once('connect_error', (error: unknown) => {
      socket.close();
      reject(error);
    });
  });
}

/** Engine.IO v4 payload packets of a GET answer. */
const packetsV4 = (body: string): string[] => body.split('\x1e');

describe('Engine.IO long-polling on /socket.io/', { timeout: 120_000 }, () => {
  let server: TestGateway;
  let token: string;

  const get = (query: string, headers: Record<string, string> = {}) => fetch(server.url(`/socket.io/?${query}`), { headers });
  const post = (query: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    fetch(server.url(`/socket.io/?${query}`), { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers } });

  /** A raw v4 polling session: its sid, the OPEN packet read. */
  async function openV4(): Promise<string> {
    const response = await get('EIO=4&transport=polling');
    expect(response.status).toBe(200);
    const [open] = packetsV4(await response.text());
    const fields = JSON.parse(open!.slice(1)) as { sid: string; upgrades: string[] };
    expect(fields.upgrades).toEqual(['websocket']);
    return fields.sid;
  }

  beforeAll(async () => {
    server = await startTestGateway({ allowedOrigins: 'https://app.example.com', badFrameLimit: '3' });
    token = await server.gateway.identity.issueAppToken('demo');
  });

  afterAll(() => server?.close());

  describe('real clients', () => {
    it('socket.io-client 4.x with default options connects on polling, upgrades, and keeps working', async () => {
      const client = await v4(server.port);
      expect((await client.log.next('welcome')).args[0]).toMatchObject({ peer_id: client.socket.id });
      const ack = (await client.socket.timeout(10_000).emitWithAck('ping')) as { ts: number };
      expect(typeof ack.ts).toBe('number');
      expect((await client.log.next('pong')).args).toEqual([ack]);
      await client.log.until(() => client.socket.io.engine.transport.name === 'websocket', 'upgraded to websocket');
      const after = await client.socket.timeout(10_000).emitWithAck('ping');
      expect(after).toMatchObject({ ts: expect.any(Number) });
      expect((await client.log.next('pong')).args).toEqual([after]);
      client.socket.close();
    });

    it('socket.io-client 2.x with default options connects on polling, upgrades, and keeps working', async () => {
      const client = await v2(server.port);
      expect((await client.log.next('welcome')).args[0]).toMatchObject({ peer_id: client.socket.id });
      expect(await emitWithAckV2(client.socket, 'ping')).toMatchObject({ ts: expect.any(Number) });
      await client.log.until(() => v2Transport(client.socket) === 'websocket', 'upgraded to websocket');
      expect(await emitWithAckV2(client.socket, 'ping')).toMatchObject({ ts: expect.any(Number) });
      client.socket.close();
    });

    it('the Chat Signal room flow between a polling-only 4.x owner and a polling-only 2.x peer', async () => {
      const owner = await v4(server.port, { transports: ['polling'], auth: { token } });
      await owner.log.next('auth-accept');
      const peer = await v2(server.port, { transports: ['polling'], query: { 'x-auth': token } });
      await peer.log.next('auth-accept');
      const room = 'polling-room';
      expect(await owner.socket.timeout(10_000).emitWithAck('room-create-request', { room, payload: { name: 'owner' } })).toEqual({ room, payload: { name: 'owner' } });
      emitV2(peer.socket, 'room-join-request', { room, payload: { name: 'peer' } });
      // A server push to the owner while it sits in a held GET.
      // From the log: its position rides inside the data on Socket.IO (PROTOCOL.md section 11).
      expect((await owner.log.next('room-join-request')).args[0]).toEqual({ room, peer_id: peer.socket.id, payload: { name: 'peer' }, seq: expect.any(Number) });
      owner.socket.emit('room-join-accept', { room, peer_id: peer.socket.id });
      expect((await peer.log.next('room-join-accept')).args[0]).toMatchObject({ room, peer_id: peer.socket.id, peers: [owner.socket.id] });
      expect((await owner.log.next('room-user-join')).args[0]).toMatchObject({ room, peer_id: peer.socket.id });
      // Neither ever upgraded.
      expect(owner.socket.io.engine.transport.name).toBe('polling');
      expect(v2Transport(peer.socket)).toBe('polling');
      owner.socket.close();
      peer.socket.close();
    });
  });

  describe('raw requests', () => {
    it('v4 handshake: OPEN offering the websocket upgrade, then a round trip with a held GET', async () => {
      const sid = await openV4();
      expect(await (await post(`EIO=4&transport=polling&sid=${sid}`, '40')).text()).toBe('ok');
      const connected = packetsV4(await (await get(`EIO=4&transport=polling&sid=${sid}`)).text());
      expect(connected[0]).toMatch(/^40\{"sid":/);
      // The GET is held until the answer is queued; the POST answers `ok` first.
      const held = get(`EIO=4&transport=polling&sid=${sid}`);
      expect(await (await post(`EIO=4&transport=polling&sid=${sid}`, '42["ping"]\x1e421["ping"]')).text()).toBe('ok');
      const answers = packetsV4(await (await held).text());
      while (!answers.some((packet) => packet.startsWith('431['))) {
        answers.push(...packetsV4(await (await get(`EIO=4&transport=polling&sid=${sid}`)).text()));
      }
      expect(answers.filter((packet) => packet.startsWith('42["pong"')).length).toBe(2);
      expect(await (await post(`EIO=4&transport=polling&sid=${sid}`, '1')).text()).toBe('ok');
    });

    it('the upgrade: 2probe/3probe, the held GET gets a NOOP, packets queued meanwhile arrive once on the websocket', async () => {
      const sid = await openV4();
      await post(`EIO=4&transport=polling&sid=${sid}`, '40');
      await get(`EIO=4&transport=polling&sid=${sid}`);
      const held = get(`EIO=4&transport=polling&sid=${sid}`);
      const ws = await RawEngineSocket.open(server.port, '/socket.io/', { query: `EIO=4&transport=websocket&sid=${sid}` });
      ws.send('2probe');
      expect(await ws.nextText()).toBe('3probe');
      expect(await (await held).text()).toBe('6');
      // Sent while the client pauses polling: queued, then moved to the websocket by `5`.
      await post(`EIO=4&transport=polling&sid=${sid}`, '421["ping"]');
      ws.send('5');
      const moved = [await ws.nextText(), await ws.nextText()];
      expect(moved[0]).toMatch(/^42\["pong",/);
      expect(moved[1]).toMatch(/^431\[/);
      ws.send('42["ping"]');
      expect(await ws.nextText()).toMatch(/^42\["pong",/);
      expect(ws.messages).toEqual([]);
      // The session lives on the websocket now: polling with its sid is refused.
      expect((await get(`EIO=4&transport=polling&sid=${sid}`)).status).toBe(400);
      ws.close();
    });

    it('a second websocket naming an upgraded session is accepted and closed at once; the session keeps working', async () => {
      const sid = await openV4();
      await post(`EIO=4&transport=polling&sid=${sid}`, '40');
      await get(`EIO=4&transport=polling&sid=${sid}`);
      const ws = await RawEngineSocket.open(server.port, '/socket.io/', { query: `EIO=4&transport=websocket&sid=${sid}` });
      ws.send('2probe');
      expect(await ws.nextText()).toBe('3probe');
      ws.send('5');
      const second = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
      const closed = await new Promise<number>((resolve) => second.once('close', (code) => resolve(code)));
      expect(closed).toBe(1000);
      ws.send('42["ping"]');
      expect(await ws.nextText()).toMatch(/^42\["pong",/);
      ws.close();
    });

    it("the client's own CLOSE: the GET held or sent next lets go with a NOOP, and the session is gone", async () => {
      const sid = await openV4();
      const [held, closing] = await Promise.all([get(`EIO=4&transport=polling&sid=${sid}`), post(`EIO=4&transport=polling&sid=${sid}`, '1')]);
      expect(closing.status).toBe(200);
      expect(await held.text()).toBe('6');
      expect((await get(`EIO=4&transport=polling&sid=${sid}`)).status).toBe(400);
      const unheld = await openV4();
      expect(await (await post(`EIO=4&transport=polling&sid=${unheld}`, '1')).text()).toBe('ok');
      expect(await (await get(`EIO=4&transport=polling&sid=${unheld}`)).text()).toBe('6');
      expect(await (await get(`EIO=4&transport=polling&sid=${unheld}`)).json()).toEqual({ code: 1, message: 'Session ID unknown' });
    });

    it('a request with Connection: close is answered with Connection: close (keep-alive clients do not reuse the socket)', async () => {
      const response = await get('EIO=4&transport=polling', { connection: 'close' });
      expect(response.headers.get('connection')).toBe('close');
      await response.text();
    });

    it('v3 handshake: length-prefixed payload with the OPEN packet and the CONNECT of `/`', async () => {
      const response = await get('EIO=3&transport=polling&b64=1');
      expect(response.status).toBe(200);
      const body = await response.text();
      const match = /^(\d+):(0\{.*?\})(\d+):40/.exec(body);
      expect(match).not.toBeNull();
      expect(Number(match![1])).toBe(match![2]!.length);
      expect(JSON.parse(match![2]!.slice(1))).toMatchObject({ upgrades: ['websocket'] });
    });

    it('bad or unknown sids get 400 Session ID unknown, on GET, POST and the websocket upgrade', async () => {
      for (const response of [await get('EIO=4&transport=polling&sid=nope'), await post('EIO=4&transport=polling&sid=nope', '4x')]) {
        expect(response.status).toBe(400);
        expect(await response.json()).toEqual({ code: 1, message: 'Session ID unknown' });
      }
      const status = await new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket&sid=nope`);
        socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.once('open', () => reject(new Error('upgrade accepted')));
        socket.once('error', () => undefined);
      });
      expect(status).toBe(400);
      expect((await get('EIO=9&transport=polling')).status).toBe(400);
      expect((await post('EIO=4&transport=polling', '4x')).status).toBe(400);
    });

    it('an overlapping GET gets 400 and closes the session; the held GET gets CLOSE', async () => {
      const sid = await openV4();
      await post(`EIO=4&transport=polling&sid=${sid}`, '40');
      await get(`EIO=4&transport=polling&sid=${sid}`);
      // Two GETs at once: whichever arrives second is refused, the held one gets CLOSE.
      const both = await Promise.all([get(`EIO=4&transport=polling&sid=${sid}`), get(`EIO=4&transport=polling&sid=${sid}`)]);
      expect(both.map((response) => response.status).sort()).toEqual([200, 400]);
      const held = both.find((response) => response.status === 200)!;
      expect(packetsV4(await held.text())).toContain('1');
      expect((await post(`EIO=4&transport=polling&sid=${sid}`, '42["ping"]')).status).toBe(400);
    });

    it('an oversize POST gets 413', async () => {
      const sid = await openV4();
      const response = await post(`EIO=4&transport=polling&sid=${sid}`, `4${'x'.repeat(1_000_001)}`);
      expect(response.status).toBe(413);
      // The session is not harmed by it.
      expect(await (await post(`EIO=4&transport=polling&sid=${sid}`, '40')).text()).toBe('ok');
    });

    it('malformed payloads get 400, count as bad frames, and close the session at the limit', async () => {
      const sid = await openV4();
      for (const body of ['\x1e', 'bnot-base64!']) {
        const response = await post(`EIO=4&transport=polling&sid=${sid}`, body);
        expect(response.status).toBe(400);
      }
      const v3 = /^\d+:0(\{.*?\})/.exec(await (await get('EIO=3&transport=polling&b64=1')).text());
      const v3sid = (JSON.parse(v3![1]!) as { sid: string }).sid;
      for (const body of ['5:4x', 'x:4', '0:']) {
        expect((await post(`EIO=3&transport=polling&sid=${v3sid}`, body)).status, body).toBe(400);
      }
      // The third bad body hit the limit (3): the v3 session is closed and, as engine.io does
      // after a parse error, forgotten at once.
      expect((await get(`EIO=3&transport=polling&sid=${v3sid}`)).status).toBe(400);
      // The gateway still serves.
      expect((await get('EIO=4&transport=polling')).status).toBe(200);
    });

    it('POST after close is refused', async () => {
      const sid = await openV4();
      expect(await (await post(`EIO=4&transport=polling&sid=${sid}`, '1')).text()).toBe('ok');
      expect((await post(`EIO=4&transport=polling&sid=${sid}`, '40')).status).toBe(400);
    });

    it('CORS: an allowed origin is echoed with credentials, another is refused', async () => {
      const allowed = await get('EIO=4&transport=polling', { origin: 'https://app.example.com' });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
      const preflight = await fetch(server.url('/socket.io/?EIO=4&transport=polling'), {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      const refused = await get('EIO=4&transport=polling', { origin: 'https://evil.example.net' });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      // No Origin at all (a non-browser client): served, without CORS headers.
      const plain = await get('EIO=4&transport=polling');
      expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});

describe('polling sessions and their heartbeats', { timeout: 60_000 }, () => {
  let server: TestGateway;

  beforeAll(async () => {
    server = await startTestGateway({ socketIoPingIntervalMs: '100', socketIoPingTimeoutMs: '100' });
  });

  afterAll(() => server?.close());

  const closedReason = (sid: string): string | undefined => {
    const closed = server.gateway.store.readStream(`connection-${sid}`).find((event) => event.type === 'ConnectionClosed');
    return closed ? JSON.stringify(closed.data) : undefined;
  };

  for (const version of [4, 3] as const) {
    it(`v${version}: a client that stops polling misses its heartbeat: closed (logged like a websocket connection) and, as in engine.io, forgotten at once`, async () => {
      const body = await (await fetch(server.url(`/socket.io/?EIO=${version}&transport=polling&b64=1`))).text();
      const sid = (JSON.parse(/0(\{.*?\})/.exec(body)![1]!) as { sid: string }).sid;
      expect(server.gateway.store.readStream(`connection-${sid}`).map((event) => event.type)).toEqual(['ConnectionOpened']);
      await until(() => closedReason(sid) !== undefined, 'close recorded');
      expect(closedReason(sid)).toMatch(/4408/);
      expect((await fetch(server.url(`/socket.io/?EIO=${version}&transport=polling&sid=${sid}`))).status).toBe(400);
    });
  }

  it('a polling-only 4.x client stays connected across many heartbeats', async () => {
    const client = await v4(server.port, { transports: ['polling'] });
    let pings = 0;
    client.socket.io.engine.on('ping', () => {
      pings += 1;
      client.log.wake();
    });
    await client.log.until(() => pings >= 5, 'five heartbeats');
    expect(client.socket.connected).toBe(true);
    expect(await client.socket.timeout(10_000).emitWithAck('ping')).toMatchObject({ ts: expect.any(Number) });
    client.socket.close();
  });

  it('a polling-only 2.x client stays connected across many heartbeats (it pings by POST)', async () => {
    const client = await v2(server.port, { transports: ['polling'] });
    let pongs = 0;
    client.socket.io.on('pong', () => {
      pongs += 1;
      client.log.wake();
    });
    await client.log.until(() => pongs >= 5, 'five heartbeats');
    expect(client.socket.connected).toBe(true);
    expect(await emitWithAckV2(client.socket, 'ping')).toMatchObject({ ts: expect.any(Number) });
    client.socket.close();
  });
});

describe('the protocol fixture on HTTP long-polling (the official suites run against it)', () => {
  let fixture: SocketIoFixture;
  // No heartbeat during these cases (its pings would join the answers); a short connect timeout.
  beforeAll(async () => {
    fixture = await startSocketIoFixture({ port: 0, engine: { pingIntervalMs: 60_000, pingTimeoutMs: 60_000 }, connectTimeoutMs: 50 });
  });
  afterAll(() => fixture?.close());

  const url = (path: string, query: string) => `http://127.0.0.1:${fixture.port}${path}?EIO=4&transport=polling${query}`;
  const handshake = async (path: string) => (JSON.parse((await (await fetch(url(path, ''))).text()).slice(1)) as { sid: string }).sid;
  const poll = (path: string, sid: string) => fetch(url(path, `&sid=${sid}`));
  const push = (path: string, sid: string, body: string) => fetch(url(path, `&sid=${sid}`), { method: 'POST', body });

  it.each([
    ['one text packet', '4hello'],
    ['several text packets', '4test1\x1e4test2\x1e4test3'],
    ['text and binary packets', '4hello\x1ebAQIDBA=='],
  ])('/engine.io/ echoes a payload of %s in the next GET', async (_name, payload) => {
    const sid = await handshake('/engine.io/');
    expect(await (await push('/engine.io/', sid, payload)).text()).toBe('ok');
    expect(await (await poll('/engine.io/', sid)).text()).toBe(payload);
  });

  it('/engine.io/: an invalid packet closes the session, which is forgotten at once (engine.io: parse error)', async () => {
    const sid = await handshake('/engine.io/');
    await push('/engine.io/', sid, 'abc');
    expect((await poll('/engine.io/', sid)).status).toBe(400);
  });

  it('/engine.io/ upgrades: 3probe, the GET gets a NOOP, 5, and the WebSocket carries the echo', async () => {
    const sid = await handshake('/engine.io/');
    const ws = await RawEngineSocket.open(fixture.port, '/engine.io/', { query: `EIO=4&transport=websocket&sid=${sid}`, heartbeat: false });
    ws.send('2probe');
    expect(await ws.nextText()).toBe('3probe');
    expect(await (await poll('/engine.io/', sid)).text()).toBe('6');
    ws.send('5');
    ws.send('4hello');
    expect(await ws.nextText()).toBe('4hello');
    ws.close();
  });

  it("a close of the server's own (no namespace joined in time) keeps the session until its next GET, which gets the CLOSE", async () => {
    const sid = await handshake('/socket.io/');
    await until(() => fixture.closedWith(sid) !== undefined, 'the connect timeout closed the session');
    expect(fixture.closedWith(sid)).toEqual({ code: 4408, reason: 'no namespace joined in time' });
    expect(await (await poll('/socket.io/', sid)).text()).toBe('1');
    expect((await poll('/socket.io/', sid)).status).toBe(400);
  });
});

describe('Engine.IO heartbeat timers, as the reference server (engine.io Socket) sets them, on either transport', () => {
  // The session's own timers in fake time, over a recording sink (each send written: 1).
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const [interval, timeout] = [300, 200];

  function session(version: EngineVersion) {
    const sink = { sent: [] as unknown[], ended: undefined as { code: number; reason: string } | undefined };
    const socket: SocketSink = { send: (message) => sink.sent.push(message) && 1, end: (code, reason) => (sink.ended = { code, reason }), bufferedAmount: () => 0 };
    const info = { id: 'sid-1', codec: 'json', transport: 'socket.io', remoteAddress: '127.0.0.1', userAgent: null, origin: null } as const;
    const connection = new ClientConnection(info, socket, { maxBackpressureBytes: 1 << 20, badFrameLimit: 10, badFrameWindowMs: 1000 }, () => {});
    const engine = new EngineSocket(version, connection, { pingIntervalMs: interval, pingTimeoutMs: timeout, maxPayloadBytes: 1e6 }, { message: () => {}, badPacket: () => {} });
    engine.start('sid-1');
    sink.sent.splice(0); // the OPEN packet
    return { sink, receive: (text: string) => engine.receive(new TextEncoder().encode(text).buffer, false) };
  }

  it('v4: a ping pingInterval after the OPEN and each pong; pingTimeout without a pong closes, restarted by the first other packet, once per ping', () => {
    const { sink, receive } = session(4);
    vi.advanceTimersByTime(interval);
    receive('4busy');
    receive('3');
    vi.advanceTimersByTime(interval - 1);
    expect(sink.sent).toEqual(['2']);
    vi.advanceTimersByTime(1 + timeout - 50);
    receive('4busy');
    vi.advanceTimersByTime(timeout - 1);
    receive('4still busy');
    expect([sink.sent, sink.ended]).toEqual([['2', '2'], undefined]);
    vi.advanceTimersByTime(1);
    expect(sink.ended).toEqual({ code: 4408, reason: 'ping timeout' });
  });

  it('v3: pingInterval + pingTimeout after the OPEN or the last client ping closes; other packets do not move it', () => {
    const { sink, receive } = session(3);
    vi.advanceTimersByTime(interval);
    receive('2');
    vi.advanceTimersByTime(interval + timeout - 100);
    receive('4busy');
    vi.advanceTimersByTime(99);
    expect([sink.sent, sink.ended]).toEqual([['3'], undefined]);
    vi.advanceTimersByTime(1);
    expect(sink.ended).toEqual({ code: 4408, reason: 'ping timeout' });
  });
});
