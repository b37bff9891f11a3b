import { describe, expect, it } from 'vitest';
import { clientPollAdd, clientPollGet, consumerPollAnswer } from '../../src/protocol/topics/polls.js';

const ID = '5b1f2c3d-0000-4000-8000-00000000aa03';
const answerSchema = consumerPollAnswer(20);
const paths = (result: { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[] }[] } }) => result.error?.issues.map((issue) => issue.path.join('.'));

describe('poll topic schemas', () => {
  it('client_poll_get takes an item id', () => {
    expect(clientPollGet.safeParse({ id: ID }).success).toBe(true);
    expect(paths(clientPollGet.safeParse({ id: 'not-a-uuid' }))).toEqual(['id']);
  });

  it('client_poll_add opens by id, by index (read as its string) or a question given whole, and closes', () => {
    expect(clientPollAdd.parse({ id: ID, question: 2 }).question).toBe('2');
    expect(clientPollAdd.parse({ id: ID, question: 'warm-up' }).question).toBe('warm-up');
    const whole = clientPollAdd.parse({ id: ID, question: { question: 'Tea or coffee?', answers: [{ text: 'Tea' }, { text: 'Coffee', correct: true }] } });
    expect(whole.question).toMatchObject({ question: 'Tea or coffee?', answers: [{ text: 'Tea' }, { text: 'Coffee', correct: true }] });
    expect(clientPollAdd.parse({ id: ID, close: true }).close).toBe(true);
    expect(clientPollAdd.parse({ id: ID, close: ['q1', 3] }).close).toEqual(['q1', '3']);
  });

  it('client_poll_add refuses what it cannot ask', () => {
    expect(paths(clientPollAdd.safeParse({ id: ID }))).toEqual(['question']);
    expect(paths(clientPollAdd.safeParse({ id: ID, question: { question: '', answers: [] } }))).toEqual(['question.question']);
    // A key under another name is a typo to be told of, not a field to keep.
    expect(paths(clientPollAdd.safeParse({ id: ID, question: { question: 'Q?', answers: [{ text: 'A', is_correct: true }] } }))).toEqual(['question.answers.0']);
    expect(clientPollAdd.safeParse({ id: ID, question: { question: 'Q?', answers: Array.from({ length: 51 }, (_, index) => ({ text: `A${index}` })) } }).success).toBe(false);
    expect(clientPollAdd.safeParse({ id: ID, question: { question: 'Q?', time: -1 } }).success).toBe(false);
    // Ids never look like Object.prototype's names, nor carry anything but a few safe characters.
    expect(clientPollAdd.safeParse({ id: ID, question: '__proto__' }).success).toBe(false);
    expect(clientPollAdd.safeParse({ id: ID, question: 'a b' }).success).toBe(false);
    expect(clientPollAdd.safeParse({ id: ID, question: 'x'.repeat(65) }).success).toBe(false);
    expect(clientPollAdd.safeParse({ id: ID, close: [] }).success).toBe(false);
    expect(clientPollAdd.safeParse({ id: ID, close: false }).success).toBe(false);
  });

  it('consumer_poll_answer takes exactly one of answer, answers or text, text bounded by config', () => {
    expect(answerSchema.parse({ id: ID, question: 0, answer: 1 })).toMatchObject({ question: '0', answer: '1' });
    expect(answerSchema.parse({ id: ID, question: 'q', answers: ['a', 'b'] }).answers).toEqual(['a', 'b']);
    expect(answerSchema.parse({ id: ID, question: 'q', text: '  short  ' }).text).toBe('short');
    expect(paths(answerSchema.safeParse({ id: ID, question: 'q' }))).toEqual(['answer']);
    expect(paths(answerSchema.safeParse({ id: ID, question: 'q', answer: 'a', text: 'both' }))).toEqual(['answer']);
    expect(paths(answerSchema.safeParse({ id: ID, question: 'q', text: 'x'.repeat(21) }))).toEqual(['text']);
    expect(paths(answerSchema.safeParse({ id: ID, question: 'q', text: '   ' }))).toEqual(['text']);
    expect(paths(answerSchema.safeParse({ id: ID, question: 'q', answers: [] }))).toEqual(['answers']);
    expect(paths(answerSchema.safeParse({ id: ID, question: { nested: true }, answer: 'a' }))).toEqual(['question']);
    expect(paths(answerSchema.safeParse({ id: ID, question: 'q', answer: 1.5 }))).toEqual(['answer']);
  });
});
