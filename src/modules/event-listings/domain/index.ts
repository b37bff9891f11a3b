import type { AggregateDefinition } from '../../../core/decider.js';
import type { EventListingCommand } from './event-listing.commands.js';
import { decideEventListing } from './event-listing.decide.js';
import { EVENT_LISTING_CATEGORY } from './event-listing.events.js';
import { eventListingMachine } from './event-listing.machine.js';

export * from './event-listing.events.js';
export * from './event-listing.commands.js';
export { eventListingMachine, type EventListingContext } from './event-listing.machine.js';
export { decideEventListing, eventNotFound, eventWasDeleted, fieldError, type EventListingSnapshot } from './event-listing.decide.js';

export const eventListingAggregate: AggregateDefinition<typeof eventListingMachine, EventListingCommand> = {
  category: EVENT_LISTING_CATEGORY,
  machine: eventListingMachine,
  decide: decideEventListing,
  // Listings are read from the read model, not from actors: none is rebuilt at start, and a
  // listing's actor is loaded from its stream when an admin command first reaches it. It stays
  // while the listing is live (admin edits come in bursts); a deleted one takes no commands.
  rebuildAtStart: false,
  keepWhile: (snapshot) => snapshot.matches('scheduled'),
};
