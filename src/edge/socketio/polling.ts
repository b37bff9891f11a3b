import { DISCONNECT, newId } from '../../core/index.js';
import {
  EnginePacketError,
  MAX_HANDSHAKE_QUERY_LENGTH,
  decodeV3Payload,
  decodeV4Payload,
  encodeV3Payload,
  encodeV4Payload,
  type EngineMessage,
  type EngineVersion,
} from '../../protocol/index.js';
import type { WebSocketRoute } from '../uws.js';
import type { ConnectionInfo, SocketSink } from '../connection.js';
import type { HttpRequest, HttpResponse, HttpRoute } from '../http.js';
import { originAllowed } from '../origin.js';
import { CLIENT_CLOSED_SESSION, type EngineSocketData } from './engineio-socket.js';
import { SocketIoSession, socketIoRoute, type SocketIoDependencies } from './socketio-socket.js';

/**
 * Engine.IO HTTP long-polling on `/socket.io/` (PROTOCOL.md section 3), v3 and v4, and the
 * upgrade from it to a WebSocket. A polling session is a `SocketSink` that queues the
 * messages the Socket.IO layer sends and answers them to the client's held GET; the POSTs'
 * packets go to the same route functions a WebSocket's messages go to. So a polling
 * session is the same ClientConnection / SocketIoSession / Dispatcher, opened, counted and
 * closed by the same route code as a WebSocket one; only the framing differs. Answers follow the reference server (engine.io): unknown sid 400 `{"code":1,...}`, an
 * overlapping GET 400 and the session closed, POSTs answered `ok`.
 */

const SESSION_UNKNOWN = { code: 1, message: 'Session ID unknown' };
const BAD_HANDSHAKE_METHOD = { code: 2, message: 'Bad handshake method' };
const BAD_REQUEST = { code: 3, message: 'Bad request' };
const UNSUPPORTED_VERSION = { code: 5, message: 'Unsupported protocol version' };
const TRANSPORT_UNKNOWN = { code: 0, message: 'Transport unknown' };

const engineError = (status: number, error: { code: number; message: string }, headers: Record<string, string> = {}): HttpResponse =>
  ({ status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(error) });

const NOOP = '6';
const CLOSE = '1';

/** Bytes a message holds in the queue; UTF-16 units for text, close enough for a cap. */
const sizeOf = (message: EngineMessage): number => (typeof message === 'string' ? message.length : message.byteLength);

function toArrayBuffer(message: EngineMessage): ArrayBuffer {
  const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  // A copy of exactly these bytes: small Buffers share a pooled ArrayBuffer.
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** One Engine.IO session on polling (until it upgrades): the connection's sink. */
class PollingSession implements SocketSink {
  state: SocketIoSession | undefined;
  /** The held GET's answer, while one is held. */
  private held: ((response: HttpResponse) => void) | undefined;
  private heldHeaders: Record<string, string> = {};
  private queue: EngineMessage[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private pollDeadline: NodeJS.Timeout | undefined;
  private forgetTimer: NodeJS.Timeout | undefined;
  /** After `2probe` on a WebSocket: held GETs are answered at once so the client can pause polling. */
  upgrading = false;
  /** After `5`: everything goes to the WebSocket. */
  ws: SocketSink | undefined;
  ended = false;

  constructor(
    readonly sid: string,
    readonly version: EngineVersion,
    private readonly supportsBinary: boolean,
    private readonly server: PollingServer,
  ) {}

  send(message: string | Uint8Array, isBinary: boolean): number {
    if (this.ws) return this.ws.send(message, isBinary);
    if (this.ended) return 2;
    // A fan-out hands text over as UTF-8 bytes (edge/fan-out.ts): a payload tells text from
    // binary by type, so text goes back to a string here.
    this.queue.push(!isBinary && typeof message !== 'string' ? Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('utf8') : message);
    this.queuedBytes += sizeOf(message);
    this.scheduleFlush();
    // Buffered: the connection compares bufferedAmount with its backpressure cap (4008).
    return 0;
  }

  bufferedAmount(): number {
    return this.ws ? this.ws.bufferedAmount() : this.queuedBytes;
  }

  end(code: number, reason: string): void {
    if (this.ws) {
      this.ws.end(code, reason);
      return;
    }
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.pollDeadline);
    // A slow consumer's backlog is dropped; otherwise what was sent goes out before CLOSE.
    if (this.queuedBytes > this.server.deps.limits.maxBackpressureBytes) this.queue = [];
    // The client closed (its own CLOSE packet): the held GET just lets go with a NOOP, as the
    // reference server answers; a close of ours is announced with CLOSE.
    this.queue.push(code === DISCONNECT.clientLeft.code && reason === CLIENT_CLOSED_SESSION ? NOOP : CLOSE);
    this.server.probeOf(this)?.end(code, reason);
    if (this.state) this.server.route.close(this.state, code, reason);
    if (this.held) this.flush();
    // The client may never come back for the CLOSE: forget the session after a while anyway.
    else this.forgetTimer = setTimeout(() => this.server.forget(this), this.server.deps.options.pingTimeoutMs);
  }

  /** A GET with this sid: answered now when there is something to say, else held. */
  poll(request: HttpRequest, headers: Record<string, string>): HttpResponse | Promise<HttpResponse> {
    if (this.held) {
      // Two GETs at once: the reference server answers 400 and closes the session.
      this.state?.connection.close(DISCONNECT.badFrames, 'overlapping long-poll GET');
      return engineError(400, BAD_REQUEST, headers);
    }
    clearTimeout(this.pollDeadline);
    if (this.queue.length > 0 || this.upgrading) return this.answer(headers);
    return new Promise((resolve) => {
      this.held = resolve;
      this.heldHeaders = headers;
      request.signal?.addEventListener('abort', () => {
        if (this.held !== resolve) return;
        // The client went away mid-poll: what is queued waits for its next GET.
        this.held = undefined;
        this.armPollDeadline();
      }, { once: true });
    });
  }

  /** The client's packets, in order; stops at the first that closes the connection. */
  post(messages: readonly EngineMessage[]): void {
    for (const message of messages) {
      if (!this.state || this.state.connection.closed) return;
      this.server.route.message(this.state, toArrayBuffer(message), typeof message !== 'string');
    }
  }

  /** The WebSocket took over (`5`): the queue goes to it in order, the held GET gets a NOOP. */
  upgradeTo(sink: SocketSink): void {
    clearTimeout(this.pollDeadline);
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.ws = sink;
    if (this.held) this.respond([NOOP]);
    for (const message of queued) {
      if (this.state?.connection.closed) break;
      if (sink.send(message, typeof message !== 'string') === 2) break;
    }
  }

  /** Answers a held GET at once (the probe: the client waits for it before sending `5`). */
  release(): void {
    if (this.held) this.flush();
  }

  armPollDeadline(): void {
    if (this.ended || this.ws) return;
    const { pingIntervalMs, pingTimeoutMs } = this.server.deps.options;
    clearTimeout(this.pollDeadline);
    this.pollDeadline = setTimeout(() => {
      if (!this.held && !this.ws) this.state?.connection.close(DISCONNECT.timeout, 'client stopped polling');
    }, pingIntervalMs + pingTimeoutMs);
  }

  private scheduleFlush(): void {
    if (!this.held || this.flushScheduled) return;
    // Everything sent in this turn goes out in one answer.
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.held && this.queue.length > 0) this.flush();
    });
  }

  private flush(): void {
    const resolve = this.held;
    if (!resolve) return;
    this.held = undefined;
    resolve(this.answer(this.heldHeaders));
  }

  private respond(messages: readonly EngineMessage[]): void {
    const resolve = this.held;
    this.held = undefined;
    resolve?.(this.encode(messages, this.heldHeaders));
  }

  /** Everything queued (or a NOOP), now. */
  answer(headers: Record<string, string>): HttpResponse {
    const messages = this.queue.length > 0 ? this.queue : [NOOP];
    this.queue = [];
    this.queuedBytes = 0;
    if (this.ended) {
      clearTimeout(this.forgetTimer);
      this.server.forget(this);
    } else {
      this.armPollDeadline();
    }
    return this.encode(messages, headers);
  }

  private encode(messages: readonly EngineMessage[], headers: Record<string, string>): HttpResponse {
    if (this.version === 4) return { status: 200, headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers }, body: encodeV4Payload(messages) };
    const body = encodeV3Payload(messages, this.supportsBinary);
    return typeof body === 'string'
      ? { status: 200, headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers }, body }
      : { status: 200, headers: { 'content-type': 'application/octet-stream', ...headers }, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
  }
}

/** What a WebSocket upgrade naming a polling sid carries to `open`. */
class ProbeRequest {
  constructor(readonly session: PollingSession) {}
}

/** A second upgrade of a session already upgrading or upgraded: accepted, then closed at once (the reference server's answer). */
class DuplicateUpgrade {}
const DUPLICATE_UPGRADE = new DuplicateUpgrade();

/** The WebSocket of an upgrade: `2probe` -> `3probe`, then `5` moves the session onto it. */
class Probe {
  upgraded = false;

  constructor(
    readonly sink: SocketSink,
    readonly session: PollingSession,
    private readonly server: PollingServer,
  ) {}

  message(message: ArrayBuffer, isBinary: boolean): void {
    const state = this.session.state;
    if (this.upgraded) {
      if (state) this.server.route.message(state, message, isBinary);
      return;
    }
    const text = isBinary ? undefined : Buffer.from(message).toString('utf8');
    if (text === '2probe') {
      this.sink.send('3probe', false);
      this.session.upgrading = true;
      this.session.release();
    } else if (text === '5' && this.session.upgrading && !this.session.ended) {
      this.upgraded = true;
      this.server.upgraded(this);
      this.session.upgradeTo(this.sink);
    } else {
      // Anything else before the upgrade ends the probe, as the reference server does; polling goes on.
      this.sink.end(DISCONNECT.badFrames.code, 'unexpected packet during the upgrade');
    }
  }

  end(code: number, reason: string): void {
    if (!this.upgraded) this.sink.end(code, reason);
  }

  closed(code: number, reason: string): void {
    if (this.upgraded) {
      this.server.upgradedSids.delete(this.session.sid);
      if (this.session.state) this.server.route.close(this.session.state, code, reason);
      return;
    }
    this.session.upgrading = false;
    this.server.probeClosed(this);
  }
}

class PollingServer {
  readonly sessions = new Map<string, PollingSession>();
  /** Sessions moved onto their WebSocket, while it is open: a second upgrade naming one is accepted and closed. */
  readonly upgradedSids = new Set<string>();
  private readonly probes = new Map<PollingSession, Probe>();
  /** The route functions polling sessions run on: the WebSocket route's, offering the upgrade. */
  readonly route: WebSocketRoute;

  constructor(readonly deps: SocketIoDependencies) {
    this.route = socketIoRoute({ ...deps, options: { ...deps.options, upgrades: ['websocket'] } });
  }

  forget(session: PollingSession): void {
    if (this.sessions.get(session.sid) === session) this.sessions.delete(session.sid);
  }

  probeOf(session: PollingSession): Probe | undefined {
    return this.probes.get(session);
  }

  probeClosed(probe: Probe): void {
    if (this.probes.get(probe.session) === probe) this.probes.delete(probe.session);
  }

  upgraded(probe: Probe): void {
    this.probes.delete(probe.session);
    this.upgradedSids.add(probe.session.sid);
    this.forget(probe.session);
  }

  corsHeaders(origin: string | undefined): Record<string, string> {
    // Only an allowed browser origin is told it may read the answer (and send cookies).
    return origin ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' } : {};
  }

  handle(request: HttpRequest): HttpResponse | Promise<HttpResponse> {
    const origin = request.headers.origin;
    if (!originAllowed(origin, request.headers.host, this.deps.allowedOrigins)) {
      return engineError(403, { code: 4, message: 'Forbidden' });
    }
    const cors = this.corsHeaders(origin);
    if (request.method === 'OPTIONS') {
      return {
        status: 204,
        headers: {
          ...cors,
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers': request.headers['access-control-request-headers'] ?? 'content-type',
        },
      };
    }
    if (request.query.length > MAX_HANDSHAKE_QUERY_LENGTH) return engineError(400, BAD_REQUEST, cors);
    const query = new URLSearchParams(request.query);
    const eio = query.get('EIO');
    if (eio !== '3' && eio !== '4') return engineError(400, UNSUPPORTED_VERSION, cors);
    const transport = query.get('transport');
    if (transport === 'websocket') return engineError(400, BAD_REQUEST, cors);
    if (transport !== 'polling') return engineError(400, TRANSPORT_UNKNOWN, cors);
    const version: EngineVersion = eio === '3' ? 3 : 4;
    const sid = query.get('sid');
    if (sid === null) {
      if (request.method !== 'GET') return engineError(400, BAD_HANDSHAKE_METHOD, cors);
      return this.handshake(request, version, query, cors);
    }
    const session = this.sessions.get(sid);
    if (!session || session.ws) return engineError(400, SESSION_UNKNOWN, cors);
    if (session.version !== version) return engineError(400, BAD_REQUEST, cors);
    if (request.method === 'GET') return session.poll(request, cors);
    if (request.method !== 'POST') return engineError(400, BAD_REQUEST, cors);
    if (session.ended) return engineError(400, SESSION_UNKNOWN, cors);
    let messages: EngineMessage[];
    try {
      messages =
        version === 4
          ? decodeV4Payload(request.body.toString('utf8'))
          : decodeV3Payload(request.body, (request.headers['content-type'] ?? '').startsWith('application/octet-stream'));
    } catch (error) {
      // A malformed body counts as a bad frame of the session (closed past the limit).
      session.state?.connection.countBadFrame(this.deps.clock.now());
      this.deps.metrics.errors.inc({ code: 'BAD_REQUEST' });
      return engineError(400, { code: 3, message: error instanceof EnginePacketError ? error.message : 'Bad request' }, cors);
    }
    session.post(messages);
    return { status: 200, headers: { 'content-type': 'text/html', ...cors }, body: 'ok' };
  }

  private handshake(request: HttpRequest, version: EngineVersion, query: URLSearchParams, cors: Record<string, string>): HttpResponse {
    // The same gates as the WebSocket upgrade (engineUpgrade): readiness, then the connection limits.
    if (!this.deps.accepting()) return engineError(503, { code: 3, message: 'gateway is not ready' }, cors);
    const refusal = this.deps.admit?.(request.remoteAddress);
    if (refusal) return { ...refusal, headers: { ...refusal.headers, ...cors } };
    const info: ConnectionInfo = {
      id: newId(),
      codec: 'json',
      transport: 'socket.io',
      remoteAddress: request.remoteAddress,
      userAgent: request.headers['user-agent'] ?? null,
      origin: request.headers.origin ?? null,
    };
    // v3 clients that cannot take binary bodies say `b64=1` on the handshake only.
    const session = new PollingSession(info.id, version, version === 3 && !query.has('b64'), this);
    this.sessions.set(info.id, session);
    const data: EngineSocketData = { info, handshake: { version, query } };
    let state: unknown;
    try {
      state = this.route.open(session, data);
    } catch (error) {
      // Answered as a 500 by the edge; no session may linger for it.
      this.sessions.delete(info.id);
      throw error;
    }
    if (state instanceof SocketIoSession) session.state = state;
    // The OPEN packet (and a v3 client's CONNECT answer) are queued by now.
    return session.answer(cors);
  }

  webSocketRoute(inner: WebSocketRoute): WebSocketRoute {
    return {
      ...inner,
      upgrade: (request) => {
        if (request.query.length > MAX_HANDSHAKE_QUERY_LENGTH || !new URLSearchParams(request.query).has('sid')) return inner.upgrade(request);
        const query = new URLSearchParams(request.query);
        if (!originAllowed(request.headers.origin, request.headers.host, this.deps.allowedOrigins)) {
          return { refuse: engineError(403, { code: 4, message: 'Forbidden' }) };
        }
        const sid = query.get('sid') ?? '';
        if (this.upgradedSids.has(sid)) return { accept: { codec: 'json', protocol: null, data: DUPLICATE_UPGRADE } };
        const session = this.sessions.get(sid);
        if (!session || session.ended) return { refuse: engineError(400, SESSION_UNKNOWN) };
        if (session.ws || this.probes.has(session)) return { accept: { codec: 'json', protocol: null, data: DUPLICATE_UPGRADE } };
        if (query.get('transport') !== 'websocket' || query.get('EIO') !== String(session.version)) return { refuse: engineError(400, BAD_REQUEST) };
        return { accept: { codec: 'json', protocol: null, data: new ProbeRequest(session) } };
      },
      open: (sink, data) => {
        if (data === DUPLICATE_UPGRADE) {
          sink.end(DISCONNECT.clientLeft.code, 'the session is already upgraded');
          return DUPLICATE_UPGRADE;
        }
        if (!(data instanceof ProbeRequest)) return inner.open(sink, data);
        const probe = new Probe(sink, data.session, this);
        if (data.session.ended) sink.end(DISCONNECT.clientLeft.code, 'session closed');
        else this.probes.set(data.session, probe);
        return probe;
      },
      message: (state, message, isBinary) => {
        if (state === DUPLICATE_UPGRADE) return;
        if (state instanceof Probe) state.message(message, isBinary);
        else inner.message(state, message, isBinary);
      },
      close: (state, code, reason) => {
        if (state === DUPLICATE_UPGRADE) return;
        if (state instanceof Probe) state.closed(code, reason);
        else inner.close(state, code, reason);
      },
    };
  }
}

export interface SocketIoTransports {
  /** The WebSocket route of `/socket.io/`, taking upgrades from polling sessions too. */
  webSocket: WebSocketRoute;
  /** GET/POST/OPTIONS on `/socket.io/`: long-polling. */
  http: HttpRoute[];
  /** Open polling sessions (not yet upgraded), for tests and metrics. */
  pollingSessions(): number;
}

/** `/socket.io/` on both transports: socketIoRoute's WebSocket route and polling, sharing sessions. */
export function socketIoTransports(deps: SocketIoDependencies): SocketIoTransports {
  const server = new PollingServer(deps);
  const path = deps.path ?? '/socket.io/';
  const base = path.endsWith('/') ? path.slice(0, -1) : path;
  const handler = (request: HttpRequest) => server.handle(request);
  // maxHttpBufferSize is maxPayload, as in the reference server: larger POSTs get 413 unread.
  const http: HttpRoute[] = [base, `${base}/`].flatMap((routePath) =>
    (['get', 'post', 'options'] as const).map((method) => ({ method, path: routePath, handler, maxBodyBytes: deps.options.maxPayloadBytes })),
  );
  http.push(...[base, `${base}/`, `${base}/*`].map((routePath) => ({ method: 'any' as const, path: routePath, handler: () => engineError(400, BAD_REQUEST) })));
  return { webSocket: server.webSocketRoute(socketIoRoute(deps)), http, pollingSessions: () => server.sessions.size };
}
