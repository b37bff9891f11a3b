import { assign, setup } from 'xstate';
import type { PresenceEvent } from './presence.events.js';

export interface PresenceContext {
  /** Visible until the user hides: a user who never chose is listed. */
  visible: boolean;
}

/** The `evolve` of a user's presence settings: one flag, set by each PresenceVisibilitySet. */
export const presenceMachine = setup({
  types: { context: {} as PresenceContext, events: {} as PresenceEvent },
}).createMachine({
  id: 'presence',
  context: { visible: true },
  on: {
    PresenceVisibilitySet: { actions: assign(({ event }) => ({ visible: event.data.visible })) },
  },
});
