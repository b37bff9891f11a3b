import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts, JoinExtensions } from '../itineraries/index.js';
import type { CallsConfig } from './config.js';
import { OfferDispatcher } from './dispatch.js';
import { callAggregate } from './domain/index.js';
import { CallOperators, partyOf } from './parties.js';
import { CallPresence } from './presence.js';
import { CallReactions, type CallRoomPort } from './processors.js';
import { CallDirectory, callsProjection } from './projection.js';
import { Calls } from './service.js';
import { callJoinExtension, callTopics } from './topics.js';

export { callsConfigShape, type CallsConfig } from './config.js';
export { callsProjection, CallDirectory, type CallRecord, type CallPartyRecord } from './projection.js';
export { Calls, type CallContext, type CallOutcome } from './service.js';
export { CallPresence } from './presence.js';
export { CALL_ROOM_CLOSED, type CallRoomPort } from './processors.js';
export { CALL_CATEGORY, CALL_EVENT_TYPES, callAggregate, isCallEvent, type CallEvent } from './domain/index.js';

export interface CallsDependencies extends ItemModulePorts {
  config: CallsConfig;
  /** The rooms module's api: a call's room is a room of section 5, admitted into by the call. */
  rooms: { service: CallRoomPort };
}

export interface CallsApi {
  calls: Calls;
  directory: CallDirectory;
  presence: CallPresence;
  /** `consumer_webrtc_get` answers the caller's call state too (app/modules.ts merges these). */
  joinExtensions: JoinExtensions;
}

/**
 * Calls on webrtc items (PROTOCOL.md section 8): instant, round-robin and group modes, one
 * stream per call (`call-<instance>`), on the rooms of section 5 (a call's room is named by its
 * instance and holds whom the call let in, so the relay's membership check is the call's).
 */
export const callsModule = defineModule<CallsDependencies, CallsApi, ClientConnection>({
  name: 'calls',
  aggregates: [callAggregate],
  projections: [callsProjection],
  create({ runtime, store, clock, scheduler, logger, connections, access, events, items, users, config, rooms }) {
    const directory = new CallDirectory(store.readModels);
    const presence = new CallPresence(connections, config.callItemsPerConnection, (connection, party) => partyOf(connection.principal) === party);
    const operators = new CallOperators(access);
    const calls = new Calls({ runtime, directory, presence, operators, access, items, events, users, rooms: rooms.service });
    const dispatcher = new OfferDispatcher({ calls, directory, presence, runtime, scheduler, clock, items, config, logger });
    const reactions = new CallReactions({ calls, directory, presence, dispatcher, rooms: rooms.service, runtime, connections, items, logger });
    const joinExtensions: JoinExtensions = { webrtc: callJoinExtension({ calls, directory, operators, dispatcher }) };
    return {
      api: { calls, directory, presence, joinExtensions },
      topics: callTopics({ calls, directory, presence, operators, dispatcher, config }),
      processors: [reactions.processor()],
      // After a restart nobody is connected: calls in progress end, queued ones keep their place.
      start: async () => ({ recoveredCalls: await calls.recover(clock.now()) }),
      // The sockets are closed by now: their leaves' consequences (ended calls, closed rooms) commit before the log closes.
      stop: async () => {
        for (let round = 0; round < 10; round++) if (!(await reactions.drain()) && !(await dispatcher.drain())) return;
      },
    };
  },
});
