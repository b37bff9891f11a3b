/**
 * Configuration keys of streams, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>`.
 */
export const streamsConfigShape = {};

/** The slice of the gateway's config the streams module reads. */
export type StreamsConfig = object;
