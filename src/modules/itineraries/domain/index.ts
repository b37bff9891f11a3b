import type { AggregateDefinition } from '../../../core/index.js';
import type { ItineraryCommand } from './itinerary.commands.js';
import { decideItinerary } from './itinerary.decide.js';
import { ITINERARY_CATEGORY } from './itinerary.events.js';
import { itineraryMachine } from './itinerary.machine.js';

export * from './itinerary.events.js';
export * from './itinerary.commands.js';
export { itineraryMachine, type ItineraryContext, type ItemSchedule } from './itinerary.machine.js';
export { decideItinerary, invalidFields, notFound, type ItinerarySnapshot, type FieldProblem } from './itinerary.decide.js';

export const itineraryAggregate: AggregateDefinition<typeof itineraryMachine, ItineraryCommand> = {
  category: ITINERARY_CATEGORY,
  machine: itineraryMachine,
  decide: decideItinerary,
  // A deleted itinerary takes no more commands (its machine is final, so its actor goes);
  // at start only the streams not deleted at the log's end are loaded.
  liveAfter: (event) => (event.type === 'ItineraryCreated' ? true : event.type === 'ItineraryDeleted' ? false : undefined),
};
