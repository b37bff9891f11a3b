/**
 * Configuration keys of polls, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>`.
 */
export const pollsConfigShape = {};

/** The slice of the gateway's config the polls module reads. */
export type PollsConfig = object;
