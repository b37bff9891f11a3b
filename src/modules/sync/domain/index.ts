import type { AggregateDefinition } from '../../../core/decider.js';
import type { SyncSessionCommand } from './sync.commands.js';
import { decideSyncSession } from './sync.decide.js';
import { SYNC_SESSION_CATEGORY } from './sync.events.js';
import { syncSessionMachine } from './sync.machine.js';

export * from './sync.events.js';
export * from './sync.commands.js';
export { syncSessionMachine, type SyncSessionContext } from './sync.machine.js';
export { decideSyncSession, syncSessionRefusal, type SyncSessionSnapshot } from './sync.decide.js';

export const syncSessionAggregate: AggregateDefinition<typeof syncSessionMachine, SyncSessionCommand> = {
  category: SYNC_SESSION_CATEGORY,
  machine: syncSessionMachine,
  decide: decideSyncSession,
  // Sessions live as long as a page's socket, which dies with the process: none is rebuilt at
  // start (the module expires the live ones instead), and each is reloaded from its short
  // stream when a command reaches it.
  rebuildAtStart: false,
  keepWhile: (snapshot) => snapshot.status !== 'done',
};
