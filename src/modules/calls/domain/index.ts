import type { AggregateDefinition } from '../../../core/index.js';
import type { CallCommand } from './call.commands.js';
import { decideCall } from './call.decide.js';
import { CALL_CATEGORY } from './call.events.js';
import { callMachine } from './call.machine.js';

export * from './call.events.js';
export * from './call.commands.js';
export { callMachine, type CallContext, type CallParty } from './call.machine.js';
export { decideCall, callStateOf, capacityReached, type CallSnapshot, type CallState } from './call.decide.js';

export const callAggregate: AggregateDefinition<typeof callMachine, CallCommand> = {
  category: CALL_CATEGORY,
  machine: callMachine,
  decide: decideCall,
  // A call takes commands while it runs; an ended one is reloaded from the log only when
  // asked about. So a start rebuilds the live calls (queued ones keep their place), not every
  // call ever made.
  keepWhile: (snapshot) => snapshot.status !== 'done',
  liveAfter: (event) => (event.type === 'CallStarted' ? true : event.type === 'CallEnded' ? false : undefined),
};
