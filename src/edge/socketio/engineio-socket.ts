import { DISCONNECT } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { newId } from '../../core/index.js';
import type { Clock } from '../../core/index.js';
import {
  EnginePacketError,
  EnginePacketType,
  decodeEnginePacket,
  encodeEnginePacket,
  encodeOpenPacket,
  parseHandshakeQuery,
  type EngineHandshake,
  type EngineVersion,
} from '../../protocol/index.js';
import type { UpgradeRequest, WebSocketRoute } from '../uws.js';
import { ClientConnection, type ConnectionInfo, type ConnectionLimits, type FrameEncoder } from '../index.js';
import { json, type HttpResponse } from '../index.js';
import type { GatewayMetrics } from '../index.js';
import { originAllowed } from '../origin.js';

/**
 * The Engine.IO layer of `/socket.io/` (and of the protocol fixture's bare `/engine.io/`):
 * handshake checks, the OPEN packet, heartbeats and the control packets, over one uWS
 * WebSocket or one polling session. HTTP long-polling, and the upgrade from it, are
 * polling.ts and polling-session.ts.
 */

export interface EngineIoOptions {
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Largest WebSocket message; larger ones close the socket with 1009 (app.ts). */
  maxPayloadBytes: number;
  /** What the OPEN packet offers to upgrade to: `['websocket']` for polling sessions (polling.ts). */
  upgrades?: readonly string[];
}

export interface EngineUpgradeDependencies {
  accepting(): boolean;
  allowedOrigins: readonly string[];
  /** Per-address and overall connection limits: a refusal (429 with retry-after), or undefined to admit. */
  admit?(remoteAddress: string): HttpResponse | undefined;
}

/** Which sink an Engine.IO route's `open` gets: a uWS WebSocket, or a polling session (polling.ts). */
export type EngineTransport = 'websocket' | 'polling';

export interface EngineSocketData {
  info: ConnectionInfo;
  handshake: EngineHandshake;
}

const badRequest = (message: string): HttpResponse => json(400, { error: { code: 'BAD_REQUEST', message } });

/** The upgrade decision shared by the Engine.IO routes: readiness, Origin, then the query. */
export function engineUpgrade(request: UpgradeRequest, deps: EngineUpgradeDependencies): { refuse: HttpResponse } | { accept: EngineSocketData } {
  if (!deps.accepting()) return { refuse: json(503, { error: { code: 'UNAVAILABLE', message: 'gateway is not ready' } }) };
  if (!originAllowed(request.headers.origin, request.headers.host, deps.allowedOrigins)) {
    return { refuse: json(403, { error: { code: 'FORBIDDEN', message: 'origin not allowed' } }) };
  }
  const refusal = deps.admit?.(request.remoteAddress);
  if (refusal) return { refuse: refusal };
  const parsed = parseHandshakeQuery(request.query);
  if (!parsed.ok) return { refuse: badRequest(parsed.message) };
  const info: ConnectionInfo = {
    id: newId(),
    codec: 'json',
    transport: 'socket.io',
    remoteAddress: request.remoteAddress,
    userAgent: request.headers['user-agent'] ?? null,
    origin: request.headers.origin ?? null,
  };
  return { accept: { info, handshake: parsed.handshake } };
}

/** The close reason when the client sent an Engine.IO CLOSE packet (polling answers it with a NOOP). */
export const CLIENT_CLOSED_SESSION = 'client closed the Engine.IO session';
/** The close reason of a missed heartbeat (the reference server's "ping timeout"). */
export const HEARTBEAT_TIMEOUT = 'ping timeout';

/** What an Engine.IO route's `open` returns: its connection, whichever transport carries it (polling.ts reads it). */
export interface EngineRouteState {
  readonly connection: ClientConnection;
}

export function isEngineRouteState(state: unknown): state is EngineRouteState {
  return typeof state === 'object' && state !== null && 'connection' in state && state.connection instanceof ClientConnection;
}

export interface EngineSocketListener {
  /** The data of a MESSAGE packet: text, or bytes (a copy, safe to keep). */
  message(data: string | Uint8Array): void;
  /** A message that is not a valid packet here; the listener counts it. */
  badPacket(reason: string): void;
}

/**
 * One Engine.IO session on one WebSocket (or one polling session). Heartbeats by version,
 * timed as the reference server (engine.io's Socket: schedulePing, resetPingTimeout,
 * onPacket) times them:
 * - v4: the server pings (`2`) pingInterval after the OPEN and after each pong (`3`); the
 *   session closes pingTimeout after a ping whose pong is not back. While the pong is
 *   awaited, the first other packet from the client restarts that pingTimeout, once per
 *   ping: a client still sending is alive.
 * - v3: the client pings and the server answers; the session closes pingInterval +
 *   pingTimeout after the OPEN or the last ping, whatever else the client sends.
 * Timers live until `stop()`, which the route calls on close.
 */
export class EngineSocket {
  private pingTimer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** v4: whether a packet has already restarted the current ping's deadline. */
  private deadlineRefreshed = false;
  private stopped = false;

  constructor(
    readonly version: EngineVersion,
    private readonly connection: ClientConnection,
    private readonly options: EngineIoOptions,
    private readonly listener: EngineSocketListener,
  ) {}

  /** Sends the OPEN packet and starts the heartbeat. */
  start(sid: string): void {
    const { pingIntervalMs, pingTimeoutMs, maxPayloadBytes, upgrades } = this.options;
    this.connection.sendEncoded(encodeOpenPacket({ sid, pingIntervalMs, pingTimeoutMs, maxPayloadBytes, ...(upgrades ? { upgrades } : {}) }), false);
    if (this.version === 4) {
      this.pingTimer = setTimeout(() => this.ping(), pingIntervalMs);
    } else {
      this.deadline = setTimeout(() => this.timedOut(), pingIntervalMs + pingTimeoutMs);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadline);
  }

  /** One WebSocket message from uWS; `message` is only valid during this call. */
  receive(message: ArrayBuffer, isBinary: boolean): void {
    // Binary is copied (uWS frees the buffer when the callback returns); text is decoded
    // into a new string. uWS has already refused text frames that are not UTF-8.
    const raw = isBinary ? new Uint8Array(message.slice(0)) : Buffer.from(message).toString('utf8');
    let packet;
    try {
      packet = decodeEnginePacket(this.version, raw);
    } catch (error) {
      this.listener.badPacket(error instanceof EnginePacketError ? error.message : 'invalid Engine.IO packet');
      return;
    }
    if (this.version === 4 && this.deadline !== undefined && !this.deadlineRefreshed && packet.type !== EnginePacketType.PONG) {
      this.deadline.refresh();
      this.deadlineRefreshed = true;
    }
    switch (packet.type) {
      case EnginePacketType.MESSAGE:
        this.listener.message(packet.data ?? '');
        return;
      case EnginePacketType.PING:
        if (packet.data === 'probe') {
          // A transport probe; harmless to answer even though there is nothing to upgrade.
          this.write(encodeEnginePacket(this.version, { type: EnginePacketType.PONG, data: 'probe' }));
        } else if (this.version === 3) {
          this.write(encodeEnginePacket(3, packet.data === undefined ? { type: EnginePacketType.PONG } : { type: EnginePacketType.PONG, data: packet.data }));
          this.deadline?.refresh();
        } else {
          this.listener.badPacket('ping from the client: in Engine.IO v4 the server pings and the client answers');
        }
        return;
      case EnginePacketType.PONG:
        if (this.version === 4) {
          clearTimeout(this.deadline);
          this.deadline = undefined;
          // The next ping is due a whole interval after this pong (the timer has fired, so
          // refresh() re-arms it without allocating).
          this.pingTimer?.refresh();
        } else {
          this.listener.badPacket('pong from the client: in Engine.IO v3 the client pings and the server answers');
        }
        return;
      case EnginePacketType.CLOSE:
        this.connection.close(DISCONNECT.clientLeft, CLIENT_CLOSED_SESSION);
        return;
      case EnginePacketType.UPGRADE:
      case EnginePacketType.NOOP:
        return;
      case EnginePacketType.OPEN:
        this.listener.badPacket('OPEN is sent by the server only');
        return;
    }
  }

  /** The WebSocket message carrying `data` as a MESSAGE packet. */
  frame(data: string | Uint8Array): string | Uint8Array {
    return encodeEnginePacket(this.version, { type: EnginePacketType.MESSAGE, data });
  }

  send(data: string | Uint8Array): void {
    this.write(this.frame(data));
  }

  private write(message: string | Uint8Array): void {
    this.connection.sendEncoded(message, typeof message !== 'string');
  }

  private ping(): void {
    if (this.stopped || this.connection.closed) return;
    this.write(String(EnginePacketType.PING));
    this.deadlineRefreshed = false;
    this.deadline = setTimeout(() => this.timedOut(), this.options.pingTimeoutMs);
  }

  private timedOut(): void {
    if (this.stopped) return;
    this.connection.close(DISCONNECT.timeout, HEARTBEAT_TIMEOUT);
  }
}

/** A bare Engine.IO connection carries no frames of its own: the frames' `error` replies to bad packets go nowhere. */
const DROP_FRAMES: FrameEncoder = { encode: () => [] };

export interface EngineIoEchoDependencies extends EngineUpgradeDependencies {
  path: string;
  options: EngineIoOptions;
  clock: Clock;
  limits: ConnectionLimits;
  metrics: GatewayMetrics;
  opened?(connection: ClientConnection): void;
  closed?(connection: ClientConnection, code: number, reason: string): void;
}

interface EchoConnection extends EngineRouteState {
  engine: EngineSocket;
}

/**
 * The bare Engine.IO layer echoing every MESSAGE back, as the reference server of the
 * official engine.io-protocol test suite does. Only the protocol fixture serves it, on both
 * transports (polling.ts `engineIoTransports`).
 */
export function engineIoEchoRoute(deps: EngineIoEchoDependencies): WebSocketRoute {
  return {
    path: deps.path,
    maxFrameBytes: deps.options.maxPayloadBytes,
    upgrade(request) {
      const decision = engineUpgrade(request, deps);
      if ('refuse' in decision) return decision;
      return { accept: { codec: 'json', protocol: null, data: decision.accept } };
    },
    open(sink, data) {
      const { info, handshake } = data as EngineSocketData;
      const connection = new ClientConnection(info, sink, deps.limits, () => {}, DROP_FRAMES);
      const engine: EngineSocket = new EngineSocket(handshake.version, connection, deps.options, {
        message: (payload) => engine.send(payload),
        badPacket: (reason) => {
          // Nothing to answer on a bare Engine.IO echo; the packet counts toward the bad-frame limit.
          connection.countBadFrame(deps.clock.now());
          deps.metrics.errors.inc({ code: 'BAD_REQUEST' });
        },
      });
      deps.opened?.(connection);
      engine.start(info.id);
      return { connection, engine } satisfies EchoConnection;
    },
    message(state, message, isBinary) {
      (state as EchoConnection).engine.receive(message, isBinary);
    },
    close(state, code, reason) {
      const { connection, engine } = state as EchoConnection;
      connection.socketClosed();
      engine.stop();
      deps.closed?.(connection, code, reason);
    },
  };
}
