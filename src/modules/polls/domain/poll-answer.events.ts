import type { RecordedEvent } from '../../../core/index.js';

/**
 * Events of one person's answers to one poll: `poll_answers-<itemId>-<userKey>`. One answer
 * per person per question is decided on this small stream (and its expected version), so the
 * answers of many people are independent appends that share the store's group commits, where
 * a single stream per poll would put every answer in one queue.
 */

export const POLL_ANSWERS_CATEGORY = 'poll_answers';

export interface PollAnsweredData {
  itemId: string;
  questionId: string;
  /** Who answered: `user:<userId>`, or `guest:<invitationId>` for a guest of the item. */
  user: string;
  /** The answer ids chosen (one unless the question is `multiple`); null for free text. */
  answers: string[] | null;
  /** Free text (a survey question without answers); null otherwise. */
  text: string | null;
  answeredAt: number;
  /** Quizzes only: whether the choice is exactly the key, and the points it earned; null otherwise. */
  correct: boolean | null;
  points: number | null;
}

export type PollAnswerEvent = { type: 'PollAnswered'; data: PollAnsweredData };

export type RecordedPollAnswerEvent = RecordedEvent & PollAnswerEvent;

/** Every PollAnswerEvent type; `satisfies` fails to compile when the union gains one not listed. */
export const POLL_ANSWER_EVENT_TYPES = Object.keys({ PollAnswered: true } satisfies Record<PollAnswerEvent['type'], true>) as readonly PollAnswerEvent['type'][];

const STREAM_PREFIX = `${POLL_ANSWERS_CATEGORY}-`;

export function isPollAnswerEvent(event: RecordedEvent): event is RecordedPollAnswerEvent {
  return event.type === 'PollAnswered' && event.streamId.startsWith(STREAM_PREFIX);
}

/**
 * The answers stream of one person in one poll. The user key (`user:<id>`) is written with a
 * dot (`user.<id>`): stream ids are `category-id`, and the item id already has dashes.
 */
export const answersStreamOf = (itemId: string, userKey: string): string => `${POLL_ANSWERS_CATEGORY}-${itemId}-${userKey.replace(':', '.')}`;
