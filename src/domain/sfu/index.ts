import type { AggregateDefinition } from '../../runtime/aggregate.js';
import type { SfuCommand } from './sfu.commands.js';
import { decideSfu } from './sfu.decide.js';
import { SFU_CATEGORY } from './sfu.events.js';
import { sfuMachine } from './sfu.machine.js';

export * from './sfu.events.js';
export * from './sfu.commands.js';
export * from './room-id.js';
export { sfuMachine, type SfuContext, type SfuStatus, type PlacedRoom } from './sfu.machine.js';
export { decideSfu, statusOf, MAX_PENDING_TASKS, type SfuSnapshot } from './sfu.decide.js';
export * from './directory.js';
export * from './licence.js';

export const sfuAggregate: AggregateDefinition<typeof sfuMachine, SfuCommand> = {
  category: SFU_CATEGORY,
  machine: sfuMachine,
  decide: decideSfu,
};
