import type { AggregateDefinition } from '../../../core/index.js';
import type { ConnectionCommand } from './connection.commands.js';
import { decideConnection } from './connection.decide.js';
import { CONNECTION_CATEGORY } from './connection.events.js';
import { connectionMachine } from './connection.machine.js';

export * from './connection.events.js';
export * from './connection.commands.js';
export { connectionMachine } from './connection.machine.js';
export { decideConnection, type ConnectionSnapshot } from './connection.decide.js';

export const connectionAggregate: AggregateDefinition<typeof connectionMachine, ConnectionCommand> = {
  category: CONNECTION_CATEGORY,
  machine: connectionMachine,
  decide: decideConnection,
  keepInMemory: false,
};
