import type { AggregateDefinition } from '../../runtime/aggregate.js';
import type { SessionCommand } from './session.commands.js';
import { decideSession } from './session.decide.js';
import { SESSION_CATEGORY } from './session.events.js';
import { sessionMachine } from './session.machine.js';

export * from './session.events.js';
export * from './session.commands.js';
export { sessionMachine, type SessionContext } from './session.machine.js';
export { decideSession, type SessionSnapshot } from './session.decide.js';

export const sessionAggregate: AggregateDefinition<typeof sessionMachine, SessionCommand> = {
  category: SESSION_CATEGORY,
  machine: sessionMachine,
  decide: decideSession,
  keepInMemory: false,
  rebuildAtStart: false,
};
