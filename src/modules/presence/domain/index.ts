import type { AggregateDefinition } from '../../../core/index.js';
import type { PresenceCommand } from './presence.commands.js';
import { decidePresence } from './presence.decide.js';
import { PRESENCE_CATEGORY } from './presence.events.js';
import { presenceMachine } from './presence.machine.js';

export * from './presence.events.js';
export * from './presence.commands.js';
export { presenceMachine, type PresenceContext } from './presence.machine.js';
export { decidePresence, type PresenceSnapshot } from './presence.decide.js';

export const presenceAggregate: AggregateDefinition<typeof presenceMachine, PresenceCommand> = {
  category: PRESENCE_CATEGORY,
  machine: presenceMachine,
  decide: decidePresence,
  // A user changes visibility now and then: loaded from its short stream when a command
  // comes, not kept for every user ever seen. Readers use the presence_visibility read model.
  rebuildAtStart: false,
  keepInMemory: false,
};
