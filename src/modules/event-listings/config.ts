import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of the event-listings module, spread into the one config schema
 * (src/app/config.ts); each is also `SWITCHYARD_<KEY>`.
 */

export const eventListingsConfigShape = {
  /**
   * Events one connection is "on" at once (receives their pushes); past it the one it asked
   * for longest ago is dropped. Bounds the memory one socket can claim by asking for events.
   */
  eventSubscriptionsPerConnection: int(1, 10_000).default(64),
};

/** The slice of the gateway's config the event-listings module reads (app/config.ts's `Config` satisfies it). */
export interface EventListingsConfig {
  readonly eventSubscriptionsPerConnection: number;
}
