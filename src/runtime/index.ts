export * from '../core/decider.js';
export * from './actor-runtime.js';
export * from './mailbox.js';
export * from '../cluster/local.js';
