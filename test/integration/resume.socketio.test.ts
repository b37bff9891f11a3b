import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/app/gateway.js';
import { DISCONNECT } from '../../src/core/disconnect.js';
import { sendToAll, type ClientConnection } from '../../src/edge/index.js';
import { until } from '../helpers/conditions.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { APP_PASSWORD, appToken } from '../helpers/rooms.js';
import { connectV2, connectV4, emitWithAckV2, type EventLog, type V4Client } from '../helpers/socketio.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Resume over Socket.IO (PROTOCOL.md section 11) with real socket.io-client 4.x and 2.x: the
 * CONNECT packet's `auth.resume`, and the `resume` event. A push from the log carries its
 * `seq` inside its data here. The socket is lost the way Socket.IO loses one without a close
 * from the client: the server misses its heartbeat and ends it with 4408 (a test hook calls
 * that close), or the TCP connection is destroyed. Pushes come from a processor reading the
 * log (every OrganisationCreated, seq = its position), as a module's do.
 */

interface Welcome {
  peer_id: string;
  resume: string;
}

function probePushes(gateway: Gateway) {
  const watchers = new Set<ClientConnection>();
  let last = 0;
  gateway.processors.add({
    name: 'test.resume-probe',
    startFrom: 'now',
    canHandle: (event) => event.type === 'OrganisationCreated',
    handle(events) {
      for (const event of events) {
        last = event.position;
        sendToAll(watchers, { event: 'probe', data: { at: event.position }, seq: event.position });
      }
    },
  });
  let made = 0;
  return {
    watchers,
    cause: async (): Promise<number> => {
      await gateway.identity.createOrganisation(`probe-${(made += 1)}-${Math.random().toString(36).slice(2)}`, 'test');
      return last;
    },
  };
}

const namesOf = (log: EventLog) => log.events.map((event) => event.event);
const dataOf = (log: EventLog, name: string) => log.events.filter((event) => event.event === name).map((event) => event.args[0] as Record<string, unknown>);

describe('resume over Socket.IO', { timeout: 120_000 }, () => {
  let server: TestGateway;
  let probe: ReturnType<typeof probePushes>;
  let token: string;

  /** A 4.x client signed in by its CONNECT's `auth.token` (an app token), watched by the probe. */
  async function signedInV4(): Promise<{ client: V4Client; welcome: Welcome; connection: ClientConnection }> {
    const client = await connectV4(server.port, { auth: { token } });
    const welcome = (await client.log.next('welcome')).args[0] as Welcome;
    await client.log.next('auth-accept');
    const connection = server.gateway.connections.get(welcome.peer_id)!;
    probe.watchers.add(connection);
    return { client, welcome, connection };
  }

  /** What the server does when a Socket.IO heartbeat is missed: the socket ends with 4408, the session is kept. */
  async function heartbeatMissed(connection: ClientConnection): Promise<void> {
    connection.close(DISCONNECT.timeout, 'ping timeout');
    await until(() => connection.detached, 'the connection is detached');
  }

  beforeAll(async () => {
    server = await startTestGateway({ appPassword: APP_PASSWORD, resumeFailuresPerMinutePerAddress: '10000' });
    probe = probePushes(server.gateway);
    token = await appToken(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('4.x with auth.resume in CONNECT: socket.id is the old peer_id, still in its room, the missed pushes (seq in data) in order, then resumed', async () => {
    const owner = await TestClient.open(server.wsUrl());
    const ownerId = ((await owner.next('welcome')).data as Welcome).peer_id;
    owner.sendJson({ event: 'auth-request', data: token });
    await owner.next('auth-accept');
    expect((await owner.request('room-create-request', { room: 'sio-room' })).event).toBe('room-create-accept');

    const a = await signedInV4();
    a.client.socket.emit('room-join-request', { room: 'sio-room' });
    const asked = await owner.next('room-join-request');
    owner.sendJson({ event: 'room-join-accept', data: { room: 'sio-room', peer_id: (asked.data as { peer_id: string }).peer_id } });
    await a.client.log.next('room-join-accept');
    const seen = await probe.cause();
    expect((await a.client.log.next('probe')).args[0]).toEqual({ at: seen, seq: seen });

    await heartbeatMissed(a.connection);
    const missed = [await probe.cause(), await probe.cause()];
    const resumed = await connectV4(server.port, { auth: { resume: { session: a.welcome.resume, since: seen } } });
    await resumed.log.until(() => namesOf(resumed.log).includes('resumed'), 'resumed arrives');

    expect(resumed.socket.id).toBe(a.welcome.peer_id);
    expect(namesOf(resumed.log)).toEqual(['welcome', 'probe', 'probe', 'resumed']);
    expect(dataOf(resumed.log, 'probe').map((data) => data.seq)).toEqual(missed);
    expect(dataOf(resumed.log, 'resumed')).toMatchObject([{ missed: 2, peer_id: a.welcome.peer_id }]);

    const sdp = { type: 'answer', sdp: 'v=0' };
    resumed.socket.emit('relay-session-description', { room: 'sio-room', to: ownerId, session_description: sdp });
    expect((await owner.next('session-description')).data).toEqual({ room: 'sio-room', peer_id: a.welcome.peer_id, session_description: sdp });
    expect(owner.frames.filter((frame) => frame.event === 'room-user-leave')).toEqual([]);
    resumed.socket.close();
    a.client.socket.close();
    owner.close();
  });

  it('4.x resumes over HTTP long-polling too (auth.resume), and upgrades as usual', async () => {
    const a = await signedInV4();
    await heartbeatMissed(a.connection);
    const missed = await probe.cause();
    const polling = await connectV4(server.port, { transports: ['polling', 'websocket'], auth: { resume: { session: a.welcome.resume, since: 0 } } });
    await polling.log.until(() => namesOf(polling.log).includes('resumed'), 'resumed arrives');
    expect(polling.socket.id).toBe(a.welcome.peer_id);
    expect(dataOf(polling.log, 'probe').map((data) => data.seq)).toEqual([missed]);
    expect(await polling.socket.timeout(10_000).emitWithAck('ping')).toMatchObject({ ts: expect.any(Number) });
    const next = await probe.cause();
    await polling.log.until(() => dataOf(polling.log, 'probe').some((data) => data.seq === next), 'a live push after the resume');
    polling.socket.close();
    a.client.socket.close();
  });

  it('4.x with the resume event: the ack is resumed, after the replayed pushes', async () => {
    const a = await signedInV4();
    const seen = await probe.cause();
    await a.client.log.next('probe');
    await heartbeatMissed(a.connection);
    const missed = await probe.cause();

    const fresh = await connectV4(server.port);
    await fresh.log.next('welcome');
    const ack = await fresh.socket.timeout(10_000).emitWithAck('resume', { session: a.welcome.resume, since: seen });
    expect(ack).toMatchObject({ missed: 1, peer_id: a.welcome.peer_id, resume: expect.any(String) });
    expect(dataOf(fresh.log, 'probe')).toEqual([{ at: missed, seq: missed }]);
    expect(namesOf(fresh.log)).toEqual(['probe', 'resumed']);
    const next = await probe.cause();
    await fresh.log.until(() => dataOf(fresh.log, 'probe').some((data) => data.seq === next), 'a live push after the resume');
    fresh.socket.close();
    a.client.socket.close();
  });

  it('4.x with a failed auth.resume and a token: connected and signed in afresh, told why after its welcome', async () => {
    const client = await connectV4(server.port, { auth: { token, resume: { session: 'r1.nonsense', since: 3 } } });
    await client.log.until(() => namesOf(client.log).length >= 3, 'three events');
    expect(namesOf(client.log).slice(0, 3)).toEqual(['welcome', 'resume-failed', 'auth-accept']);
    expect(dataOf(client.log, 'resume-failed')).toMatchObject([{ reason: 'unknown' }]);
    const own = (client.log.events.find((event) => event.event === 'welcome')!.args[0] as Welcome).peer_id;
    expect(client.socket.id).toBe(own);
    expect(server.gateway.connections.get(own)?.principal.kind).toBe('app');

    // Garbage in auth.resume: refused as a bad frame, the CONNECT still accepted.
    const garbage = await connectV4(server.port, { auth: { resume: 'not an object' } });
    await garbage.log.until(() => namesOf(garbage.log).includes('error'), 'the refusal');
    expect(dataOf(garbage.log, 'error')).toMatchObject([{ code: 'BAD_REQUEST' }]);
    expect(await garbage.socket.timeout(10_000).emitWithAck('ping')).toMatchObject({ ts: expect.any(Number) });
    client.socket.close();
    garbage.socket.close();
  });

  it('2.x resumes with the resume event after its TCP connection is destroyed', async () => {
    const v2 = await connectV2(server.port);
    const welcome = (await v2.log.next('welcome')).args[0] as Welcome;
    v2.socket.emit('auth-request', token);
    await v2.log.next('auth-accept');
    const connection = server.gateway.connections.get(welcome.peer_id)!;
    probe.watchers.add(connection);
    const seen = await probe.cause();
    expect((await v2.log.next('probe')).args[0]).toEqual({ at: seen, seq: seen });

    // engine.io-client 3.x keeps its `ws` WebSocket on the transport: destroying its socket is a cut.
    const transport = Reflect.get(Reflect.get(v2.socket.io, 'engine'), 'transport');
    (Reflect.get(transport, 'ws') as { _socket: { destroy(): void } })._socket.destroy();
    await until(() => connection.detached, 'the 2.x connection is detached');
    const missed = await probe.cause();

    const again = await connectV2(server.port);
    await again.log.next('welcome');
    expect(await emitWithAckV2(again.socket, 'resume', { session: welcome.resume, since: seen })).toMatchObject({ missed: 1, peer_id: welcome.peer_id });
    expect(dataOf(again.log, 'probe')).toEqual([{ at: missed, seq: missed }]);
    again.socket.close();
    v2.socket.close();
  });

  it('a native session cannot be resumed over Socket.IO (another transport): forbidden', async () => {
    const native = await TestClient.open(server.wsUrl());
    const welcome = (await native.next('welcome')).data as Welcome;
    native.sendJson({ event: 'auth-request', data: token });
    await native.next('auth-accept');
    native.socket.terminate();
    await until(() => server.gateway.connections.get(welcome.peer_id)?.detached === true, 'detached');
    const client = await connectV4(server.port);
    expect(await client.socket.timeout(10_000).emitWithAck('resume', { session: welcome.resume, since: 0 })).toMatchObject({ reason: 'forbidden' });
    client.socket.close();
  });
});
