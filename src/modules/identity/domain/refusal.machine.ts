import { setup } from 'xstate';
import type { RefusalEvent } from './refusal.events.js';

/** One window of one address: empty, then summarised (once; a window is never reopened). */
export const refusalMachine = setup({
  types: { context: {} as Record<string, never>, events: {} as RefusalEvent },
}).createMachine({
  id: 'refusals',
  initial: 'open',
  context: {},
  states: {
    open: { on: { RefusalsSummarised: 'summarised' } },
    summarised: { type: 'final' },
  },
});
