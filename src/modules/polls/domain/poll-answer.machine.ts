import { assign, setup } from 'xstate';
import type { PollAnswerEvent } from './poll-answer.events.js';

export interface PollAnswersContext {
  /** The questions this person answered (a Set: ids come from clients). */
  answered: ReadonlySet<string>;
}

/** The `evolve` of one person's answers to one poll: which questions they answered. */
export const pollAnswersMachine = setup({
  types: { context: {} as PollAnswersContext, events: {} as PollAnswerEvent },
}).createMachine({
  id: 'poll_answers',
  initial: 'answering',
  context: { answered: new Set() },
  states: {
    answering: {
      on: {
        PollAnswered: { actions: assign(({ context, event }) => ({ answered: new Set([...context.answered, event.data.questionId]) })) },
      },
    },
  },
});
