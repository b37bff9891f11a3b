import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of presence, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>`.
 */
export const presenceConfigShape = {
  /** Users one `consumer_online_users` answer lists at most (the caller first); `meta.total` counts them all. */
  onlineUsersMax: int(1, 100_000).default(1000),
};

/** The slice of the gateway's config the presence module reads. */
export interface PresenceConfig {
  readonly onlineUsersMax: number;
}
