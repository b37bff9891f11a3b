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
  push(eventId: string, frame: { event: string; data: unknown; seq?: number }): number;
}

/** An item as another module's join extension sees it (a read-model record, dates epoch ms). */
export interface JoinedItem {
  itemId: string;
  itineraryId: string;
  eventId: string;
  organisationId: string;
  type: string;
  startDate: number | null;
  endDate: number | null;
  configuration: Record<string, unknown>;
}

/**
 * What a module that runs an item type adds to `consumer_{type}_get {id, ...}` (chat history, a
 * poll's live question, a call's state, a stream's status): called after the item was found,
 * its event admitted and its criteria met, with the answer built so far. Its fields are
 * merged into the join answer; it may also put the connection in the item's audience.
 * A throw (an AppError) refuses the join. Registered per type at wiring (app/modules.ts).
 */
export type JoinExtension = (request: {
  client: ClientConnection;
  item: JoinedItem;
  now: number;
  answer: Record<string, unknown>;
  /** The join's data as its topic's schema let it through (consumerItemGetOf: chat paging). */
  data: Readonly<Record<string, unknown>>;
}) => Promise<Record<string, unknown>> | Record<string, unknown>;

/** The join extensions by item type; `video` covers `vod` too. Filled after every module exists. */
export type JoinExtensions = Partial<Record<string, JoinExtension>>;

/**
 * What the modules that run items (chat, polls, presence, notices, calls, streams) are given
 * at wiring, beside their own config slice: the platform, and the other modules' surfaces as
 * ports (structural, so none of them imports event-listings or identity for a type). Each
 * module names the part it uses in its own Dependencies type.
 */
export interface ItemModulePorts {
  runtime: import('../../runtime/index.js').ActorRuntime;
  store: import('../../store/index.js').EventStore;
  clock: import('../../core/index.js').Clock;
  scheduler: import('../../runtime/index.js').Scheduler;
  registry: import('prom-client').Registry;
  logger: { info(details: Record<string, unknown>, message: string): void; warn(details: Record<string, unknown>, message: string): void; error(details: Record<string, unknown>, message: string): void };
  /** Open sockets: `get(id)`, `onClosed(listener)`. */
  connections: Pick<import('../connections/index.js').Connections, 'get' | 'onClosed'>;
  /** The one permission check (organisations module): require/can/isMember/participant. */
  access: import('../organisations/access.js').OrganisationAccess;
  /** Extream events as the event-listings module holds them; undefined when unknown or deleted. */
  events: {
    get(eventId: string): { eventId: string; organisationId: string; public: boolean; startDate: number | null; endDate: number | null } | undefined;
    /** The user's role in the event (`audience` unless set). */
    userTypeOf(eventId: string, userId: string): 'audience' | 'actor' | 'crew' | 'chief';
  };
  /** Who is on an event (asked for it): `members(eventId)`, `push(eventId, frame)`, `join`, `leave`. */
  audiences: Pick<import('../event-listings/index.js').EventAudiences, 'members' | 'push' | 'join' | 'leave' | 'eventsOf' | 'onJoined' | 'onLeft'>;
  /** Items as the itineraries read model holds them; undefined when unknown or removed. */
  items: { get(itemId: string): JoinedItem | undefined };
  /** Users as identity holds them, for names in answers and pushes; undefined when unknown. */
  users: { get(userId: string): { userId: string; username: string; organisationId: string | null; groups: readonly string[]; active: boolean } | undefined };
  /** Signs and verifies the gateway's tokens (identity's TokenService). */
  tokens: import('../../auth/tokens.js').TokenService;
  /** Told after a socket signed in or out (identity's onPrincipalChanged). */
  onPrincipalChanged(listener: (connection: ClientConnection) => void): void;
}
