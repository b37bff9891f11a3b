import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { AskedQuestion, PollAnsweredData, PollQuestion } from './domain/index.js';
import type { AnswerRecord, ScoreRecord } from './projection.js';

/**
 * The wire shapes of polls (PROTOCOL.md section 8). The audience's views are built field by
 * field from the asked question, never by copying it and deleting the key: a field added to
 * PollQuestion later reaches an audience only when one of these names it.
 */

/** Who answered, as operators see it: a user with its name, or a guest of the item. */
export type Answerer = { id: string; username: string | null } | { guest: string };

type QuestionState = Pick<AskedQuestion, 'question' | 'mode' | 'openedAt' | 'closesAt' | 'closedAt'>;
type JsonObject = Record<string, unknown>;

const status = (state: QuestionState): 'open' | 'closed' => (state.closedAt === null ? 'open' : 'closed');

/** The correct answer ids of a quiz question, once it is closed; undefined before, and for other modes. */
export function revealedKey(state: QuestionState): string[] | undefined {
  if (state.mode !== 'quiz' || state.closedAt === null) return undefined;
  return state.question.answers.filter((answer) => answer.correct).map((answer) => answer.answerId);
}

function questionFields(question: PollQuestion): JsonObject {
  return { id: question.questionId, question: question.text, order: question.order, time: question.time, multiple: question.multiple, free_text: question.freeText };
}

function timing(state: QuestionState): JsonObject {
  return {
    status: status(state),
    opened_at: formatExtreamDateTime(state.openedAt),
    closes_at: formatExtreamDateTime(state.closesAt),
    closed_at: formatExtreamDateTime(state.closedAt),
  };
}

/** A question as the audience sees it: no key while it is open; a quiz's correct answers once closed. */
export function publicQuestion(state: QuestionState): JsonObject {
  const correct = revealedKey(state);
  return {
    ...questionFields(state.question),
    answers: state.question.answers.map((answer) => ({ id: answer.answerId, text: answer.text, order: answer.order })),
    ...timing(state),
    ...(correct ? { correct } : {}),
  };
}

/** A question of the configuration, as its operators see it (with the key), asked or not. */
export function configuredQuestion(question: PollQuestion, asked: boolean): JsonObject {
  return {
    ...questionFields(question),
    answers: question.answers.map((answer) => ({ id: answer.answerId, text: answer.text, order: answer.order, correct: answer.correct })),
    asked,
  };
}

/** A question as its operators see it: with the key. */
export function operatorQuestion(state: QuestionState): JsonObject {
  return {
    ...questionFields(state.question),
    answers: state.question.answers.map((answer) => ({ id: answer.answerId, text: answer.text, order: answer.order, correct: answer.correct })),
    mode: state.mode,
    ...timing(state),
  };
}

/**
 * A question's results: counts per answer (zeros included), in the answers' order. `closed`,
 * not `status`: the results push shares its name with the answer command, whose answers carry
 * a numeric `status`, and a client tells the two apart by it.
 */
export function resultsOf(state: QuestionState, counts: ReadonlyMap<string, number>, responses: number): JsonObject {
  const correct = revealedKey(state);
  return {
    question: state.question.questionId,
    closed: state.closedAt !== null,
    responses,
    answers: state.question.answers.map((answer) => ({ id: answer.answerId, count: counts.get(answer.answerId) ?? 0 })),
    ...(correct ? { correct } : {}),
  };
}

/**
 * One answer as its answerer sees it. Whether it was right shows only once its question
 * closed: before, the answerer could pass the key on.
 */
export function ownAnswer(answer: AnswerRecord, questionClosed: boolean): JsonObject {
  return {
    ...(answer.answers === null ? { text: answer.text } : { answers: answer.answers }),
    answered_at: formatExtreamDateTime(answer.answeredAt),
    ...(questionClosed && answer.correct !== null ? { correct: answer.correct, points: answer.points } : {}),
  };
}

export const scoreView = (score: ScoreRecord | undefined): JsonObject => ({ answered: score?.answered ?? 0, correct: score?.correct ?? 0, points: score?.points ?? 0 });

/** One answer as the poll's operators see it (`client_poll_answer`): who, what, and a quiz answer's score at once. */
export function operatorAnswer(data: PollAnsweredData, user: Answerer): JsonObject {
  return {
    id: data.itemId,
    question: data.questionId,
    user,
    ...(data.answers === null ? { text: data.text } : { answers: data.answers }),
    answered_at: formatExtreamDateTime(data.answeredAt),
    ...(data.correct === null ? {} : { correct: data.correct, points: data.points }),
  };
}
