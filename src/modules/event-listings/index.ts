import type { Clock } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { defineModule, type ActorRuntime } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import type { Connections } from '../connections/index.js';
import type { OrganisationAccess } from '../organisations/index.js';
import { Histogram, type Registry } from 'prom-client';
import { EventAudiences } from './audiences.js';
import type { EventListingsConfig } from './config.js';
import { eventListingAggregate } from './domain/index.js';
import { EventListingDirectory, eventListingsProjection } from './projection.js';
import { EventListings } from './service.js';
import { eventListingTopics } from './topics.js';

export { eventListingsConfigShape, type EventListingsConfig } from './config.js';
export { EventAudiences } from './audiences.js';
export { EventListingDirectory, eventListingsProjection, MAX_LISTED_EVENTS, type EventListing } from './projection.js';
export { EventListings, slugOf, type CommandContext, type EventListingView, type ListingChange, type ScheduleInput } from './service.js';
export { eventListingTopics, type ConsumerEventListingView } from './topics.js';
export {
  EVENT_LISTING_CATEGORY,
  EVENT_LISTING_EVENT_TYPES,
  eventListingAggregate,
  isEventListingEvent,
  type EventListingChanges,
  type EventListingEvent,
  type EventListingFields,
  type EventUserTypeAssignment,
  type UserType,
} from './domain/index.js';

export interface EventListingsDependencies {
  runtime: ActorRuntime;
  store: EventStore;
  clock: Clock;
  config: EventListingsConfig;
  /** Only `onClosed` is used: a closed connection leaves every event's audience. */
  connections: Pick<Connections, 'onClosed'>;
  access: OrganisationAccess;
  /** Whether the organisation exists (and is not deleted): events are scheduled in existing ones only. */
  organisationExists(organisationId: string): boolean;
  /** The gateway's metrics registry: the push fan-out histogram goes there. */
  registry?: Registry;
  /** The itineraries an event holds (the itineraries module's), which its dates must keep holding. */
  heldWithin?(eventId: string): readonly { name: string; startDate: number; endDate: number }[];
}

/** What other modules (itineraries) and the app use of event listings. */
export interface EventListingsApi {
  /** Schedule, update, delete, set roles: the commands, with their checks. */
  listings: EventListings;
  /** The read model: `get(eventId)`, lists, nesting, roles, slugs. */
  directory: EventListingDirectory;
  /** Which connections are on an event, and the push to them. */
  audiences: EventAudiences;
}

/**
 * Extream's events (PROTOCOL.md section 8), called event listings because the log's records
 * are events: `admin_event_{create,read,update,delete}` under the organisation's permissions
 * and `consumer_event_get`, each change an event on `event_listing-<eventId>`; the read model
 * `event_listings` answers every read. Asking for an event puts the connection in its audience,
 * which itineraries push to.
 */
export const eventListingsModule = defineModule<EventListingsDependencies, EventListingsApi, ClientConnection>({
  name: 'event-listings',
  aggregates: [eventListingAggregate],
  projections: [eventListingsProjection],
  create({ runtime, store, clock, config, connections, access, organisationExists, heldWithin, registry }) {
    const directory = new EventListingDirectory(store.readModels);
    const fanOut = registry && pushFanOutHistogram(registry);
    const audiences = new EventAudiences(connections, config.eventSubscriptionsPerConnection, fanOut && ((event, seconds) => fanOut.observe({ event }, seconds)));
    const listings = new EventListings({ runtime, directory, audiences, clock, organisationExists, ...(heldWithin ? { heldWithin } : {}) });
    return {
      api: { listings, directory, audiences },
      topics: eventListingTopics({ listings, directory, audiences, access, organisationExists }),
    };
  },
});

/**
 * How long one push to an event's audience takes to hand to every socket (the send loop: the
 * gateway's share of a fan-out; what the network and clients add comes after).
 */
function pushFanOutHistogram(registry: Registry): Histogram<'event'> {
  return new Histogram({
    name: 'switchyard_push_fanout_seconds',
    help: "Time to send one push to every connection on an event (the send loop), by push event",
    labelNames: ['event'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1],
    registers: [registry],
  });
}
