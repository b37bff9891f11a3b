export * from './aggregate.js';
export * from './actor-runtime.js';
export * from './mailbox.js';
export * from './log-follower.js';
