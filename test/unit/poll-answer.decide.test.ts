import { describe, expect, it } from 'vitest';
import { MAX_POINTS, pollAnswersAggregate, scoreOf, type AskedQuestion, type PollAnswerCommand, type PollAnswerEvent, type PollChoice } from '../../src/modules/polls/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const spec = deciderSpec(pollAnswersAggregate);
const ITEM = '5b1f2c3d-0000-4000-8000-00000000aa02';
const NOW = 1_800_000_000_000;
const USER = 'user:ada';

const asked = (overrides: Partial<AskedQuestion> = {}, question: Partial<AskedQuestion['question']> = {}): AskedQuestion => ({
  question: {
    questionId: 'q1',
    text: 'Capital of France?',
    order: 0,
    time: null,
    multiple: false,
    freeText: false,
    answers: [
      { answerId: 'paris', text: 'Paris', order: 0, correct: true },
      { answerId: 'lyon', text: 'Lyon', order: 1, correct: false },
      { answerId: 'nice', text: 'Nice', order: 2, correct: false },
    ],
    ...question,
  },
  mode: 'poll',
  showResponses: true,
  openedAt: NOW,
  closesAt: null,
  closedAt: null,
  ...overrides,
});

const answer = (choice: PollChoice, question: AskedQuestion = asked(), now = NOW + 1000, questionId = 'q1'): PollAnswerCommand => ({
  type: 'AnswerQuestion',
  itemId: ITEM,
  questionId,
  user: USER,
  asked: question,
  choice,
  now,
});
const answered = (data: Partial<Extract<PollAnswerEvent, { type: 'PollAnswered' }>['data']> = {}): PollAnswerEvent => ({
  type: 'PollAnswered',
  data: { itemId: ITEM, questionId: 'q1', user: USER, answers: ['lyon'], text: null, answeredAt: NOW + 1000, correct: null, points: null, ...data },
});

describe('poll answer decide', () => {
  it('takes one answer per person per question; the second is CONFLICT', () => {
    const after = spec.given().when(answer({ answers: ['lyon'] })).then([answered()]);
    after.when(answer({ answers: ['paris'] })).thenThrows('CONFLICT', 'you answered this question already');
    // Another question of the same poll is another answer.
    after.when(answer({ answers: ['x'] }, asked({}, { questionId: 'q2', answers: [{ answerId: 'x', text: 'X', order: 0, correct: false }] }), NOW + 1000, 'q2')).then([
      answered({ questionId: 'q2', answers: ['x'] }),
    ]);
  });

  it('refuses a question the poll never asked (NOT_FOUND) or that is closed (CONFLICT), also once its time ran out before the close is written', () => {
    spec.given().when({ ...answer({ answers: ['lyon'] }), asked: undefined }).thenThrows('NOT_FOUND');
    spec.given().when(answer({ answers: ['lyon'] }, asked({ closedAt: NOW + 500 }))).thenThrows('CONFLICT', 'this question is closed');
    spec.given().when(answer({ answers: ['lyon'] }, asked({ closesAt: NOW + 1000 }), NOW + 1000)).thenThrows('CONFLICT', 'this question is closed');
    spec.given().when(answer({ answers: ['lyon'] }, asked({ closesAt: NOW + 1000 }), NOW + 999)).then([answered({ answeredAt: NOW + 999 })]);
  });

  it('takes only the question\'s answers, one unless it is multiple', () => {
    spec.given().when(answer({ answers: ['marseille'] })).thenThrows('BAD_REQUEST', "marseille is not one of this question's answers");
    spec.given().when(answer({ answers: ['paris', 'lyon'] })).thenThrows('BAD_REQUEST', 'this question takes one answer');
    // The same answer twice is one answer.
    spec.given().when(answer({ answers: ['lyon', 'lyon'] })).then([answered()]);
    spec.given().when(answer({ answers: ['paris', 'lyon'] }, asked({}, { multiple: true }))).then([answered({ answers: ['paris', 'lyon'] })]);
    spec.given().when(answer({ text: 'Paris, surely' })).thenThrows('BAD_REQUEST', /not with text/);
  });

  it('a free-text question takes text, not answer ids', () => {
    const free = asked({ mode: 'survey' }, { answers: [], freeText: true });
    spec.given().when(answer({ text: 'More coffee' }, free)).then([answered({ answers: null, text: 'More coffee' })]);
    spec.given().when(answer({ answers: ['paris'] }, free)).thenThrows('BAD_REQUEST', 'this question is answered with text');
  });

  it('scores a quiz answer: correct when it is exactly the key, faster earns more on a timed question', () => {
    const quiz = asked({ mode: 'quiz' });
    spec.given().when(answer({ answers: ['paris'] }, quiz)).then([answered({ answers: ['paris'], correct: true, points: MAX_POINTS })]);
    spec.given().when(answer({ answers: ['nice'] }, quiz)).then([answered({ answers: ['nice'], correct: false, points: 0 })]);
    const timed = asked({ mode: 'quiz', closesAt: NOW + 10_000 }, { time: 10 });
    expect(scoreOf(timed, ['paris'], NOW)).toEqual({ correct: true, points: 1000 });
    expect(scoreOf(timed, ['paris'], NOW + 5000)).toEqual({ correct: true, points: 750 });
    expect(scoreOf(timed, ['paris'], NOW + 10_000)).toEqual({ correct: true, points: 500 });
    const multiple = asked({ mode: 'quiz' }, { multiple: true, answers: [
      { answerId: 'a', text: 'A', order: 0, correct: true },
      { answerId: 'b', text: 'B', order: 1, correct: true },
      { answerId: 'c', text: 'C', order: 2, correct: false },
    ] });
    expect(scoreOf(multiple, ['b', 'a'], NOW).correct).toBe(true);
    expect(scoreOf(multiple, ['a'], NOW).correct).toBe(false);
    expect(scoreOf(multiple, ['a', 'b', 'c'], NOW).correct).toBe(false);
  });
});
