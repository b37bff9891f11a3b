import type { RecordedEvent } from '../../../core/index.js';
import type { UserType } from '../../../protocol/topics/extream.js';

/**
 * An Extream event (PROTOCOL.md section 8), named an event listing in code because the log's
 * records are events: one stream per listing, `event_listing-<eventId>` (a UUID the service
 * draws). An organisation hosts it; it may nest under a parent listing of the same
 * organisation. Deletion is soft: the stream ends, the read model keeps the row.
 */

export const EVENT_LISTING_CATEGORY = 'event_listing';

export type { UserType };

/** What a listing shows and an update may change; the organisation is fixed at scheduling. */
export interface EventListingFields {
  parentId: string | null;
  name: string;
  /** Unique among the organisation's live listings (the service picks it, the projection guards it). */
  slug: string;
  description: string | null;
  website: string | null;
  /** An IANA zone name for display only: dates are epoch milliseconds, UTC. */
  timezone: string | null;
  startDate: number;
  endDate: number;
  public: boolean;
  /** Free JSON kept as the client gave it (bounded at the edge). */
  data: Record<string, unknown> | null;
}

export type EventListingChanges = Partial<EventListingFields>;

export interface EventScheduledData extends EventListingFields {
  eventId: string;
  organisationId: string;
  scheduledAt: number;
}

export interface EventUpdatedData {
  eventId: string;
  organisationId: string;
  /** Only the fields the command named; a field absent here kept its value. */
  changes: EventListingChanges;
  updatedAt: number;
}

export interface EventDeletedData {
  eventId: string;
  organisationId: string;
  deletedAt: number;
}

export interface EventUserTypeSetData {
  eventId: string;
  userId: string;
  userType: UserType;
  setAt: number;
}

export type EventListingEvent =
  | { type: 'EventScheduled'; data: EventScheduledData }
  | { type: 'EventUpdated'; data: EventUpdatedData }
  | { type: 'EventDeleted'; data: EventDeletedData }
  | { type: 'EventUserTypeSet'; data: EventUserTypeSetData };

/** A listing event as the log recorded it. */
export type RecordedEventListingEvent = RecordedEvent & EventListingEvent;

/**
 * Every EventListingEvent type, for the operator's event catalogue and the projection's
 * filter; `satisfies` fails to compile when the union gains a type not listed here.
 */
export const EVENT_LISTING_EVENT_TYPES = Object.keys({
  EventScheduled: true,
  EventUpdated: true,
  EventDeleted: true,
  EventUserTypeSet: true,
} satisfies Record<EventListingEvent['type'], true>) as readonly EventListingEvent['type'][];

const EVENT_LISTING_TYPE_SET: ReadonlySet<string> = new Set(EVENT_LISTING_EVENT_TYPES);
const EVENT_LISTING_STREAM_PREFIX = `${EVENT_LISTING_CATEGORY}-`;

/**
 * Whether a recorded event is one of a listing's. The log is the only writer of these
 * streams, so the data then has the type's shape.
 */
export function isEventListingEvent(event: RecordedEvent): event is RecordedEventListingEvent {
  return event.streamId.startsWith(EVENT_LISTING_STREAM_PREFIX) && EVENT_LISTING_TYPE_SET.has(event.type);
}
