import type { AggregateDefinition } from '../../../core/index.js';
import type { RoomCommand } from './room.commands.js';
import { decideRoom } from './room.decide.js';
import { ROOM_CATEGORY } from './room.events.js';
import { roomMachine } from './room.machine.js';

export * from './room.events.js';
export * from './room.commands.js';
export { roomMachine, type RoomContext } from './room.machine.js';
export { decideRoom, activeBan, type RoomSnapshot } from './room.decide.js';

export const roomAggregate: AggregateDefinition<typeof roomMachine, RoomCommand> = {
  category: ROOM_CATEGORY,
  machine: roomMachine,
  decide: decideRoom,
  // A room's actor is needed for commands only while it is open; a closed room (its bans
  // included) is reloaded from the log when someone creates or asks about it again. So a
  // join to a room that never existed, or a close, leaves no actor, and a start rebuilds
  // only the rooms still open (which recovery then closes), not every room ever created.
  keepWhile: (snapshot) => snapshot.matches('open'),
  liveAfter: (event) => (event.type === 'RoomCreated' ? true : event.type === 'RoomClosed' ? false : undefined),
};
