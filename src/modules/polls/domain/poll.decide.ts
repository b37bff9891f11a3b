import type { SnapshotFrom } from 'xstate';
import { AppError, type ErrorCode } from '../../../core/index.js';
import type { PollCommand } from './poll.commands.js';
import type { PollEvent, PollMode, PollQuestion } from './poll.events.js';
import type { PollContext, pollMachine } from './poll.machine.js';

export type PollSnapshot = SnapshotFrom<typeof pollMachine>;

/** A refusal naming the field it is about, as the wire's `response.errors` carry it. */
export const fieldError = (code: ErrorCode, path: string, message: string): AppError => new AppError(code, message, { errors: [{ path, message }] });

/**
 * What makes a question askable in a mode: distinct answer ids; answers, unless it is a
 * survey's free-text question; and in a quiz a key: one correct answer, or at least one for
 * a `multiple` question (an answer is correct when it picks exactly the correct ones).
 */
function checkQuestion(question: PollQuestion, mode: PollMode): void {
  const ids = new Set(question.answers.map((answer) => answer.answerId));
  if (ids.size !== question.answers.length) throw fieldError('BAD_REQUEST', 'question.answers', 'the answers of a question need distinct ids');
  if (question.answers.length === 0) {
    if (mode !== 'survey') throw fieldError('BAD_REQUEST', 'question.answers', `a question of a ${mode} poll needs answers; only a survey's may be free text`);
    if (question.multiple) throw fieldError('BAD_REQUEST', 'question.multiple', 'a free-text question has no answers to pick several of');
    return;
  }
  if (mode !== 'quiz') return;
  const correct = question.answers.filter((answer) => answer.correct).length;
  if (correct === 0) throw fieldError('BAD_REQUEST', 'question.answers', 'a quiz question needs a correct answer');
  if (correct > 1 && !question.multiple) throw fieldError('BAD_REQUEST', 'question.answers', 'a quiz question with one answer to pick has one correct answer');
}

/** The open questions a command closes; an operator naming an unknown or closed one is refused. */
function questionsToClose(context: PollContext, ids: readonly string[] | 'all', reason: 'operator' | 'time'): string[] {
  if (ids === 'all') return [...context.open];
  const closing: string[] = [];
  for (const id of new Set(ids)) {
    const asked = context.asked.get(id);
    if (!asked) {
      if (reason === 'time') continue;
      throw fieldError('NOT_FOUND', 'close', `this poll has not asked question ${id}`);
    }
    if (asked.closedAt !== null) {
      // A timer racing an operator's close: the question is closed, which is all it wanted.
      if (reason === 'time') continue;
      throw fieldError('CONFLICT', 'close', `question ${id} is closed already`);
    }
    closing.push(id);
  }
  return closing;
}

/** Checks a command against the poll's state and returns the events it causes. */
export function decidePoll(command: PollCommand, snapshot: PollSnapshot): PollEvent[] {
  const { context } = snapshot;
  switch (command.type) {
    case 'OpenQuestion': {
      const { itemId, mode, showResponses, source, limits, now } = command;
      const closing = questionsToClose(context, command.close, 'operator');
      const id = command.question.questionId;
      if (context.asked.has(id)) throw fieldError('CONFLICT', 'question', `this poll asked question ${id} already`);
      if (context.asked.size >= limits.maxQuestions) throw fieldError('LIMIT_EXCEEDED', 'question', `a poll asks at most ${limits.maxQuestions} questions`);
      checkQuestion(command.question, mode);
      const time = command.question.time ?? (mode === 'timed' ? limits.timedDefaultSeconds : null);
      // Keys mean something in a quiz only: elsewhere they are dropped, not carried to every reader.
      const answers = command.question.answers.map((answer) => ({ ...answer, correct: mode === 'quiz' && answer.correct }));
      const question: PollQuestion = { ...command.question, time, answers };
      return [
        ...closing.map((questionId): PollEvent => ({ type: 'PollQuestionClosed', data: { itemId, questionId, closedAt: now, reason: 'operator' } })),
        { type: 'PollQuestionOpened', data: { itemId, question, mode, showResponses, source, openedAt: now, closesAt: time === null ? null : now + time * 1000 } },
      ];
    }
    case 'CloseQuestions': {
      const { itemId, reason, now } = command;
      return questionsToClose(context, command.questionIds, reason).map((questionId) => ({ type: 'PollQuestionClosed', data: { itemId, questionId, closedAt: now, reason } }));
    }
  }
}
