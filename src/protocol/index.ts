export * from './envelope.js';
export * from './codecs.js';
export * from './engineio.js';
export * from './socketio.js';
export * from './json-scan.js';
export * from './jsonrpc.js';
export * from './http.js';
export * from './engineio-payload.js';
