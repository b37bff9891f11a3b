import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { Codec } from '../core/types.js';
import { FrameCodec, FrameError, negotiateSubprotocol } from '../protocol/index.js';
import type { WebSocketRoute } from './app.js';
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
}

/** `/ws`: the native protocol of PROTOCOL.md section 2 over the uWS edge. */
export function nativeSocketRoute(deps: NativeSocketDependencies): WebSocketRoute {
  const codec = new FrameCodec({ maxFrameBytes: deps.limits.maxFrameBytes, maxDepth: deps.limits.maxFrameDepth });
  const countOut = (which: Codec) => {
    deps.metrics.frames.out[which] += 1;
  };

  const dispatch = (connection: ClientConnection, message: ArrayBuffer, isBinary: boolean): void => {
    const now = deps.clock.now();
    connection.framesIn += 1;
    deps.metrics.frames.in[isBinary ? 'msgpack' : 'json'] += 1;
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
    const handled = (error: unknown) => {
      if (!(error instanceof AppError)) deps.onHandlerError(connection, frame.event, error);
      const { code } = connection.fail(frame.id, error, deps.clock.now());
      deps.metrics.errors.inc({ code });
    };
    try {
      const result = handler({ connection, frame, now });
      if (result instanceof Promise) result.catch(handled);
    } catch (error) {
      handled(error);
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
      // MessagePack decoding returns views into `message` for binary fields, and uWS frees
      // it when this callback returns: decode from a copy for binary frames.
      dispatch(connection as ClientConnection, isBinary ? message.slice(0) : message, isBinary);
    },
    close(connection, code, reason) {
      const client = connection as ClientConnection;
      client.closed = true;
      deps.closed(client, code, reason);
    },
  };
}

