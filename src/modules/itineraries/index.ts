import type { Clock } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { defineModule, type ActorRuntime } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import type { OrganisationAccess } from '../organisations/access.js';
import type { ItinerariesConfig } from './config.js';
import { itineraryAggregate } from './domain/index.js';
import type { IssueSessionToken } from './join.js';
import { itineraryProcessors } from './processors.js';
import { ItineraryDirectory, itinerariesProjection } from './projection.js';
import { Itineraries } from './service.js';
import { itineraryTopics } from './topics.js';
import type { ItineraryAudiencePort, ItineraryEventsPort, JoinExtensions } from './ports.js';

export type { ItemModulePorts, ItineraryAudiencePort, ItineraryEventsPort, JoinExtension, JoinExtensions, JoinedItem } from './ports.js';

export { itinerariesConfigShape, type ItinerariesConfig } from './config.js';
export { itinerariesProjection, ItineraryDirectory, type ItineraryRecord, type ItemRecord } from './projection.js';
export { Itineraries, type ItineraryView, type ItemView, type ChangeContext } from './service.js';
export { rtmpStatus, sanitizeItemHtml, type IssueSessionToken, type RtmpStatus } from './join.js';
export { requireCriteria } from './criteria.js';
export { ITINERARY_CATEGORY, ITINERARY_EVENT_TYPES, itineraryAggregate, isItineraryEvent, type ItineraryEvent } from './domain/index.js';

export interface ItinerariesDependencies {
  runtime: ActorRuntime;
  store: EventStore;
  clock: Clock;
  config: ItinerariesConfig;
  access: OrganisationAccess;
  events: ItineraryEventsPort;
  audiences: ItineraryAudiencePort;
  /** The identity module's TokenService.issue('session', ...), for webrtc items' join answers. */
  issueSessionToken: IssueSessionToken;
}

export interface ItinerariesApi {
  itineraries: Itineraries;
  directory: ItineraryDirectory;
  /**
   * Where modules that run an item type (chat, polls, calls, streams) register what they add
   * to its join answer; app/modules.ts fills it once every module exists.
   */
  joinExtensions: JoinExtensions;
}

/**
 * Itineraries and their items (PROTOCOL.md section 8): admin commands on one stream per
 * itinerary (`itinerary-<id>`, its items inside), consumer reads and item joins, and
 * `consumer_itinerary_update` pushes to the event's audience from the log, so changes made
 * from the CLI or HTTP reach the audience the same way as a socket's.
 */
export const itinerariesModule = defineModule<ItinerariesDependencies, ItinerariesApi, ClientConnection>({
  name: 'itineraries',
  aggregates: [itineraryAggregate],
  projections: [itinerariesProjection],
  create({ runtime, store, clock, config, access, events, audiences, issueSessionToken }) {
    const directory = new ItineraryDirectory(store.readModels);
    const itineraries = new Itineraries({ runtime, directory, events, clock, config });
    const joinExtensions: JoinExtensions = {};
    return {
      api: { itineraries, directory, joinExtensions },
      topics: itineraryTopics({ itineraries, directory, access, events, audiences, join: { config, issueSessionToken }, joinExtensions }),
      processors: itineraryProcessors({ itineraries, audiences }),
    };
  },
});
