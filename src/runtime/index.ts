export * from './actor-runtime.js';
export * from './mailbox.js';
export * from './topic-handler.js';
export * from './processors.js';
export * from './scheduler.js';
export * from './module.js';
