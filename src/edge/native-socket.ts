import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { Codec } from '../core/types.js';
import { FrameCodec, FrameError, negotiateSubprotocol, type InboundFrame } from '../protocol/index.js';
import type { WebSocketRoute } from './uws.js';
import { ClientConnection, unknownEvent, type ConnectionInfo, type ConnectionLimits } from './connection.js';
import type { EventHandlers } from './handlers.js';
import { json } from './http.js';
import type { GatewayMetrics } from './metrics.js';
import { originAllowed } from './origin.js';

export interface NativeSocketDependencies {
  handlers: EventHandlers;
  metrics: GatewayMetrics;
  clock: Clock;
  limits: ConnectionLimits & { maxFrameBytes: number; maxFrameDepth: number };
  allowedOrigins: readonly string[];
  /** False while starting or shutting down: upgrades are refused with 503. */
  accepting(): boolean;
  opened(connection: ClientConnection): void;
  closed(connection: ClientConnection, code: number, reason: string): void;
  onHandlerError(connection: ClientConnection, event: string, error: unknown): void;
  /**
   * Tried on text frames before the generic decode (the relay's route-on-the-envelope path);
   * returns true when it handled the frame, false to let the generic path decode it.
   */
  textFastPath?(connection: ClientConnection, message: ArrayBuffer | Uint8Array, now: number): boolean;
}

/** `/ws`: the native protocol of PROTOCOL.md section 2 over the uWS edge. */
export function nativeSocketRoute(deps: NativeSocketDependencies): WebSocketRoute {
  const codec = new FrameCodec({ maxFrameBytes: deps.limits.maxFrameBytes, maxDepth: deps.limits.maxFrameDepth });
  const countOut = (which: Codec) => {
    deps.metrics.frames.out[which] += 1;
  };

  const handlerFailed = (connection: ClientConnection, frame: InboundFrame, error: unknown): void => {
    if (!(error instanceof AppError)) deps.onHandlerError(connection, frame.event, error);
    const { code } = connection.fail(frame.id, error, deps.clock.now());
    deps.metrics.errors.inc({ code });
  };

  const dispatch = (connection: ClientConnection, message: ArrayBuffer | Uint8Array, isBinary: boolean): void => {
    const now = deps.clock.now();
    connection.framesIn += 1;
    deps.metrics.frames.in[isBinary ? 'msgpack' : 'json'] += 1;
    if (!isBinary && deps.textFastPath?.(connection, message, now)) return;
    let frame;
    try {
      frame = codec.decode(message, isBinary);
    } catch (error) {
      const { code } = connection.fail(error instanceof FrameError ? error.frameId : undefined, error, now);
      deps.metrics.errors.inc({ code });
      return;
    }
    const handler = deps.handlers.get(frame.event);
    if (!handler) {
      const { code } = connection.fail(frame.id, unknownEvent(frame.event), now);
      deps.metrics.errors.inc({ code });
      return;
    }
    try {
      const result = handler({ connection, frame, now });
      // The rejection closure is made only for asynchronous handlers: most answer at once,
      // and a closure per frame is an allocation on the hottest path.
      if (result instanceof Promise) result.catch((error: unknown) => handlerFailed(connection, frame, error));
    } catch (error) {
      handlerFailed(connection, frame, error);
    }
  };

  return {
    path: '/ws',
    upgrade(request) {
      if (!deps.accepting()) return { refuse: json(503, { error: { code: 'UNAVAILABLE', message: 'gateway is not ready' } }) };
      if (!originAllowed(request.headers.origin, request.headers.host, deps.allowedOrigins)) {
        return { refuse: json(403, { error: { code: 'FORBIDDEN', message: 'origin not allowed' } }) };
      }
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
      // bench/micro/dispatch.mjs).
      const client = connection as ClientConnection;
      try {
        dispatch(client, message, isBinary);
      } catch (error) {
        // A bug on the way to a handler (a fast path, a codec): this frame is answered
        // INTERNAL and counted as bad, and the connection and the process go on.
        deps.onHandlerError(client, 'frame', error);
        const { code } = client.fail(undefined, error, deps.clock.now());
        deps.metrics.errors.inc({ code });
      }
    },
    close(connection, code, reason) {
      const client = connection as ClientConnection;
      client.closed = true;
      deps.closed(client, code, reason);
    },
  };
}

