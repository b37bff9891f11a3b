/**
 * Configuration keys of chat, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>`.
 */
export const chatConfigShape = {};

/** The slice of the gateway's config the chat module reads. */
export type ChatConfig = object;
