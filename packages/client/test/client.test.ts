import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, isSwitchyardError, SwitchyardClient, type ClientOptions, type LifecycleEvents } from '../src/index.js';
import { FakeGateway, type Frame } from './fake-gateway.js';

/**
 * The SDK against a scripted server (fake-gateway.ts): the orderings and failures a real
 * gateway does not produce on cue. Waits are on conditions; bounds are hang guards.
 */

let gateway: FakeGateway | undefined;
const clients: SwitchyardClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await gateway?.close();
  gateway = undefined;
});

async function setUp(options: Partial<ClientOptions> = {}, fake: { resume?: boolean } = {}) {
  gateway = await FakeGateway.start(fake);
  const events: { name: keyof LifecycleEvents; data: unknown }[] = [];
  const client = new SwitchyardClient({ url: gateway.url, WebSocket, reconnect: { baseMs: 5, maxMs: 20 }, heartbeat: false, ...options });
  clients.push(client);
  for (const name of ['connecting', 'open', 'reconnecting', 'closed', 'resumed', 'restarted', 'auth-failed'] as const) {
    client.on(name, (data) => events.push({ name, data }));
  }
  return { gateway, client, events, names: () => events.map((event) => event.name) };
}

const settle = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error: unknown) => ({ error }));

describe('backoff with full jitter', () => {
  it('draws from a window that doubles per attempt up to maxMs', () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, { baseMs: 100, maxMs: 1000 }, top))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, { baseMs: 100, maxMs: 1000 }, () => 0)).toBe(0);
  });
});

describe('requests and commands', () => {
  it('correlates answers by id; error frames and reject events reject with their code', async () => {
    const { gateway, client } = await setUp();
    gateway.handle('room-join-request', (connection, frame) =>
      connection.send({ event: 'room-join-reject', data: { room: 'a', message: 'no such room', code: 'NOT_FOUND' }, id: frame.id }),
    );
    gateway.handle('logout', (connection, frame) => connection.send({ event: 'unauthorized', data: { message: 'logged out', code: 'UNAUTHORIZED' }, id: frame.id }));
    await client.connect();
    const [pong, join, unknown, logout] = await Promise.all([
      client.request('ping'),
      settle(client.request('room-join-request', { room: 'a' })),
      settle(client.requestAny('nonsense')),
      client.request('logout'),
    ]);
    expect(pong).toEqual({ event: 'pong', data: { ts: 1 } });
    expect(join).toMatchObject({ error: { code: 'NOT_FOUND', message: 'no such room', event: 'room-join-reject' } });
    expect(unknown).toMatchObject({ error: { code: 'UNKNOWN_EVENT' } });
    // logout's success answer is `unauthorized`: it resolves.
    expect(logout).toMatchObject({ event: 'unauthorized', data: { message: 'logged out' } });
  });

  it('a command: onReceipt with the receipt, then the result; a 4xx result rejects with its code and body', async () => {
    const { gateway, client } = await setUp();
    gateway.handle('admin_organisation_create', (connection, frame) => {
      connection.send({ event: frame.event, data: { status: 202, topic: 'ex-manage', messageId: 41 }, id: frame.id });
      connection.send({ event: frame.event, data: { status: 201, domain: 'admin', action: 'organisation', command: 'create', meta: { permitted: true }, response: { id: 'o1' } }, id: frame.id });
    });
    gateway.handle('admin_organisation_delete', (connection, frame) =>
      connection.send({ event: frame.event, data: { status: 403, error: 'not allowed', meta: { permitted: false, reason: 'unauthorized' } }, id: frame.id }),
    );
    gateway.handle('admin_organisation_read', (connection, frame) =>
      connection.send({ event: frame.event, data: { status: 404, error: 'no such organisation', meta: { permitted: true, message: 'not_found' } }, id: frame.id }),
    );
    await client.connect();
    const receipts: unknown[] = [];
    const result = await client.command('admin_organisation_create', { data: { name: 'Acme' } }, { onReceipt: (receipt) => receipts.push(receipt) });
    expect(receipts).toEqual([{ status: 202, topic: 'ex-manage', messageId: 41 }]);
    expect(result).toMatchObject({ status: 201, response: { id: 'o1' } });
    const refused = await settle(client.command('admin_organisation_delete', { id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' }));
    expect(refused).toMatchObject({ error: { code: 'FORBIDDEN', message: 'not allowed', data: { status: 403, meta: { reason: 'unauthorized' } } } });
    expect(await settle(client.command('admin_organisation_read', {}))).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('MessagePack: the subprotocol asks for it and frames go both ways as binary', async () => {
    const { gateway, client } = await setUp({ codec: 'msgpack' });
    await client.connect();
    expect(await client.request('ping')).toEqual({ event: 'pong', data: { ts: 1 } });
    expect(gateway.connections[0]!.socket.protocol).toBe('switchyard.v1.msgpack');
  });

  it('times out a request that gets no answer', async () => {
    const { client } = await setUp();
    await client.connect();
    expect(await settle(client.requestAny('silence', {}, { timeoutMs: 20 }))).toMatchObject({ error: { code: 'TIMEOUT' } });
  });
});

describe('reconnect and the offline queue', () => {
  it('queues while offline up to maxQueued, fails the rest with QUEUE_FULL and in-flight ones with DISCONNECTED', async () => {
    const { gateway, client } = await setUp({ maxQueued: 2 });
    await client.connect();
    const inFlight = settle(client.requestAny('silence', {}, { timeoutMs: 60_000 }));
    await gateway.until(() => gateway.received('silence').length === 1, 'the request on the wire');
    let queued: Promise<unknown>[] = [];
    client.once('closed', () => {
      queued = [client.request('ping'), client.request('ping'), settle(client.request('ping'))];
    });
    gateway.connections[0]!.socket.terminate();
    expect(await inFlight).toMatchObject({ error: { code: 'DISCONNECTED' } });
    const [first, second, third] = await Promise.all(queued);
    expect(first).toMatchObject({ event: 'pong' });
    expect(second).toMatchObject({ event: 'pong' });
    expect(third).toMatchObject({ error: { code: 'QUEUE_FULL' } });
  });

  it('reconnects after 1006 and 4008 with reconnecting {attempt, delayMs}; not after 4501, and fails what waits with CLOSED', async () => {
    const { gateway, client, events, names } = await setUp();
    await client.connect();
    gateway.connections[0]!.socket.terminate();
    await gateway.until(() => names().filter((name) => name === 'open').length === 2, 'the second session');
    gateway.connections[1]!.socket.close(4008, 'slow consumer');
    await gateway.until(() => names().filter((name) => name === 'open').length === 3, 'the third session');
    expect(events.filter((event) => event.name === 'closed').map((event) => event.data)).toEqual([
      { code: 1006, reason: '', willReconnect: true },
      { code: 4008, reason: 'slow consumer', willReconnect: true },
    ]);
    expect(events.find((event) => event.name === 'reconnecting')?.data).toMatchObject({ attempt: 1, delayMs: expect.any(Number) });

    gateway.connections[2]!.socket.close(4501, 'user disabled');
    await gateway.until(() => client.state === 'closed', 'the client to give up');
    expect(events.at(-1)).toEqual({ name: 'closed', data: { code: 4501, reason: 'user disabled', willReconnect: false } });
    expect(gateway.connections).toHaveLength(3);
    expect(await settle(client.request('ping'))).toMatchObject({ error: { code: 'CLOSED' } });
  });

  it('gives up after maxAttempts failed attempts', async () => {
    const { client, names } = await setUp({ url: 'ws://127.0.0.1:1/ws', reconnect: { baseMs: 1, maxMs: 2, maxAttempts: 2 } });
    const connected = await settle(client.connect());
    expect(connected).toMatchObject({ error: { code: 'CLOSED' } });
    expect(names()).toEqual(['connecting', 'closed', 'reconnecting', 'connecting', 'closed', 'reconnecting', 'connecting', 'closed']);
  });

  it('drops a socket whose pings go unanswered and connects again', async () => {
    const { gateway, client, events } = await setUp({ heartbeat: { intervalMs: 20, timeoutMs: 20 } });
    gateway.handle('ping', () => undefined);
    await client.connect();
    await gateway.until(() => gateway.connections.length === 2, 'a second socket');
    expect(events.find((event) => event.name === 'closed')?.data).toEqual({ code: 1006, reason: 'heartbeat timeout', willReconnect: true });
  });
});

describe('resume', () => {
  /** A server that answers `resume` by replaying `replay` (as given: any order, repeats) and then `resumed`. */
  function resumeWith(gateway: FakeGateway, replay: Frame[], live: Frame[] = []) {
    gateway.handle('resume', (connection, frame) => {
      for (const push of replay) connection.send(push);
      for (const push of live) connection.send(push);
      connection.send({ event: 'resumed', data: { missed: replay.length, peer_id: 'peer-1' }, id: frame.id });
    });
  }
  const push = (seq: number): Frame => ({ event: 'consumer_itinerary_update', data: { event: 'e', itinerary: { id: `i${seq}` } }, seq });

  it('sends resume {session, since} first, delivers the missed pushes once each in seq order, then resumed', async () => {
    const { gateway, client, events } = await setUp();
    const seen: number[] = [];
    client.on('consumer_itinerary_update', (_data, meta) => seen.push(meta.seq!));
    await client.connect();
    for (const seq of [3, 4]) gateway.connections[0]!.send(push(seq));
    await gateway.until(() => seen.length === 2, 'the live pushes');
    // The replay repeats 4 (seen before the cut), repeats 6, and a live 8 overtakes 7.
    resumeWith(gateway, [push(4), push(6), push(5), push(6), push(7)], [push(8)]);
    gateway.connections[0]!.socket.terminate();
    await gateway.until(() => events.some((event) => event.name === 'resumed'), 'resumed');
    expect(gateway.connections[1]!.frames[0]).toEqual({ event: 'resume', data: { session: 'token-peer-1', since: 4 }, id: expect.any(Number) });
    expect(seen).toEqual([3, 4, 5, 6, 7, 8]);
    expect(events.filter((event) => event.name === 'resumed' || event.name === 'open').map((event) => event.data)).toEqual([
      { peerId: 'peer-1', resumed: false },
      { missed: 5, peerId: 'peer-1' },
      { peerId: 'peer-1', resumed: true },
    ]);
    expect(client.peerId).toBe('peer-1');
    // After the resume, a live push already delivered is still not delivered again.
    gateway.connections[1]!.send(push(8));
    gateway.connections[1]!.send(push(9));
    await gateway.until(() => seen.length === 7, 'the next push');
    expect(seen).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it('resume-failed: restarted {reason, rooms}, the SDK signs in again, onRestart runs before the queue goes out', async () => {
    const order: string[] = [];
    const { gateway, client, events } = await setUp({
      onRestart: async ({ rooms }) => {
        order.push(`onRestart ${rooms.join(',')}`);
        await client.request('ping');
        order.push('re-subscribed');
      },
    });
    gateway.handle('login', (connection, frame) => connection.send({ event: 'authorized', data: { userId: 'u1', groups: [], token: 'access-1' }, id: frame.id }));
    gateway.handle('authorize', (connection, frame) => connection.send({ event: 'authorized', data: { userId: 'u1', groups: [] }, id: frame.id }));
    gateway.handle('room-create-request', (connection, frame) => connection.send({ event: 'room-create-accept', data: { room: 'call-1', payload: null }, id: frame.id }));
    gateway.handle('resume', (connection) => connection.send({ event: 'resume-failed', data: { reason: 'expired' } }));
    gateway.handle('queued', (connection, frame) => {
      order.push('queued request');
      connection.send({ event: 'result', data: {}, id: frame.id });
    });
    await client.connect();
    await client.request('login', { username: 'ada', password: 'pw' });
    await client.request('room-create-request', { room: 'call-1' });
    expect([...client.joinedRooms]).toEqual(['call-1']);
    let queued: Promise<unknown> | undefined;
    client.once('closed', () => (queued = client.requestAny('queued')));
    gateway.connections[0]!.socket.terminate();
    await gateway.until(() => queued !== undefined && order.includes('queued request'), 'the queued request');
    await queued;
    expect(events.find((event) => event.name === 'restarted')?.data).toEqual({ reason: 'expired', rooms: ['call-1'] });
    expect(gateway.connections[1]!.frames.map((frame) => frame.event)).toEqual(['resume', 'authorize', 'ping', 'queued']);
    expect(gateway.connections[1]!.frames[1]!.data).toEqual({ method: 'oauth2', token: 'access-1' });
    expect(order).toEqual(['onRestart call-1', 're-subscribed', 'queued request']);
    expect(client.peerId).toBe('peer-2');
    expect(client.joinedRooms.size).toBe(0);
  });

  it('a server without resume: no resume frame, restarted {reason: unsupported}, getToken asked again', async () => {
    let tokens = 0;
    const { gateway, client, events } = await setUp({ auth: { getToken: () => `fresh-${++tokens}` } }, { resume: false });
    gateway.handle('authorize', (connection, frame) => connection.send({ event: 'authorized', data: { userId: 'u1', groups: [] }, id: frame.id }));
    await client.connect();
    gateway.connections[0]!.socket.terminate();
    await gateway.until(() => events.filter((event) => event.name === 'open').length === 2, 'the second session');
    expect(events.find((event) => event.name === 'restarted')?.data).toEqual({ reason: 'unsupported', rooms: [] });
    expect(gateway.received('resume')).toEqual([]);
    expect(gateway.received('authorize').map((frame) => frame.data)).toEqual([
      { method: 'oauth2', token: 'fresh-1' },
      { method: 'oauth2', token: 'fresh-2' },
    ]);
  });

  it('a refused sign-in is reported as auth-failed and the session stays usable', async () => {
    const { gateway, client, events } = await setUp({ auth: { getToken: () => 'stale' } });
    gateway.handle('authorize', (connection, frame) => connection.send({ event: 'unauthorized', data: { message: 'Token is not valid', code: 'UNAUTHORIZED' }, id: frame.id }));
    await client.connect();
    expect(events.find((event) => event.name === 'auth-failed')?.data).toEqual({ code: 'UNAUTHORIZED', message: 'Token is not valid' });
    const pong = await client.request('ping');
    expect(isSwitchyardError(pong)).toBe(false);
  });
});
