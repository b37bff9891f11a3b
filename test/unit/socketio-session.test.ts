import { DISCONNECT } from '../../src/core/disconnect.js';
import { Dispatcher } from '../../src/edge/dispatch.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import type { SocketSink } from '../../src/edge/connection.js';
import type { EngineSocketData } from '../../src/edge/socketio/engineio-socket.js';
import { EventHandlers } from '../../src/edge/handlers.js';
import { GatewayMetrics } from '../../src/edge/metrics.js';
import { SocketIoSession, connectTokenEvent, type SocketIoDependencies } from '../../src/edge/socketio/socketio-socket.js';

/**
 * The Socket.IO session without a socket: a fake sink records what would go on the wire,
 * so ack bookkeeping, CONNECT handling, limits and the close hook are checked message by
 * message. Heartbeat timers are long and every session is stopped after its test.
 */

class FakeSink implements SocketSink {
  readonly sent: (string | Uint8Array)[] = [];
  ended: { code: number; reason: string } | undefined;
  buffered = 0;
  /** Like uWS: 1 written, 0 written but queued behind earlier data (backpressure). */
  send(message: string | Uint8Array): number {
    this.sent.push(message);
    return this.buffered > 0 ? 0 : 1;
  }
  end(code: number, reason: string): void {
    this.ended = { code, reason };
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  /** Removes and returns what was sent so far. */
  take(): (string | Uint8Array)[] {
    return this.sent.splice(0);
  }
}

const clock: Clock = { now: () => 1_000 };
const metrics = new GatewayMetrics();
const sessions: SocketIoSession[] = [];

afterEach(() => {
  for (const session of sessions.splice(0)) session.stop();
});

/** The edge's dispatcher over these handlers' topics. */
function dispatcherOf(handlers: EventHandlers): Dispatcher {
  const dispatcher = new Dispatcher({ metrics, clock, onHandlerError: () => undefined });
  for (const topic of handlers.topics) dispatcher.add(topic);
  return dispatcher;
}

function session(
  options: { version?: 3 | 4; query?: string; handlers?: EventHandlers; badFrameLimit?: number; authenticateOnConnect?: boolean; maxBackpressureBytes?: number } = {},
) {
  const handlers = options.handlers ?? new EventHandlers();
  const deps: SocketIoDependencies = {
    dispatcher: dispatcherOf(handlers),
    metrics,
    clock,
    limits: { maxBackpressureBytes: options.maxBackpressureBytes ?? 1 << 20, badFrameLimit: options.badFrameLimit ?? 20, badFrameWindowMs: 10_000, maxFrameDepth: 4 },
    options: { pingIntervalMs: 60_000, pingTimeoutMs: 60_000, maxPayloadBytes: 1_000_000, connectTimeoutMs: 60_000, namespaces: ['/'] },
    allowedOrigins: [],
    accepting: () => true,
    opened: () => undefined,
    closed: () => undefined,
    authenticateOnConnect: options.authenticateOnConnect ?? false,
  };
  const data: EngineSocketData = {
    info: { id: 'peer-1', codec: 'json', transport: 'socket.io', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
    handshake: { version: options.version ?? 4, query: new URLSearchParams(options.query ?? '') },
  };
  const sink = new FakeSink();
  const created = new SocketIoSession(deps, data, sink);
  sessions.push(created);
  created.start();
  const receive = (message: string | Uint8Array) => {
    const buffer = typeof message === 'string' ? Buffer.from(message) : message;
    created.engine.receive(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer, typeof message !== 'string');
  };
  return { session: created, sink, receive, handlers };
}

/** A v4 session past its OPEN packet and CONNECT answer. */
function connected(options: Parameters<typeof session>[0] = {}) {
  const created = session(options);
  created.receive('40');
  created.sink.take();
  return created;
}

describe('SocketIoSession', () => {
  it('opens with the OPEN packet and answers CONNECT with the connection id as sid', () => {
    const { sink, receive } = session();
    expect(sink.take()).toEqual([expect.stringMatching(/^0\{"sid":"peer-1",/)]);
    receive('40');
    expect(sink.take()).toEqual(['40{"sid":"peer-1"}']);
  });

  it('holds events for `/` until its CONNECT, then sends them after the CONNECT answer', () => {
    const { session: created, sink, receive } = session();
    sink.take();
    created.connection.send({ event: 'welcome', data: { peer_id: 'peer-1' } });
    expect(sink.take()).toEqual([]);
    receive('40');
    expect(sink.take()).toEqual(['40{"sid":"peer-1"}', '42["welcome",{"peer_id":"peer-1"}]']);
  });

  it('revision 4 (EIO=3) is connected to `/` at once', () => {
    const { sink } = session({ version: 3 });
    expect(sink.take().slice(1)).toEqual(['40']);
  });

  it('answers an acked event as event then ack, once: a second answer with the same id is an event only', () => {
    const handlers = new EventHandlers().on('twice', ({ connection, frame }) => {
      expect(frame.id).toBeGreaterThan(0);
      connection.reply(frame.id, 'receipt', { n: 1 });
      connection.reply(frame.id, 'result', { n: 2 });
    });
    const { sink, receive } = connected({ handlers });
    receive('420["twice",{"a":1},"extra"]');
    expect(sink.take()).toEqual(['42["receipt",{"n":1}]', '430[{"n":1}]', '42["result",{"n":2}]']);
  });

  it('gives handlers the first argument as data and all of them in socketIo.args', () => {
    let seen: unknown;
    const handlers = new EventHandlers().on('args', ({ frame }) => {
      seen = { data: frame.data, id: frame.id, details: (frame as { socketIo?: unknown }).socketIo };
    });
    const { receive } = connected({ handlers });
    receive('42["args",1,"two",[3]]');
    expect(seen).toEqual({ data: 1, id: undefined, details: { args: [1, 'two', [3]], namespace: '/' } });
  });

  it('answers unknown events and bad packets with `error`, and closes with 4400 at the bad-frame limit', () => {
    const { sink, receive } = connected({ badFrameLimit: 3 });
    receive('425["nope"]');
    expect(sink.take()).toEqual([expect.stringMatching(/^42\["error",\{"code":"UNKNOWN_EVENT"/), expect.stringMatching(/^435\[\{"code":"UNKNOWN_EVENT"/)]);
    receive('42{}');
    expect(sink.take()).toEqual([expect.stringMatching(/^42\["error",\{"code":"BAD_REQUEST","message":"invalid Socket.IO packet: /)]);
    expect(sink.ended).toBeUndefined();
    receive('abc');
    expect(sink.ended).toEqual({ code: 4400, reason: 'too many bad frames' });
  });

  it('refuses event names the native envelope refuses, and arguments nested too deep', () => {
    const handlers = new EventHandlers().on('ok', () => undefined);
    const { sink, receive } = connected({ handlers });
    receive('421["bad name!"]');
    expect(sink.take()).toEqual([expect.stringMatching(/"code":"BAD_REQUEST"/), expect.stringMatching(/^431\[/)]);
    receive('42["ok",1,[[[[[1]]]]]]');
    expect(sink.take()).toEqual([expect.stringMatching(/nest deeper than 4/)]);
  });

  it('refuses events on a namespace not joined, and a second CONNECT', () => {
    const { sink, receive } = session();
    sink.take();
    receive('42["x"]');
    expect(sink.take()).toEqual([]); // held: `/` is not connected yet, so is its error
    receive('40');
    expect(sink.take()).toEqual(['40{"sid":"peer-1"}', expect.stringMatching(/has not joined/)]);
    receive('40');
    expect(sink.take()).toEqual([expect.stringMatching(/already joined/)]);
  });

  it('announces a close the client should not retry (45xx) with DISCONNECT, not others', () => {
    const first = connected();
    first.session.connection.close(DISCONNECT.userDisabled);
    expect(first.sink.take()).toEqual(['41']);
    expect(first.sink.ended?.code).toBe(4501);
    const second = connected();
    second.session.connection.close(DISCONNECT.shuttingDown);
    expect(second.sink.take()).toEqual([]);
  });

  it('closes a slow reader with 4008 like a native one', () => {
    const handlers = new EventHandlers().on('big', ({ connection }) => connection.send({ event: 'big', data: 'x' }));
    const { sink, receive } = connected({ handlers, maxBackpressureBytes: 16 * 1024 });
    sink.buffered = 32 * 1024;
    receive('42["big"]');
    expect(sink.ended?.code).toBe(4008);
  });

  it('sends binary data as BINARY_EVENT and attachments; v3 frames each attachment with byte 4', () => {
    const v4 = connected();
    v4.session.connection.send({ event: 'bin', data: { blob: Uint8Array.from([1, 2]) } });
    expect(v4.sink.take()).toEqual(['451-["bin",{"blob":{"_placeholder":true,"num":0}}]', Uint8Array.from([1, 2])]);
    const v3 = session({ version: 3 });
    v3.sink.take();
    v3.session.connection.send({ event: 'bin', data: Uint8Array.from([1, 2]) });
    expect(v3.sink.take()).toEqual(['451-["bin",{"_placeholder":true,"num":0}]', Uint8Array.from([4, 1, 2])]);
  });

  describe('CONNECT with a token (the gateway)', () => {
    it('accepts when the handler accepts: CONNECT answer, then the handler\'s answer', () => {
      const handlers = new EventHandlers().on('auth-request', ({ connection, frame }) => {
        const token = (frame.data as { token: string }).token;
        if (token.endsWith('.good')) connection.reply(frame.id, 'auth-accept', { token: 'session' });
        else connection.reply(frame.id, 'auth-reject', { message: 'Token is not valid', code: 'UNAUTHORIZED' });
      });
      const appToken = (marker: string) => `${Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'switchyard-app+jwt' })).toString('base64url')}.e30.${marker}`;
      const { sink, receive } = session({ handlers, authenticateOnConnect: true });
      sink.take();
      receive(`40{"token":"${appToken('bad')}"}`);
      expect(sink.take()).toEqual(['44{"message":"Token is not valid","data":{"code":"UNAUTHORIZED"}}']);
      receive(`40{"token":"${appToken('good')}"}`);
      expect(sink.take()).toEqual(['40{"sid":"peer-1"}', '42["auth-accept",{"token":"session"}]']);
    });

    it('refuses with 44 {message, data:{code}} and lets the client try again', () => {
      const handlers = new EventHandlers().on('authorize', ({ connection, frame }) => {
        const token = (frame.data as { token: string }).token;
        if (token === 'good') connection.reply(frame.id, 'authorized', { userId: 'u' });
        else connection.reply(frame.id, 'unauthorized', { message: 'Token is not valid', code: 'UNAUTHORIZED' });
      });
      const { sink, receive } = session({ handlers, authenticateOnConnect: true });
      sink.take();
      receive('40{"token":"bad"}');
      expect(sink.take()).toEqual(['44{"message":"Token is not valid","data":{"code":"UNAUTHORIZED"}}']);
      receive('40{"token":"good"}');
      expect(sink.take()).toEqual(['40{"sid":"peer-1"}', '42["authorized",{"userId":"u"}]']);
    });

    it('takes the x-auth query parameter when CONNECT has no token; revision 4 at once', () => {
      const handlers = new EventHandlers().on('authorize', ({ connection, frame }) => connection.reply(frame.id, 'authorized', { via: frame.data }));
      const { sink } = session({ version: 3, query: 'x-auth=from-query', handlers, authenticateOnConnect: true });
      expect(sink.take().slice(1)).toEqual(['40', '42["authorized",{"via":{"token":"from-query"}}]']);
    });

    it('a handler that throws refuses the CONNECT with its public error', () => {
      const handlers = new EventHandlers().on('authorize', () => {
        throw new AppError('RATE_LIMITED', 'slow down');
      });
      const { sink, receive } = session({ handlers, authenticateOnConnect: true });
      sink.take();
      receive('40{"token":"t"}');
      expect(sink.take()).toEqual(['44{"message":"slow down","data":{"code":"RATE_LIMITED"}}']);
    });

    it('routes a token by its typ header: app -> auth-request, organisation -> authenticate, else authorize', () => {
      const header = (typ: string) => `${Buffer.from(JSON.stringify({ alg: 'EdDSA', typ })).toString('base64url')}.e30.sig`;
      expect(connectTokenEvent(header('switchyard-app+jwt'))).toBe('auth-request');
      expect(connectTokenEvent(header('switchyard-org+jwt'))).toBe('authenticate');
      expect(connectTokenEvent(header('at+jwt'))).toBe('authorize');
      expect(connectTokenEvent('garbage')).toBe('authorize');
      expect(connectTokenEvent('!!!.x.y')).toBe('authorize');
    });
  });
});
