import type { WebSocketRoute } from '../uws.js';
import { engineUpgrade, type EngineSocketData, type EngineTransport } from './engineio-socket.js';
import { SocketIoSession, type SocketIoDependencies } from './socketio-socket.js';

/**
 * The `/socket.io/` route functions: what uWS calls for a WebSocket (uws.ts) and what
 * polling.ts calls for a polling session, over one SocketIoSession each. It never imports uWS.
 * `transport` says which sink `open` gets: a WebSocket's sends share a write per callback, so
 * its CONNECT answers get a write boundary (write-boundary.ts); a polling session's do not.
 */
export function socketIoRoute(deps: SocketIoDependencies, transport: EngineTransport = 'websocket'): WebSocketRoute {
  return {
    path: deps.path ?? '/socket.io/',
    maxFrameBytes: deps.options.maxPayloadBytes,
    upgrade(request) {
      const decision = engineUpgrade(request, deps);
      if ('refuse' in decision) return decision;
      return { accept: { codec: 'json', protocol: null, data: decision.accept } };
    },
    open(sink, data) {
      const session = new SocketIoSession(deps, data as EngineSocketData, sink, transport === 'websocket');
      deps.opened(session.connection);
      session.start();
      return session;
    },
    message(state, message, isBinary) {
      const session = state as SocketIoSession;
      session.target.framesIn += 1;
      deps.metrics.frames.in.json += 1;
      try {
        session.engine.receive(message, isBinary);
      } catch (error) {
        deps.dispatcher.fail(session.target, undefined, error, deps.clock.now());
      }
    },
    close(state, code, reason) {
      const session = state as SocketIoSession;
      session.connection.socketClosed();
      session.stop();
      deps.closed(session.connection, code, reason);
    },
  };
}
