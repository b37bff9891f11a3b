import type { SnapshotFrom } from 'xstate';
import type { PollAnswerCommand, PollChoice } from './poll.commands.js';
import { fieldError } from './poll.decide.js';
import type { PollAnswerEvent } from './poll-answer.events.js';
import type { pollAnswersMachine } from './poll-answer.machine.js';
import type { AskedQuestion } from './poll.machine.js';

export type PollAnswersSnapshot = SnapshotFrom<typeof pollAnswersMachine>;

/** The most a correct quiz answer earns; a timed one earns down to half of it, the later it comes. */
export const MAX_POINTS = 1000;

/**
 * A quiz answer's score: correct when it picks exactly the correct answers. Points reward
 * speed on a question with a time: 1000 at the opening, falling linearly to 500 at its close;
 * 1000 on a question without one. Wrong answers earn nothing.
 */
export function scoreOf(asked: AskedQuestion, chosen: readonly string[], now: number): { correct: boolean; points: number } {
  const key = asked.question.answers.filter((answer) => answer.correct).map((answer) => answer.answerId);
  const correct = key.length === chosen.length && key.every((id) => chosen.includes(id));
  if (!correct) return { correct, points: 0 };
  if (asked.question.time === null || asked.question.time === 0) return { correct, points: MAX_POINTS };
  const span = asked.question.time * 1000;
  const elapsed = Math.min(Math.max(now - asked.openedAt, 0), span);
  return { correct, points: Math.round(MAX_POINTS * (1 - elapsed / (2 * span))) };
}

/** The answer ids of a choice, checked against the question; free text for a free-text question. */
function checkChoice(asked: AskedQuestion, choice: PollChoice): { answers: string[] | null; text: string | null } {
  const { question } = asked;
  if ('text' in choice) {
    if (!question.freeText) throw fieldError('BAD_REQUEST', 'text', 'this question is answered with one of its answers, not with text');
    return { answers: null, text: choice.text };
  }
  if (question.freeText) throw fieldError('BAD_REQUEST', 'answer', 'this question is answered with text');
  const chosen = [...new Set(choice.answers)];
  if (!question.multiple && chosen.length !== 1) throw fieldError('BAD_REQUEST', 'answers', 'this question takes one answer');
  const known = new Set(question.answers.map((answer) => answer.answerId));
  const unknown = chosen.find((id) => !known.has(id));
  if (unknown !== undefined) throw fieldError('BAD_REQUEST', 'answer', `${unknown} is not one of this question's answers`);
  return { answers: chosen, text: null };
}

/**
 * One answer per person per question, to an open question, among its answers. "Open" is the
 * poll stream's state handed in with the command (`asked`), and its time: an answer after a
 * question's time ran out is refused even before the scheduler's close is in the log.
 */
export function decidePollAnswer(command: PollAnswerCommand, snapshot: PollAnswersSnapshot): PollAnswerEvent[] {
  const { itemId, questionId, user, asked, now } = command;
  if (!asked) throw fieldError('NOT_FOUND', 'question', `this poll has not asked question ${questionId}`);
  if (asked.closedAt !== null || (asked.closesAt !== null && now >= asked.closesAt)) throw fieldError('CONFLICT', 'question', 'this question is closed');
  if (snapshot.context.answered.has(questionId)) throw fieldError('CONFLICT', 'question', 'you answered this question already');
  const { answers, text } = checkChoice(asked, command.choice);
  const score = asked.mode === 'quiz' && answers !== null ? scoreOf(asked, answers, now) : null;
  return [
    {
      type: 'PollAnswered',
      data: { itemId, questionId, user, answers, text, answeredAt: now, correct: score?.correct ?? null, points: score?.points ?? null },
    },
  ];
}
