import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of calls (PROTOCOL.md section 8), spread into the one config schema
 * (src/app/config.ts); each is also `SWITCHYARD_<KEY>`.
 */
export const callsConfigShape = {
  /** How long a queued round-robin call is offered to one operator before the next one is offered it. */
  callOfferSeconds: int(1, 3600).default(20),
  /** Webrtc items one connection is on at once for calls (rings, offers); past it the oldest is dropped. */
  callItemsPerConnection: int(1, 10_000).default(16),
  /** Ended calls a read (`consumer_webrtc_read`, `client_webrtc_get`) lists, newest first. */
  callEndedListed: int(0, 1000).default(20),
};

/** The slice of the gateway's config the calls module reads. */
export interface CallsConfig {
  readonly callOfferSeconds: number;
  readonly callItemsPerConnection: number;
  readonly callEndedListed: number;
}
