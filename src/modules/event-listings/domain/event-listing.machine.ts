import { assign, setup } from 'xstate';
import type { EventListingEvent } from './event-listing.events.js';

/**
 * What decide needs of a listing: who owns it (the events name it) and its dates (an update
 * of one date is checked against the other). Names, slugs and roles live in the read model,
 * so a listing with thousands of roles keeps a small actor.
 */
export interface EventListingContext {
  eventId: string | null;
  organisationId: string | null;
  startDate: number;
  endDate: number;
}

/**
 * The `evolve` of a listing stream: none -> scheduled -> deleted (final: the stream takes no
 * more commands; decide refuses them as NOT_FOUND). No timers: a listing's dates are data,
 * nothing in the gateway fires at them.
 */
export const eventListingMachine = setup({
  types: {
    context: {} as EventListingContext,
    events: {} as EventListingEvent,
  },
}).createMachine({
  id: 'event_listing',
  initial: 'none',
  context: { eventId: null, organisationId: null, startDate: 0, endDate: 0 },
  states: {
    none: {
      on: {
        EventScheduled: {
          target: 'scheduled',
          actions: assign(({ event }) => ({
            eventId: event.data.eventId,
            organisationId: event.data.organisationId,
            startDate: event.data.startDate,
            endDate: event.data.endDate,
          })),
        },
      },
    },
    scheduled: {
      on: {
        EventUpdated: {
          actions: assign(({ context, event }) => ({
            startDate: event.data.changes.startDate ?? context.startDate,
            endDate: event.data.changes.endDate ?? context.endDate,
          })),
        },
        // Roles are the read model's; the stream only records them.
        EventUserTypeSet: {},
        EventDeleted: { target: 'deleted' },
      },
    },
    deleted: { type: 'final' },
  },
});
