export * from './envelope.js';
export * from './codecs.js';
