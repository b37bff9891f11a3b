import { assign, setup } from 'xstate';
import type { PollEvent, PollMode, PollQuestion } from './poll.events.js';

/** A question the poll asked, and where it stands. */
export interface AskedQuestion {
  question: PollQuestion;
  mode: PollMode;
  showResponses: boolean;
  openedAt: number;
  closesAt: number | null;
  /** Null while it is open. */
  closedAt: number | null;
}

export interface PollContext {
  itemId: string | null;
  /**
   * Every question asked, by id (a Map: ids come from clients, and a plain object would
   * answer `constructor` as if it were asked).
   */
  asked: ReadonlyMap<string, AskedQuestion>;
  /** Ids of the open questions, in the order they opened. */
  open: readonly string[];
}

/**
 * The `evolve` of a poll: its questions open and close; the stream never ends (a poll can
 * always ask another question). One state: what matters is in the context.
 */
export const pollMachine = setup({
  types: { context: {} as PollContext, events: {} as PollEvent },
}).createMachine({
  id: 'poll',
  initial: 'active',
  context: { itemId: null, asked: new Map(), open: [] },
  states: {
    active: {
      on: {
        PollQuestionOpened: {
          actions: assign(({ context, event }) => {
            const { itemId, question, mode, showResponses, openedAt, closesAt } = event.data;
            const asked = new Map(context.asked);
            asked.set(question.questionId, { question, mode, showResponses, openedAt, closesAt, closedAt: null });
            return { itemId, asked, open: [...context.open, question.questionId] };
          }),
        },
        PollQuestionClosed: {
          actions: assign(({ context, event }) => {
            const { questionId, closedAt } = event.data;
            const question = context.asked.get(questionId);
            if (!question) return {};
            const asked = new Map(context.asked);
            asked.set(questionId, { ...question, closedAt });
            return { asked, open: context.open.filter((id) => id !== questionId) };
          }),
        },
      },
    },
  },
});
