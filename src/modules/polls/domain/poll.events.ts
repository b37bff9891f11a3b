import type { RecordedEvent } from '../../../core/index.js';

/**
 * Events of a poll item's questions (PROTOCOL.md section 8): one stream per poll item,
 * `poll-<itemId>`, holding which questions were asked, with what, and when each closed. The
 * answers are not here but on one small stream per user (poll-answer.events.ts), so a
 * thousand answers a second do not all wait on this stream's expected version.
 * Times are epoch milliseconds.
 */

export const POLL_CATEGORY = 'poll';

export type PollMode = 'timed' | 'poll' | 'survey' | 'quiz';

/** One of a question's answers, as asked. `correct` is a quiz's key: only operators ever see it before the close. */
export interface PollAnswerOption {
  answerId: string;
  text: string;
  order: number;
  correct: boolean;
}

/**
 * A question as it was asked: a copy, not a pointer into the item's configuration, so a later
 * edit of the configuration changes nothing about answers already given. Only the fields the
 * protocol names are copied: nothing given beside them (a key under another name) is kept.
 */
export interface PollQuestion {
  questionId: string;
  text: string;
  order: number;
  /** Seconds it stays open; null: until an operator closes it. */
  time: number | null;
  /** Whether an answer may pick several answers. */
  multiple: boolean;
  /** A survey question without answers, answered with free text. */
  freeText: boolean;
  answers: PollAnswerOption[];
}

/** Where an asked question came from: the item's configuration (at that index) or the operator's command. */
export type QuestionSource = { kind: 'configuration'; index: number } | { kind: 'added' };

export interface PollQuestionOpenedData {
  itemId: string;
  question: PollQuestion;
  /** The poll's mode and show_responses when it was asked: they decide scoring and who sees results. */
  mode: PollMode;
  showResponses: boolean;
  source: QuestionSource;
  openedAt: number;
  /** When a question with a time closes; null when it stays open until closed. */
  closesAt: number | null;
}

export interface PollQuestionClosedData {
  itemId: string;
  questionId: string;
  closedAt: number;
  /** `operator`: client_poll_add's `close`; `time`: its time ran out (the scheduler's command). */
  reason: 'operator' | 'time';
}

export type PollEvent = { type: 'PollQuestionOpened'; data: PollQuestionOpenedData } | { type: 'PollQuestionClosed'; data: PollQuestionClosedData };

export type RecordedPollEvent = RecordedEvent & PollEvent;

/** Every PollEvent type; `satisfies` fails to compile when the union gains one not listed. */
export const POLL_EVENT_TYPES = Object.keys({
  PollQuestionOpened: true,
  PollQuestionClosed: true,
} satisfies Record<PollEvent['type'], true>) as readonly PollEvent['type'][];

const EVENT_TYPES: ReadonlySet<string> = new Set(POLL_EVENT_TYPES);
const STREAM_PREFIX = `${POLL_CATEGORY}-`;

/** A poll's event: on a `poll-<itemId>` stream and of one of its types (the log is the only writer). */
export function isPollEvent(event: RecordedEvent): event is RecordedPollEvent {
  return EVENT_TYPES.has(event.type) && event.streamId.startsWith(STREAM_PREFIX);
}

export const pollStreamOf = (itemId: string): string => `${POLL_CATEGORY}-${itemId}`;
