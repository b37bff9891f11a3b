import { DISCONNECT, newId } from '../../core/index.js';
import type { Clock } from '../../core/index.js';
import { EnginePacketError, MAX_HANDSHAKE_QUERY_LENGTH, decodeV3Payload, decodeV4Payload, type EngineMessage, type EngineVersion } from '../../protocol/index.js';
import type { WebSocketRoute } from '../uws.js';
import type { ConnectionInfo, SocketSink } from '../connection.js';
import type { HttpRequest, HttpResponse, HttpRoute } from '../http.js';
import type { GatewayMetrics } from '../metrics.js';
import { originAllowed } from '../origin.js';
import { isEngineRouteState, type EngineIoOptions, type EngineTransport, type EngineSocketData, type EngineUpgradeDependencies } from './engineio-socket.js';
import { BAD_REQUEST, PollingSession, engineError, type PollingHost } from './polling-session.js';
import { socketIoRoute } from './socketio-route.js';
import type { SocketIoDependencies } from './socketio-socket.js';

/**
 * Engine.IO HTTP long-polling (PROTOCOL.md section 3), v3 and v4, and the upgrade from it to a
 * WebSocket, for any Engine.IO route: `/socket.io/` (socketIoTransports) and the protocol
 * fixture's bare `/engine.io/`. A polling session (polling-session.ts) is a `SocketSink` that
 * queues the messages the layers above send and answers them to the client's held GET; the
 * POSTs' packets go to the same route functions a WebSocket's messages go to. So a polling
 * session is the same ClientConnection / SocketIoSession / Dispatcher, opened, counted and
 * closed by the same route code as a WebSocket one; only the framing differs. Answers follow
 * the reference server (engine.io): unknown sid 400 `{"code":1,...}`, an overlapping GET 400
 * and the session closed, POSTs answered `ok`.
 */

const SESSION_UNKNOWN = { code: 1, message: 'Session ID unknown' };
const BAD_HANDSHAKE_METHOD = { code: 2, message: 'Bad handshake method' };
const UNSUPPORTED_VERSION = { code: 5, message: 'Unsupported protocol version' };
const TRANSPORT_UNKNOWN = { code: 0, message: 'Transport unknown' };

export interface EnginePollingDependencies extends EngineUpgradeDependencies {
  options: EngineIoOptions;
  limits: { maxBackpressureBytes: number };
  clock: Clock;
  metrics: GatewayMetrics;
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
      if (state) this.server.route.message(this.session.routeState, message, isBinary);
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
      if (this.session.state) this.server.route.close(this.session.routeState, code, reason);
      return;
    }
    this.session.upgrading = false;
    this.server.probeClosed(this);
  }
}

class PollingServer implements PollingHost {
  readonly sessions = new Map<string, PollingSession>();
  /** Sessions moved onto their WebSocket, while it is open: a second upgrade naming one is accepted and closed. */
  readonly upgradedSids = new Set<string>();
  private readonly probes = new Map<PollingSession, Probe>();
  constructor(
    readonly deps: EnginePollingDependencies,
    /** The route functions polling sessions run on: the WebSocket route's, its OPEN offering the upgrade. */
    readonly route: WebSocketRoute,
  ) {}

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
    session.routeState = state;
    if (isEngineRouteState(state)) session.state = state;
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

export interface EngineIoTransports {
  /** The route's WebSocket route, taking upgrades from polling sessions too. */
  webSocket: WebSocketRoute;
  /** GET/POST/OPTIONS on the path: long-polling. */
  http: HttpRoute[];
  /** Open polling sessions (not yet upgraded), for tests and metrics. */
  pollingSessions(): number;
}

/**
 * An Engine.IO route on both transports, sharing sessions: `routeFor` makes the route's
 * functions, once for polling sessions (`upgrades: ['websocket']`: their OPEN offers the
 * upgrade) and once for WebSockets from the start (the options as given: nothing to upgrade to).
 */
export function engineIoTransports(
  path: string,
  deps: EnginePollingDependencies,
  routeFor: (options: EngineIoOptions, transport: EngineTransport) => WebSocketRoute,
): EngineIoTransports {
  const server = new PollingServer(deps, routeFor({ ...deps.options, upgrades: ['websocket'] }, 'polling'));
  const base = path.endsWith('/') ? path.slice(0, -1) : path;
  const handler = (request: HttpRequest) => server.handle(request);
  // maxHttpBufferSize is maxPayload, as in the reference server: larger POSTs get 413 unread.
  const http: HttpRoute[] = [base, `${base}/`].flatMap((routePath) =>
    (['get', 'post', 'options'] as const).map((method) => ({ method, path: routePath, handler, maxBodyBytes: deps.options.maxPayloadBytes })),
  );
  http.push(...[base, `${base}/`, `${base}/*`].map((routePath) => ({ method: 'any' as const, path: routePath, handler: () => engineError(400, BAD_REQUEST) })));
  return { webSocket: server.webSocketRoute(routeFor(deps.options, 'websocket')), http, pollingSessions: () => server.sessions.size };
}

/** `/socket.io/` on both transports: socketIoRoute over engineIoTransports. */
export function socketIoTransports(deps: SocketIoDependencies): EngineIoTransports {
  return engineIoTransports(deps.path ?? '/socket.io/', deps, (options, transport) => socketIoRoute({ ...deps, options: { ...deps.options, ...options } }, transport));
}
