export type { MessageSource } from './message-source.js';
export { LocalLogSource } from './local.js';
