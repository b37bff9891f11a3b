import type { ClientConnection } from '../../edge/index.js';

/**
 * An Extream event as this module needs it, from the event-listings module (declared here so
 * this module does not wait on that one's api; structural, adapted at wiring if need be).
 * Dates are epoch ms; undefined when the event is unknown or deleted.
 */
export interface ItineraryEventsPort {
  get(eventId: string): { organisation_id: string; start_date: number | null; end_date: number | null; public: boolean } | undefined;
}

/** The connections following an event (event-listings' audiences): who gets `consumer_itinerary_update`. */
export interface ItineraryAudiencePort {
  join(eventId: string, connection: ClientConnection): void;
  /** Sends the frame to every connection of the event's audience; returns how many it reached. */
  push(eventId: string, frame: { event: string; data: unknown }): number;
}
