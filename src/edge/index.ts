/**
 * The edge as modules see it: connections, HTTP helpers, the one error map, the dispatcher,
 * plain handler topics, metrics and the logger. The transports (uws.ts, native-socket.ts,
 * socketio/) are not here: app/gateway.ts wires them directly, so that importing a module
 * (as the operator CLI does) never loads the uWS native binary.
 */
export * from './connection.js';
export * from './fan-out.js';
export * from './http.js';
export * from './replies.js';
export * from './dispatch.js';
export * from './command-route.js';
export * from './handlers.js';
export * from './metrics.js';
export * from './logger.js';
export * from './push-ring.js';
