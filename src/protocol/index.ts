export * from './envelope.js';
export * from './codecs.js';
export * from './engineio.js';
export * from './socketio.js';
