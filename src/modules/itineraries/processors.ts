import { ITINERARY_PUSHES } from '../../protocol/topics/itineraries.js';
import type { Processor } from '../../runtime/index.js';
import { isItineraryEvent } from './domain/index.js';
import type { ItineraryAudiencePort } from './ports.js';
import type { Itineraries } from './service.js';

export interface ItineraryProcessorDependencies {
  itineraries: Pick<Itineraries, 'itinerary'>;
  audiences: Pick<ItineraryAudiencePort, 'push'>;
}

/**
 * `consumer_itinerary_update` to the event's audience after each committed change, from the
 * log: changes from a socket, the CLI or HTTP reach the audience alike. A batch (one command
 * deleting an itinerary is many ItemRemoved and an ItineraryDeleted; group commit joins
 * commands) becomes one push per itinerary touched, carrying the itinerary as the read model
 * holds it now and the position of its last event in the batch, so a client can drop a push
 * older than what it has. Live only: an audience joined before a restart has no socket left.
 */
export function itineraryProcessors({ itineraries, audiences }: ItineraryProcessorDependencies): Processor[] {
  return [
    {
      name: 'itineraries.pushes',
      startFrom: 'now',
      canHandle: isItineraryEvent,
      handle(events) {
        const touched = new Map<string, { eventId: string; seq: number }>();
        for (const event of events) {
          if (!isItineraryEvent(event)) continue;
          touched.set(event.data.itineraryId, { eventId: event.data.eventId, seq: event.position });
        }
        for (const [itineraryId, { eventId, seq }] of touched) {
          const itinerary = itineraries.itinerary(itineraryId) ?? { id: itineraryId, deleted: true };
          audiences.push(eventId, { event: ITINERARY_PUSHES.update, data: { event: eventId, itinerary, seq }, seq });
        }
      },
    },
  ];
}
