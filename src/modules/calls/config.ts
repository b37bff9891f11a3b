/**
 * Configuration keys of calls, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>`.
 */
export const callsConfigShape = {};

/** The slice of the gateway's config the calls module reads. */
export type CallsConfig = object;
