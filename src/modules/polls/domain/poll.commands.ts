import type { PollMode, PollQuestion, QuestionSource } from './poll.events.js';
import type { AskedQuestion } from './poll.machine.js';

/** Bounds a poll's decide applies, from the module's config. */
export interface PollLimits {
  /** Questions one poll may ask in its life. */
  maxQuestions: number;
  /** How long a timed poll's question without a time stays open. */
  timedDefaultSeconds: number;
}

/** Commands carry `now`: domain code never reads the clock. */
export type PollCommand =
  | {
      type: 'OpenQuestion';
      itemId: string;
      question: PollQuestion;
      mode: PollMode;
      showResponses: boolean;
      source: QuestionSource;
      /** Open questions to close in the same append, before this one opens (the next question of a quiz). */
      close: readonly string[] | 'all';
      limits: PollLimits;
      now: number;
    }
  | {
      type: 'CloseQuestions';
      itemId: string;
      questionIds: readonly string[] | 'all';
      /** A timer's close of a question closed meanwhile is no error: it closes nothing. */
      reason: 'operator' | 'time';
      now: number;
    };

/** What an answer is: answer ids, or free text. */
export type PollChoice = { answers: readonly string[] } | { text: string };

export type PollAnswerCommand = {
  type: 'AnswerQuestion';
  itemId: string;
  questionId: string;
  /** `user:<userId>` or `guest:<invitationId>`. */
  user: string;
  /** The question as the poll's stream holds it now; undefined when the poll never asked it. */
  asked: AskedQuestion | undefined;
  choice: PollChoice;
  now: number;
};
