import type { RecordedEvent } from '../../../core/index.js';
import type { ItemType } from '../../../protocol/topics/itineraries.js';

/**
 * Events of an itinerary and its items (PROTOCOL.md section 8): one stream per itinerary,
 * `itinerary-<itineraryId>`, so the checks that span an itinerary and its items (an item
 * within its itinerary's dates, no item left outside after the dates move) are decided on one
 * stream's state without a race. Deletion is soft: read models hide a deleted itinerary, the
 * log keeps it, and later commands on it are NOT_FOUND. Dates are epoch milliseconds.
 */

export const ITINERARY_CATEGORY = 'itinerary';

/** A free JSON object Extream keeps as given (the itinerary's `data`, an item's configuration). */
export type JsonObject = Record<string, unknown>;

export interface ItineraryCreatedData {
  itineraryId: string;
  /** The Extream event (an event_listings row) the itinerary runs in; it never changes. */
  eventId: string;
  /** The event's organisation when the itinerary was created: whose permissions govern it. */
  organisationId: string;
  name: string;
  description: string | null;
  startDate: number;
  endDate: number;
  data: JsonObject;
  createdAt: number;
}

/** Only the fields named change; an absent field keeps its value. */
export interface ItineraryChanges {
  name?: string;
  description?: string;
  startDate?: number;
  endDate?: number;
  data?: JsonObject;
}

export interface ItineraryUpdatedData {
  itineraryId: string;
  eventId: string;
  changes: ItineraryChanges;
  updatedAt: number;
}

export interface ItineraryDeletedData {
  itineraryId: string;
  eventId: string;
  deletedAt: number;
}

export interface ItemAddedData {
  itineraryId: string;
  eventId: string;
  itemId: string;
  type: ItemType;
  name: string;
  description: string | null;
  /** Both null, or both set (a video needs no schedule). */
  startDate: number | null;
  endDate: number | null;
  order: number;
  /** Checked against the type; an html item's HTML is stored sanitised (the log never holds an admin's script). */
  configuration: JsonObject;
  addedAt: number;
}

/** Dates may become null (both at once): an item can lose its schedule. The configuration is replaced as a whole. */
export interface ItemChanges {
  name?: string;
  description?: string;
  startDate?: number | null;
  endDate?: number | null;
  order?: number;
  configuration?: JsonObject;
}

export interface ItemUpdatedData {
  itineraryId: string;
  eventId: string;
  itemId: string;
  changes: ItemChanges;
  updatedAt: number;
}

export interface ItemRemovedData {
  itineraryId: string;
  eventId: string;
  itemId: string;
  removedAt: number;
}

export type ItineraryEvent =
  | { type: 'ItineraryCreated'; data: ItineraryCreatedData }
  | { type: 'ItineraryUpdated'; data: ItineraryUpdatedData }
  | { type: 'ItineraryDeleted'; data: ItineraryDeletedData }
  | { type: 'ItemAdded'; data: ItemAddedData }
  | { type: 'ItemUpdated'; data: ItemUpdatedData }
  | { type: 'ItemRemoved'; data: ItemRemovedData };

/** An itinerary event as the log recorded it. */
export type RecordedItineraryEvent = RecordedEvent & ItineraryEvent;

/**
 * Every ItineraryEvent type, for the operator's event catalogue and the processors' filters;
 * `satisfies` fails to compile when the union gains a type not listed here.
 */
export const ITINERARY_EVENT_TYPES = Object.keys({
  ItineraryCreated: true,
  ItineraryUpdated: true,
  ItineraryDeleted: true,
  ItemAdded: true,
  ItemUpdated: true,
  ItemRemoved: true,
} satisfies Record<ItineraryEvent['type'], true>) as readonly ItineraryEvent['type'][];

const EVENT_TYPES: ReadonlySet<string> = new Set(ITINERARY_EVENT_TYPES);
const STREAM_PREFIX = `${ITINERARY_CATEGORY}-`;

/**
 * Whether a logged event is an itinerary's: on an `itinerary-<id>` stream and of one of its
 * types. The log is the only writer of those streams, so the data then has the type's shape.
 */
export function isItineraryEvent(event: RecordedEvent): event is RecordedItineraryEvent {
  return event.streamId.startsWith(STREAM_PREFIX) && EVENT_TYPES.has(event.type);
}
