import type { Clock } from '../../core/clock.js';
import type { Config } from '../../app/config.js';
import { EventHandlers } from '../../edge/handlers.js';
import type { ClientConnection } from '../../edge/connection.js';
import type { Connections } from '../connections/index.js';
import { defineModule, type ActorRuntime, type Processor } from '../../runtime/index.js';
import { demoPageRoute } from './demo-page.js';
import { ROOM_CATEGORY, roomAggregate } from './domain/index.js';
import { roomsProjection } from './projection.js';
import { RoomService } from './room-service.js';

export { RoomService, userKeyOf } from './room-service.js';
export { roomsProjection } from './projection.js';
export { ROOM_CATEGORY, roomAggregate } from './domain/index.js';

export interface RoomsDependencies {
  runtime: ActorRuntime;
  config: Config;
  clock: Clock;
  connections: Connections;
}

/**
 * Rooms and WebRTC signalling (PROTOCOL.md section 5): owner-approved joins as room
 * commands, pushes from the committed room events, and the relay as a synchronous fast
 * path over the membership index, off the log.
 */
export const roomsModule = defineModule<RoomsDependencies, { service: RoomService }, ClientConnection>({
  name: 'rooms',
  aggregates: [roomAggregate],
  projections: [roomsProjection],
  create({ runtime, config, clock, connections }) {
    const service = new RoomService({ runtime, config, clock, connection: (id) => connections.get(id) });
    const handlers = new EventHandlers();
    service.register(handlers);
    connections.onClosed((connection) => service.connectionClosed(connection));
    const members: Processor = {
      name: 'rooms.members',
      startFrom: 'now',
      canHandle: (event) => event.streamId.startsWith(`${ROOM_CATEGORY}-`),
      handle: (events) => service.applyCommitted(events),
    };
    return {
      api: { service },
      topics: handlers.topics,
      routes: [demoPageRoute()],
      processors: [members],
      fastPath: (connection, bytes, now, fail) => service.relayFromJsonText(connection, bytes, now, fail),
      // After a restart nobody is connected: every open room's members leave, which closes it.
      start: async () => ({ closedRooms: await service.recover(runtime.streams(ROOM_CATEGORY)) }),
    };
  },
});
