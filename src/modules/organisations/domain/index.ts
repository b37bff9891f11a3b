import type { AggregateDefinition } from '../../../core/index.js';
import type { AccessCommand } from './access.commands.js';
import { decideAccess } from './access.decide.js';
import { ACCESS_CATEGORY } from './access.events.js';
import { accessMachine } from './access.machine.js';

export * from './access.events.js';
export * from './access.commands.js';
export { accessMachine, type AccessContext } from './access.machine.js';
export { decideAccess } from './access.decide.js';

export const accessAggregate: AggregateDefinition<typeof accessMachine, AccessCommand> = {
  category: ACCESS_CATEGORY,
  machine: accessMachine,
  decide: decideAccess,
};
