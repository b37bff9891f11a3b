export * from './errors.js';
export * from './clock.js';
export * from './ids.js';
export * from './types.js';
export * from './rate-limit.js';
export * from './collections.js';
export * from './events.js';
export * from './decider.js';
