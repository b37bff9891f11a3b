import { decode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { ANONYMOUS, type Principal } from '../../src/core/types.js';
import { ClientConnection, type SocketSink } from '../../src/edge/connection.js';
import { Dispatcher } from '../../src/edge/dispatch.js';
import { sendToAll } from '../../src/edge/fan-out.js';
import { GatewayMetrics } from '../../src/edge/metrics.js';
import { PushRing } from '../../src/edge/push-ring.js';
import type { EngineSocketData } from '../../src/edge/socketio/engineio-socket.js';
import { SocketIoSession, type SocketIoDependencies } from '../../src/edge/socketio/socketio-socket.js';
import { formatResumeToken, newNodeId, newResumeSecret, parseResumeToken, secretsEqual } from '../../src/modules/connections/resume-token.js';
import { encodeFrame, type OutboundFrame } from '../../src/protocol/index.js';

/**
 * The wire side of resume (PROTOCOL.md section 11) without a socket: where `seq` goes in each
 * codec, what the fan-out keeps and encodes once, what a connection's ring replays for a
 * `since`, and the resume token's shape and compare.
 */

class RecordingSink implements SocketSink {
  readonly sent: (string | Uint8Array)[] = [];
  ended: { code: number; reason: string } | undefined;
  send(message: string | Uint8Array): number {
    this.sent.push(message);
    return 1;
  }
  end(code: number, reason: string): void {
    this.ended = { code, reason };
  }
  bufferedAmount(): number {
    return 0;
  }
}

const USER: Principal = { kind: 'user', userId: 'u-1', organisationId: null, groups: [], external: false };
const limits = { maxBackpressureBytes: 1 << 20, badFrameLimit: 20, badFrameWindowMs: 10_000, resumeBufferPushes: 4 };

function nativeConnection(id: string, codec: 'json' | 'msgpack' = 'json', principal: Principal = USER) {
  const sink = new RecordingSink();
  const connection = new ClientConnection({ id, codec, transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null }, sink, limits, () => {});
  connection.principal = principal;
  return { connection, sink };
}

const clock: Clock = { now: () => 1_000 };
const metrics = new GatewayMetrics();
const sessions: SocketIoSession[] = [];
afterEach(() => {
  for (const session of sessions.splice(0)) session.stop();
});

/** A Socket.IO 4.x session connected to `/`, its OPEN and CONNECT answer already taken. */
function socketIoConnection(id: string) {
  const deps: SocketIoDependencies = {
    dispatcher: new Dispatcher({ metrics, clock, onHandlerError: () => undefined }),
    metrics,
    clock,
    limits: { ...limits, maxFrameDepth: 8 },
    options: { pingIntervalMs: 60_000, pingTimeoutMs: 60_000, maxPayloadBytes: 1_000_000, connectTimeoutMs: 60_000, namespaces: ['/'] },
    allowedOrigins: [],
    accepting: () => true,
    opened: () => undefined,
    closed: () => undefined,
    authenticateOnConnect: false,
  };
  const data: EngineSocketData = {
    info: { id, codec: 'json', transport: 'socket.io', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
    handshake: { version: 4, query: new URLSearchParams() },
  };
  const sink = new RecordingSink();
  const session = new SocketIoSession(deps, data, sink);
  sessions.push(session);
  session.start();
  const packet = Buffer.from('40');
  session.engine.receive(packet.buffer.slice(packet.byteOffset, packet.byteOffset + packet.byteLength) as ArrayBuffer, false);
  session.connection.principal = USER;
  sink.sent.splice(0);
  return { connection: session.connection, sink };
}

const push = (seq: number, event = 'probe', data: unknown = { n: seq }): OutboundFrame & { seq: number } => ({ event, data, seq });
const seqsOf = (frames: readonly OutboundFrame[]) => frames.map((frame) => frame.seq);

describe('seq on the wire', () => {
  it('native JSON puts seq beside event: {"event","data","seq"}, and before id on a direct answer', () => {
    expect(encodeFrame('json', push(42, 'x', { a: 1 }))).toBe('{"event":"x","data":{"a":1},"seq":42}');
    expect(encodeFrame('json', { event: 'x', data: { a: 1 }, seq: 42, id: 7 })).toBe('{"event":"x","data":{"a":1},"seq":42,"id":7}');
    expect(encodeFrame('json', { event: 'x', data: { a: 1 } })).toBe('{"event":"x","data":{"a":1}}');
  });

  it('MessagePack carries seq as a key of the envelope, not of the data', () => {
    expect(decode(encodeFrame('msgpack', push(42, 'x', { a: 1 })) as Uint8Array)).toEqual({ event: 'x', data: { a: 1 }, seq: 42 });
    expect(decode(encodeFrame('msgpack', { event: 'x', data: null, id: 3 }) as Uint8Array)).toEqual({ event: 'x', data: null, id: 3 });
  });

  it('Socket.IO puts seq inside the data, in a copy: the shared frame is not changed', () => {
    const { connection, sink } = socketIoConnection('sio-1');
    const frame = push(42, 'x', { a: 1 });
    connection.send(frame);
    expect(sink.sent).toEqual(['42["x",{"a":1,"seq":42}]']);
    expect(frame.data).toEqual({ a: 1 });
    // Data that is not a plain object has nowhere to carry it.
    connection.send(push(43, 'y', [1, 2]));
    expect(sink.sent[1]).toBe('42["y",[1,2]]');
  });

  it('a fan-out encodes a push with seq once per wire format and every connection keeps the one shared frame', () => {
    const a = nativeConnection('a');
    const b = nativeConnection('b');
    const s1 = socketIoConnection('s1');
    const s2 = socketIoConnection('s2');
    const frame = push(7, 'probe', { ok: true });
    expect(sendToAll([a.connection, b.connection, s1.connection, s2.connection], frame)).toBe(4);
    expect(a.sink.sent[0]).toEqual(b.sink.sent[0]);
    // One Buffer for both native sockets, and one for both Socket.IO ones: encoded once per key.
    expect(a.sink.sent[0]).toBe(b.sink.sent[0]);
    expect(s1.sink.sent[0]).toBe(s2.sink.sent[0]);
    expect(Buffer.from(a.sink.sent[0]!).toString()).toBe('{"event":"probe","data":{"ok":true},"seq":7}');
    expect(Buffer.from(s1.sink.sent[0]!).toString()).toBe('42["probe",{"ok":true,"seq":7}]');
    for (const { connection } of [a, b, s1, s2]) {
      const replay = connection.replayFrom(0);
      expect(replay.kind === 'replay' && replay.frames[0]).toBe(frame);
    }
  });

  it('a detached connection keeps a fan-out push without anything being encoded for it', () => {
    const attached = nativeConnection('a');
    const gone = nativeConnection('g');
    gone.connection.detach(new RecordingSink());
    sendToAll([attached.connection, gone.connection], push(9));
    expect(gone.sink.sent).toEqual([]);
    const replay = gone.connection.replayFrom(0);
    expect(replay.kind === 'replay' && seqsOf(replay.frames)).toEqual([9]);
  });
});

describe('a connection’s kept pushes (PushRing)', () => {
  it('replays what was sent after the push the client saw last, in send order', () => {
    const ring = new PushRing(8);
    for (const seq of [10, 11, 12, 13]) ring.add(push(seq), true);
    expect(ring.replay(11)).toEqual({ kind: 'replay', frames: [push(12), push(13)] });
    expect(ring.replay(13)).toEqual({ kind: 'replay', frames: [] });
  });

  it('interleaved seqs (two processors, one batch): nothing sent after the last push seen is left out', () => {
    const ring = new PushRing(8);
    // A:100, A:101, B:100, B:101; the client saw A:100 and A:101 and reports the highest, 101.
    ring.add(push(100, 'a'), true);
    ring.add(push(101, 'a'), true);
    ring.add(push(100, 'b'), true);
    ring.add(push(101, 'b'), true);
    const replay = ring.replay(101);
    expect(replay.kind === 'replay' && replay.frames.map((frame) => `${frame.event}:${frame.seq}`)).toEqual(['b:100', 'b:101']);
  });

  it('a since no kept push has: everything above it, unless a higher one was dropped (a gap)', () => {
    const ring = new PushRing(3);
    ring.add(push(5), true);
    ring.add(push(8), true);
    expect(ring.replay(6)).toEqual({ kind: 'replay', frames: [push(8)] });
    expect(ring.replay(0)).toEqual({ kind: 'replay', frames: [push(5), push(8)] });
    ring.add(push(9), true);
    ring.add(push(10), true); // evicts 5
    expect(ring.replay(4)).toEqual({ kind: 'gap' });
    expect(ring.replay(5)).toEqual({ kind: 'replay', frames: [push(8), push(9), push(10)] });
    expect(ring.replay(8)).toEqual({ kind: 'replay', frames: [push(9), push(10)] });
  });

  it('a since past every seq sent is the future', () => {
    const ring = new PushRing(3);
    ring.add(push(5), true);
    expect(ring.replay(6)).toEqual({ kind: 'future' });
  });

  it('pushes sent while not resumable (anonymous) are counted, not kept: a replay across them is a gap', () => {
    const anonymous = nativeConnection('anon', 'json', ANONYMOUS);
    anonymous.connection.send(push(3));
    expect(anonymous.connection.replayFrom(0)).toEqual({ kind: 'gap' });
    anonymous.connection.principal = USER;
    anonymous.connection.send(push(4));
    expect(anonymous.connection.replayFrom(3)).toEqual({ kind: 'replay', frames: [push(4)] });
    expect(anonymous.connection.replayFrom(5)).toEqual({ kind: 'future' });
  });

  it('keeps no request id: a replay must not answer a request of the new socket', () => {
    const ring = new PushRing(2);
    ring.add({ event: 'room-join-accept', data: {}, id: 4, seq: 2 }, true);
    expect(ring.replay(0)).toEqual({ kind: 'replay', frames: [{ event: 'room-join-accept', data: {}, seq: 2 }] });
  });

  it('whatever was sent, a replay is what followed the push seen, or what is above since, or a gap or the future', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 45 }), (seqs, capacity, since) => {
        const ring = new PushRing(capacity);
        for (const seq of seqs) ring.add(push(seq), true);
        const kept = seqs.slice(-capacity);
        const replay = ring.replay(since);
        if (since > Math.max(0, ...seqs)) return replay.kind === 'future';
        const evicted = seqs.slice(0, Math.max(0, seqs.length - capacity));
        // A gap only when a push above since is no longer kept.
        if (replay.kind === 'gap') return evicted.some((seq) => seq > since);
        if (replay.kind !== 'replay') return false;
        const replayed = seqsOf(replay.frames);
        const firstSeen = kept.indexOf(since);
        // Since a kept push: everything sent after the first such push, in send order.
        if (firstSeen !== -1) expect(replayed).toEqual(kept.slice(firstSeen + 1));
        // Since no kept push: every kept push above it, in send order.
        else expect(replayed).toEqual(kept.filter((seq) => seq > since));
        return true;
      }),
    );
  });
});

describe('resume tokens', () => {
  const token = { node: newNodeId(), connectionId: 'AAAAAAAAAAAAAAAAAAAAAA', secret: newResumeSecret() };

  it('format and parse round-trip', () => {
    expect(parseResumeToken(formatResumeToken(token))).toEqual(token);
  });

  it('anything else is no token, without throwing', () => {
    const good = formatResumeToken(token);
    for (const text of ['', '.', 'r1...', good.replace('r1.', 'r2.'), `${good}.x`, good.slice(0, -1), good.replace(/.$/, '+'), 'r1.a.b.c', '\u0000'.repeat(60)]) {
      expect(parseResumeToken(text)).toBeUndefined();
    }
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (text) => parseResumeToken(text) === undefined || text.startsWith('r1.')));
  });

  it('compares secrets of equal length exactly, and refuses other lengths', () => {
    expect(secretsEqual(token.secret, token.secret)).toBe(true);
    expect(secretsEqual(token.secret, `${token.secret.slice(0, -1)}${token.secret.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(secretsEqual(token.secret, token.secret.slice(1))).toBe(false);
    expect(secretsEqual(undefined, token.secret)).toBe(false);
  });
});
