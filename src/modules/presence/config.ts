/**
 * Configuration keys of presence, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>`.
 */
export const presenceConfigShape = {};

/** The slice of the gateway's config the presence module reads. */
export type PresenceConfig = object;
