export * from './keys.js';
export * from './odin-keys.js';
export * from './odin.js';
export * from './passwords.js';
export * from './secrets.js';
export * from './tokens.js';
export * from './totp.js';
