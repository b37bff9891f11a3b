import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/index.js';
import type { ClientConnection } from '../../src/edge/index.js';
import type { OutboundFrame } from '../../src/protocol/index.js';
import { PollDirectory, Polls, pollAggregate, pollAnswersAggregate, pollsProjection } from '../../src/modules/polls/index.js';
import { answersStreamOf } from '../../src/modules/polls/domain/index.js';
import { PollPushes, type PollAudience } from '../../src/modules/polls/processors.js';
import type { JoinedItem } from '../../src/modules/itineraries/index.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import { InMemoryEventStore } from '../../src/store/index.js';
import { SteerableClock } from '../helpers/identity.js';

/**
 * The polls module's log reactions over a real (in-memory) log, runtime and read model, with
 * the audience and the scheduler replaced by recorders: which frames go to whom, with which
 * `seq`, how results pushes coalesce, and that an open quiz question's key is in none.
 */

const ITEM = '5b1f2c3d-0000-4000-8000-00000000aa10';
const INTERVAL = 100;
const silent = { error: () => undefined };

class RecordingAudience implements PollAudience {
  readonly frames: OutboundFrame[] = [];
  private readonly connections = new Set<ClientConnection>([{} as ClientConnection]);
  members(): ReadonlySet<ClientConnection> {
    return this.connections;
  }
  push(_itemId: string, frame: OutboundFrame): number {
    this.frames.push(frame);
    return 1;
  }
  named(event: string): OutboundFrame[] {
    return this.frames.filter((frame) => frame.event === event);
  }
}

/** Timers the test fires by hand. */
class ManualScheduler {
  readonly timers = new Map<string, { at: number; run: (now: number) => unknown }>();
  at(key: string, at: number, run: (now: number) => unknown): void {
    this.timers.set(key, { at, run });
  }
  cancel(key: string): void {
    this.timers.delete(key);
  }
  fire(key: string, now: number): void {
    const timer = this.timers.get(key);
    this.timers.delete(key);
    void timer?.run(now);
  }
}

function setup(mode: 'poll' | 'quiz' | 'survey', showResponses = true) {
  const clock = new SteerableClock(1_800_000_000_000);
  const store = new InMemoryEventStore({ projections: [pollsProjection], clock });
  const runtime = new ActorRuntime(store, silent);
  runtime.register(pollAggregate);
  runtime.register(pollAnswersAggregate);
  const item: JoinedItem = { itemId: ITEM, itineraryId: 'it', eventId: 'ev', organisationId: 'org', type: 'poll', startDate: null, endDate: null, configuration: { mode, show_responses: showResponses } };
  const directory = new PollDirectory(store.readModels);
  const polls = new Polls({ runtime, directory, items: { get: (id) => (id === ITEM ? item : undefined) }, config: { pollMaxQuestions: 10, pollTimedDefaultSeconds: 30 } });
  const consumers = new RecordingAudience();
  const operators = new RecordingAudience();
  const scheduler = new ManualScheduler();
  const pushes = new PollPushes({
    consumers, operators, directory, polls, scheduler, clock, config: { pollResultsPushMs: INTERVAL },
    answerer: (key) => ({ id: key.slice(5), username: key.slice(5) }),
  });
  const processor = pushes.processor();
  const unsubscribe = store.onCommitted((events: readonly RecordedEvent[]) => processor.handle(events.filter((event) => processor.canHandle(event))));
  const context = () => ({ actor: 'user:olga', now: clock.now() });
  const open = (id: string, correct = 'a') =>
    polls.add(polls.pollItem(ITEM), { question: { id, question: `${id}?`, answers: ['a', 'b', 'c'].map((answerId) => ({ id: answerId, text: answerId.toUpperCase(), correct: answerId === correct })) } }, context());
  const answer = async (user: string, questionId: string, answerId: string) => (await polls.answer(ITEM, `user:${user}`, questionId, { answers: [answerId] }, context())).position;
  return { clock, store, runtime, polls, directory, consumers, operators, scheduler, pushes, open, answer, context, close: async () => { unsubscribe(); await store.close(); } };
}

type Setup = ReturnType<typeof setup>;
const resultsKey = (questionId: string) => `poll-results:${ITEM}:${questionId}`;

describe('poll pushes', () => {
  let s: Setup;
  afterEach(async () => s?.close());

  describe('a quiz that shows responses', () => {
    beforeEach(() => {
      s = setup('quiz');
    });

    it('pushes the opened question without its key, with the log position as seq', async () => {
      const { position } = await s.open('q1');
      const [frame] = s.consumers.named('consumer_poll_question');
      expect(frame).toMatchObject({ seq: position, data: { id: ITEM, question: { id: 'q1', status: 'open', answers: [{ id: 'a', text: 'A', order: 0 }, { id: 'b' }, { id: 'c' }] } } });
      expect(JSON.stringify(frame)).not.toContain('correct');
    });

    it('coalesces results: one push per interval, carrying the newest answer as seq', async () => {
      await s.open('q1');
      const positions = await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((user, index) => s.answer(user, 'q1', index < 3 ? 'a' : 'b')));
      // Every answer reached the operators at once, each with its own seq.
      expect(s.operators.named('client_poll_answer').map((frame) => frame.seq)).toEqual(positions);
      expect(s.operators.named('client_poll_answer')[0]).toMatchObject({ data: { id: ITEM, question: 'q1', user: { id: 'u1' }, answers: ['a'], correct: true, points: 1000 } });
      // Five answers, one push due, and none sent yet.
      expect(s.scheduler.timers.get(resultsKey('q1'))?.at).toBe(s.clock.now());
      expect(s.consumers.named('consumer_poll_answer')).toHaveLength(0);
      s.scheduler.fire(resultsKey('q1'), s.clock.now());
      const [results] = s.consumers.named('consumer_poll_answer');
      expect(results).toMatchObject({ seq: Math.max(...positions), data: { id: ITEM, question: 'q1', closed: false, responses: 5, answers: [{ id: 'a', count: 3 }, { id: 'b', count: 2 }, { id: 'c', count: 0 }] } });
      expect(JSON.stringify(results)).not.toContain('correct');
      // The next answer waits for the interval since that push.
      await s.answer('u6', 'q1', 'c');
      expect(s.scheduler.timers.get(resultsKey('q1'))?.at).toBe(s.clock.now() + INTERVAL);
    });

    it('a close cancels the pending push and sends the final results, revealing the key', async () => {
      await s.open('q1');
      await s.answer('u1', 'q1', 'a');
      await s.answer('u2', 'q1', 'b');
      const { position } = await s.polls.add(s.polls.pollItem(ITEM), { close: ['q1'] }, s.context());
      expect(s.scheduler.timers.has(resultsKey('q1'))).toBe(false);
      const closedQuestion = s.consumers.named('consumer_poll_question').at(-1);
      expect(closedQuestion).toMatchObject({ seq: position, data: { question: { id: 'q1', status: 'closed', correct: ['a'] } } });
      expect(s.consumers.named('consumer_poll_answer')).toEqual([
        { event: 'consumer_poll_answer', seq: position, data: { id: ITEM, question: 'q1', closed: true, responses: 2, answers: [{ id: 'a', count: 1 }, { id: 'b', count: 1 }, { id: 'c', count: 0 }], correct: ['a'] } },
      ]);
      // Scores count the question now that it is closed.
      expect(s.directory.scoreOf(ITEM, 'user:u1')).toEqual({ userKey: 'user:u1', answered: 1, correct: 1, points: 1000 });
      expect(s.directory.scoreOf(ITEM, 'user:u2')).toEqual({ userKey: 'user:u2', answered: 1, correct: 0, points: 0 });
    });

    it('an answer that loses the race with a close is refused by the read model, and nothing is appended', async () => {
      await s.open('q1');
      // Decided against the state before the close, appended after it.
      const stale = s.polls.state(ITEM).context.asked.get('q1');
      await s.polls.add(s.polls.pollItem(ITEM), { close: 'all' }, s.context());
      const head = s.store.headPosition();
      await expect(
        s.runtime.execute(answersStreamOf(ITEM, 'user:late'), { type: 'AnswerQuestion', itemId: ITEM, questionId: 'q1', user: 'user:late', asked: stale, choice: { answers: ['a'] }, now: s.clock.now() }),
      ).rejects.toMatchObject({ code: 'CONFLICT', message: 'this question is closed' });
      expect(s.store.headPosition()).toBe(head);
      expect(s.directory.question(ITEM, 'q1')?.responses).toBe(0);
    });
  });

  it('a survey pushes no results to its audience, whatever show_responses says; operators get each answer', async () => {
    s = setup('survey', true);
    await s.polls.add(s.polls.pollItem(ITEM), { question: { question: 'Ideas?', answers: [] } }, s.context());
    const questionId = s.directory.asked(ITEM)[0]!.question.questionId;
    await s.polls.answer(ITEM, 'user:u1', questionId, { text: 'More breaks' }, s.context());
    await s.polls.add(s.polls.pollItem(ITEM), { close: 'all' }, s.context());
    expect(s.scheduler.timers.size).toBe(0);
    expect(s.consumers.named('consumer_poll_answer')).toEqual([]);
    expect(JSON.stringify(s.consumers.frames)).not.toContain('More breaks');
    expect(s.operators.named('client_poll_answer')[0]).toMatchObject({ data: { question: questionId, text: 'More breaks' } });
  });

  it('a poll that does not show responses pushes questions, not results', async () => {
    s = setup('poll', false);
    await s.open('q1');
    await s.answer('u1', 'q1', 'a');
    expect(s.scheduler.timers.size).toBe(0);
    expect(s.consumers.named('consumer_poll_question')).toHaveLength(1);
    expect(s.consumers.named('consumer_poll_answer')).toEqual([]);
  });
});
