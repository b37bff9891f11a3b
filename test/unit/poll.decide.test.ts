import { describe, expect, it } from 'vitest';
import { pollAggregate, type PollCommand, type PollEvent, type PollMode, type PollQuestion } from '../../src/modules/polls/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const spec = deciderSpec(pollAggregate);
const ITEM = '5b1f2c3d-0000-4000-8000-00000000aa01';
const NOW = 1_800_000_000_000;
const limits = { maxQuestions: 3, timedDefaultSeconds: 30 };

const question = (id: string, overrides: Partial<PollQuestion> = {}): PollQuestion => ({
  questionId: id,
  text: `Question ${id}?`,
  order: 0,
  time: null,
  multiple: false,
  freeText: false,
  answers: [
    { answerId: 'a', text: 'Yes', order: 0, correct: true },
    { answerId: 'b', text: 'No', order: 1, correct: false },
  ],
  ...overrides,
});

const open = (id: string, mode: PollMode = 'poll', overrides: Partial<PollQuestion> = {}, close: readonly string[] | 'all' = []): PollCommand => ({
  type: 'OpenQuestion',
  itemId: ITEM,
  question: question(id, overrides),
  mode,
  showResponses: true,
  source: { kind: 'added' },
  close,
  limits,
  now: NOW,
});

const opened = (id: string, mode: PollMode = 'poll', overrides: Partial<PollQuestion> = {}, closesAt: number | null = null): PollEvent => {
  const asked = question(id, overrides);
  return {
    type: 'PollQuestionOpened',
    data: {
      itemId: ITEM,
      question: { ...asked, answers: asked.answers.map((answer) => ({ ...answer, correct: mode === 'quiz' && answer.correct })) },
      mode,
      showResponses: true,
      source: { kind: 'added' },
      openedAt: NOW,
      closesAt,
    },
  };
};
const closed = (id: string, reason: 'operator' | 'time' = 'operator', at = NOW): PollEvent => ({ type: 'PollQuestionClosed', data: { itemId: ITEM, questionId: id, closedAt: at, reason } });
const closeCommand = (ids: readonly string[] | 'all', reason: 'operator' | 'time' = 'operator', now = NOW): PollCommand => ({ type: 'CloseQuestions', itemId: ITEM, questionIds: ids, reason, now });

describe('poll decide: opening questions', () => {
  it('opens a question; a poll asks each question once', () => {
    const after = spec.given().when(open('q1')).then([opened('q1')]);
    expect(after.state.context.open).toEqual(['q1']);
    after.when(open('q1')).thenThrows('CONFLICT', 'this poll asked question q1 already');
    spec.given([opened('q1'), closed('q1')]).when(open('q1')).thenThrows('CONFLICT');
  });

  it('drops keys outside quizzes, so no reader of a poll or survey ever gets one', () => {
    const [event] = spec.given().when(open('q1', 'poll')).events;
    expect(event?.type === 'PollQuestionOpened' && event.data.question.answers.every((answer) => !answer.correct)).toBe(true);
  });

  it('closes after its time in any mode; a timed poll gives a question without one the default', () => {
    spec.given().when(open('q1', 'poll', { time: 20 })).then([opened('q1', 'poll', { time: 20 }, NOW + 20_000)]);
    spec.given().when(open('q1', 'timed')).then([opened('q1', 'timed', { time: 30 }, NOW + 30_000)]);
  });

  it('refuses past the question limit: LIMIT_EXCEEDED', () => {
    spec.given([opened('q1'), opened('q2'), opened('q3')]).when(open('q4')).thenThrows('LIMIT_EXCEEDED');
  });

  it('a quiz question needs its key: one correct answer, or several for a multiple one', () => {
    const noKey = [{ answerId: 'a', text: 'A', order: 0, correct: false }];
    spec.given().when(open('q1', 'quiz', { answers: noKey })).thenThrows('BAD_REQUEST', 'a quiz question needs a correct answer');
    const twoKeys = [
      { answerId: 'a', text: 'A', order: 0, correct: true },
      { answerId: 'b', text: 'B', order: 1, correct: true },
    ];
    spec.given().when(open('q1', 'quiz', { answers: twoKeys })).thenThrows('BAD_REQUEST', /one correct answer/);
    spec.given().when(open('q1', 'quiz', { answers: twoKeys, multiple: true })).then([opened('q1', 'quiz', { answers: twoKeys, multiple: true })]);
  });

  it('only a survey asks free text; answers need distinct ids', () => {
    spec.given().when(open('q1', 'poll', { answers: [], freeText: true })).thenThrows('BAD_REQUEST', /only a survey's may be free text/);
    spec.given().when(open('q1', 'survey', { answers: [], freeText: true })).then([opened('q1', 'survey', { answers: [], freeText: true })]);
    const twice = [
      { answerId: 'a', text: 'A', order: 0, correct: false },
      { answerId: 'a', text: 'B', order: 1, correct: false },
    ];
    spec.given().when(open('q1', 'poll', { answers: twice })).thenThrows('BAD_REQUEST', 'the answers of a question need distinct ids');
  });

  it('closes the open questions it names before opening the next, in one decision', () => {
    spec.given([opened('q1')]).when(open('q2', 'poll', {}, ['q1'])).then([closed('q1'), opened('q2')]);
    spec.given([opened('q1'), opened('q2')]).when(open('q3', 'poll', {}, 'all')).then([closed('q1'), closed('q2'), opened('q3')]);
    spec.given([opened('q1'), closed('q1')]).when(open('q2', 'poll', {}, ['q1'])).thenThrows('CONFLICT', 'question q1 is closed already');
  });
});

describe('poll decide: closing questions', () => {
  it('an operator closes an open question; an unknown one is NOT_FOUND, a closed one CONFLICT', () => {
    const after = spec.given([opened('q1')]).when(closeCommand(['q1'])).then([closed('q1')]);
    expect(after.state.context.open).toEqual([]);
    expect(after.state.context.asked.get('q1')?.closedAt).toBe(NOW);
    spec.given([opened('q1')]).when(closeCommand(['nope'])).thenThrows('NOT_FOUND');
    spec.given([opened('q1'), closed('q1')]).when(closeCommand(['q1'])).thenThrows('CONFLICT');
  });

  it('a timer closing a question closed meanwhile closes nothing', () => {
    spec.given([opened('q1', 'poll', { time: 5 }, NOW + 5000), closed('q1')]).when(closeCommand(['q1'], 'time', NOW + 5000)).then([]);
    spec.given([opened('q1', 'poll', { time: 5 }, NOW + 5000)]).when(closeCommand(['q1'], 'time', NOW + 5000)).then([closed('q1', 'time', NOW + 5000)]);
  });

  it('`all` closes every open question, and nothing when none is open', () => {
    spec.given([opened('q1'), opened('q2'), closed('q1')]).when(closeCommand('all')).then([closed('q2')]);
    spec.given().when(closeCommand('all')).then([]);
  });

  it('ids that are Object.prototype names are ordinary ids', () => {
    spec.given().when(closeCommand(['constructor'])).thenThrows('NOT_FOUND');
    spec.given([opened('constructor')]).when(closeCommand(['constructor'])).then([closed('constructor')]);
  });
});
