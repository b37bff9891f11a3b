/**
 * Configuration keys of notices, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>`.
 */
export const noticesConfigShape = {};

/** The slice of the gateway's config the notices module reads. */
export type NoticesConfig = object;
