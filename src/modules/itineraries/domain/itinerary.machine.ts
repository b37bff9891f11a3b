import { assign, setup } from 'xstate';
import type { ItemType } from '../../../protocol/topics/itineraries.js';
import type { ItineraryEvent } from './itinerary.events.js';

/** What decide needs of a live item: its schedule (checked against the itinerary's) and its place. */
export interface ItemSchedule {
  type: ItemType;
  startDate: number | null;
  endDate: number | null;
  order: number;
}

export interface ItineraryContext {
  itineraryId: string | null;
  eventId: string | null;
  organisationId: string | null;
  startDate: number;
  endDate: number;
  /** Live items by id, in the order they were added. */
  items: Record<string, ItemSchedule>;
  /** Every item id this itinerary has held, removed ones too: an id is added once (the read model keys on it). */
  itemIds: string[];
}

const withoutItem = (items: Record<string, ItemSchedule>, itemId: string): Record<string, ItemSchedule> => {
  const { [itemId]: _removed, ...rest } = items;
  return rest;
};

/**
 * The `evolve` of an itinerary stream: none -> active -> deleted (final, so the runtime drops
 * its actor; a later command reloads the stream and is refused NOT_FOUND). Items live in the
 * context, not as states: they have no life of their own beyond being there or not.
 */
export const itineraryMachine = setup({
  types: { context: {} as ItineraryContext, events: {} as ItineraryEvent },
}).createMachine({
  id: 'itinerary',
  initial: 'none',
  context: { itineraryId: null, eventId: null, organisationId: null, startDate: 0, endDate: 0, items: {}, itemIds: [] },
  states: {
    none: {
      on: {
        ItineraryCreated: {
          target: 'active',
          actions: assign(({ event }) => ({
            itineraryId: event.data.itineraryId,
            eventId: event.data.eventId,
            organisationId: event.data.organisationId,
            startDate: event.data.startDate,
            endDate: event.data.endDate,
          })),
        },
      },
    },
    active: {
      on: {
        ItineraryUpdated: {
          actions: assign(({ context, event }) => ({
            startDate: event.data.changes.startDate ?? context.startDate,
            endDate: event.data.changes.endDate ?? context.endDate,
          })),
        },
        ItemAdded: {
          actions: assign(({ context, event }) => ({
            items: {
              ...context.items,
              [event.data.itemId]: { type: event.data.type, startDate: event.data.startDate, endDate: event.data.endDate, order: event.data.order },
            },
            itemIds: [...context.itemIds, event.data.itemId],
          })),
        },
        ItemUpdated: {
          actions: assign(({ context, event }) => {
            const item = context.items[event.data.itemId];
            if (!item) return {};
            const { changes } = event.data;
            return {
              items: {
                ...context.items,
                [event.data.itemId]: {
                  type: item.type,
                  // null is a change (the schedule removed): only an absent field keeps the value.
                  startDate: changes.startDate === undefined ? item.startDate : changes.startDate,
                  endDate: changes.endDate === undefined ? item.endDate : changes.endDate,
                  order: changes.order ?? item.order,
                },
              },
            };
          }),
        },
        ItemRemoved: { actions: assign(({ context, event }) => ({ items: withoutItem(context.items, event.data.itemId) })) },
        ItineraryDeleted: { target: 'deleted', actions: assign({ items: {} }) },
      },
    },
    deleted: { type: 'final' },
  },
});
