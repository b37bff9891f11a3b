import { newId } from '../core/index.js';
import type { Clock } from '../core/index.js';
import type { Codec } from '../core/index.js';
import { FrameCodec, FrameError, negotiateSubprotocol, type InboundFrame } from '../protocol/index.js';
import type { WebSocketRoute } from './uws.js';
import { ClientConnection, type ConnectionInfo, type ConnectionLimits } from './connection.js';
import type { Dispatcher } from './dispatch.js';
import type { FastPath } from '../runtime/index.js';
import { json, type HttpResponse } from './http.js';
import type { GatewayMetrics } from './metrics.js';
import { originAllowed } from './origin.js';

export interface NativeSocketDependencies {
  dispatcher: Dispatcher;
  metrics: GatewayMetrics;
  clock: Clock;
  limits: ConnectionLimits & { maxFrameBytes: number; maxFrameDepth: number };
  allowedOrigins: readonly string[];
  /** Per-address and overall connection limits: a refusal (429 with retry-after), or undefined to admit. */
  admit?(remoteAddress: string): HttpResponse | undefined;
  /** False while starting or shutting down: upgrades are refused with 503. */
  accepting(): boolean;
  opened(connection: ClientConnection): void;
  /**
   * The socket `connection` was opened on has closed (`socketClosed` has run). After a resume
   * the connection it wrote for is `connection.handedTo`; the socket's own is `connection`.
   */
  closed(connection: ClientConnection, code: number, reason: string): void;
  /**
   * Tried on every frame before the generic decode (the relay's route-on-the-envelope paths,
   * JSON text and MessagePack binary); returns true when it handled the frame, false to let
   * the generic path decode it.
   */
  fastPath?: FastPath<ClientConnection> | undefined;
}

/** `/ws`: the native protocol of PROTOCOL.md section 2 over the uWS edge. */
export function nativeSocketRoute(deps: NativeSocketDependencies): WebSocketRoute {
  const codec = new FrameCodec({ maxFrameBytes: deps.limits.maxFrameBytes, maxDepth: deps.limits.maxFrameDepth });
  const countOut = (which: Codec) => {
    deps.metrics.frames.out[which] += 1;
  };

  const fastPath = deps.fastPath;
  // Bound once: the fast path's refusals go through the dispatcher without a closure per frame.
  const failFast = (connection: ClientConnection, id: number | undefined, error: unknown, now: number): void => {
    deps.dispatcher.fail(connection, { event: 'relay', data: undefined, id }, error, now);
  };

  const dispatch = (connection: ClientConnection, message: ArrayBuffer | Uint8Array, isBinary: boolean): void => {
    const now = deps.clock.now();
    connection.framesIn += 1;
    deps.metrics.frames.in[isBinary ? 'msgpack' : 'json'] += 1;
    if (fastPath && fastPath(connection, message, now, failFast, isBinary)) return;
    let frame: InboundFrame;
    try {
      frame = codec.decode(message, isBinary);
    } catch (error) {
      deps.dispatcher.fail(connection, { event: 'frame', data: undefined, id: error instanceof FrameError ? error.frameId : undefined }, error, now);
      return;
    }
    deps.dispatcher.dispatch(connection, frame, now);
  };

  return {
    path: '/ws',
    upgrade(request) {
      if (!deps.accepting()) return { refuse: json(503, { error: { code: 'UNAVAILABLE', message: 'gateway is not ready' } }) };
      if (!originAllowed(request.headers.origin, request.headers.host, deps.allowedOrigins)) {
        return { refuse: json(403, { error: { code: 'FORBIDDEN', message: 'origin not allowed' } }) };
      }
      const refusal = deps.admit?.(request.remoteAddress);
      if (refusal) return { refuse: refusal };
      const { protocol, codec: negotiated } = negotiateSubprotocol(request.headers['sec-websocket-protocol']);
      const info: ConnectionInfo = {
        id: newId(),
        codec: negotiated,
        transport: 'native',
        remoteAddress: request.remoteAddress,
        userAgent: request.headers['user-agent'] ?? null,
        origin: request.headers.origin ?? null,
      };
      return { accept: { codec: negotiated, protocol, data: info } };
    },
    open(sink, data) {
      const connection = new ClientConnection(data as ConnectionInfo, sink, deps.limits, countOut);
      deps.opened(connection);
      return connection;
    },
    message(connection, message, isBinary) {
      // uWS frees `message` when this callback returns. Nothing keeps it: decoding is
      // synchronous and FrameCodec copies the binary fields a MessagePack frame decodes to
      // (views otherwise), which is cheaper than copying every binary frame before decoding
      // (a copy of a small frame cost ~0.4 µs, the whole JS side of a ping ~1.5 µs;
      // bench/micro/dispatch.mjs). The relay's fast paths copy what they forward into
      // frames of their own (a send may wait for the end of the turn: send-coalescing.ts).
      // After a resume this socket carries an earlier connection: its frames are that one's.
      const socket = connection as ClientConnection;
      const client = socket.handedTo ?? socket;
      try {
        dispatch(client, message, isBinary);
      } catch (error) {
        // A bug on the way to a handler (a fast path, a codec): this frame is answered
        // INTERNAL and counted as bad, and the connection and the process go on.
        deps.dispatcher.fail(client, undefined, error, deps.clock.now());
      }
    },
    close(connection, code, reason) {
      const client = connection as ClientConnection;
      client.socketClosed();
      deps.closed(client, code, reason);
    },
  };
}

