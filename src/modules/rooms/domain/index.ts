import type { AggregateDefinition } from '../../../core/decider.js';
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
};
