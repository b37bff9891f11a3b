import type { ItemType } from '../../../protocol/topics/itineraries.js';
import type { ItemChanges, ItineraryChanges, JsonObject } from './itinerary.events.js';

/**
 * Commands on an itinerary stream. Ids are drawn by the caller (the service, node:crypto's
 * randomUUID), like `now`: decide reads neither a clock nor a random source. Checks that need
 * other read models (the event exists, the itinerary lies within the event) are the
 * service's, before the command; decide checks what the stream knows.
 */

export interface CreateItinerary {
  type: 'CreateItinerary';
  itineraryId: string;
  eventId: string;
  organisationId: string;
  name: string;
  description: string | null;
  startDate: number;
  endDate: number;
  data: JsonObject;
  now: number;
}

export interface UpdateItinerary {
  type: 'UpdateItinerary';
  changes: ItineraryChanges;
  now: number;
}

export interface DeleteItinerary {
  type: 'DeleteItinerary';
  now: number;
}

export interface AddItem {
  type: 'AddItem';
  itemId: string;
  itemType: ItemType;
  name: string;
  description: string | null;
  startDate: number | null;
  endDate: number | null;
  /** Absent: after the itinerary's last item. */
  order?: number;
  configuration: JsonObject;
  now: number;
}

export interface UpdateItem {
  type: 'UpdateItem';
  itemId: string;
  changes: ItemChanges;
  now: number;
}

export interface RemoveItem {
  type: 'RemoveItem';
  itemId: string;
  now: number;
}

export type ItineraryCommand = CreateItinerary | UpdateItinerary | DeleteItinerary | AddItem | UpdateItem | RemoveItem;
