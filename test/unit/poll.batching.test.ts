import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PollDirectory, Polls, pollAggregate, pollAnswersAggregate, pollsProjection } from '../../src/modules/polls/index.js';
import type { JoinedItem } from '../../src/modules/itineraries/index.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import { SqliteEventStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The answer path's shape on the real SQLite log: answers of many people are appends to many
 * small streams, so those that arrive together share the store's group commits instead of
 * queueing on one poll stream's expected version. Counts commits, not time.
 */

const ITEM = '5b1f2c3d-0000-4000-8000-00000000ab01';
const PEOPLE = 500;
const silent = { error: () => undefined };

describe('poll answers and group commit', () => {
  let dir: { path: string; remove(): void } | undefined;
  let store: SqliteEventStore | undefined;
  afterEach(async () => {
    await store?.close();
    dir?.remove();
  });

  it(`${PEOPLE} people answering at once: one event each, a handful of commits, counts exact`, async () => {
    dir = tempDir('switchyard-poll-batching-');
    const commits: number[] = [];
    store = new SqliteEventStore({ path: join(dir.path, 'log.db'), projections: [pollsProjection], walCheckpointIntervalMs: 0, observer: { committed: (_latencies, events) => commits.push(events) } });
    const runtime = new ActorRuntime(store, silent);
    runtime.register(pollAggregate);
    runtime.register(pollAnswersAggregate);
    const item: JoinedItem = { itemId: ITEM, itineraryId: 'it', eventId: 'ev', organisationId: 'org', type: 'poll', startDate: null, endDate: null, configuration: { mode: 'poll', questions: [{ question: 'Tea or coffee?', order: 0, answers: [{ text: 'Tea', order: 0 }, { text: 'Coffee', order: 1 }] }] } };
    const directory = new PollDirectory(store.readModels);
    const polls = new Polls({ runtime, directory, items: { get: () => item }, config: { pollMaxQuestions: 10, pollTimedDefaultSeconds: 30 } });
    const now = Date.UTC(2026, 5, 1);
    await polls.add(polls.pollItem(ITEM), { question: '0' }, { actor: 'user:olga', now });
    const before = { head: store.headPosition(), commits: commits.length };

    const answers = await Promise.all(Array.from({ length: PEOPLE }, (_, index) => polls.answer(ITEM, `user:u${index}`, '0', { answers: [String(index % 2)] }, { actor: `user:u${index}`, now })));
    const positions = answers.map((answer) => answer.position);

    expect(new Set(positions).size).toBe(PEOPLE);
    expect(store.headPosition() - before.head).toBe(PEOPLE);
    const answerCommits = commits.slice(before.commits);
    expect(answerCommits.reduce((sum, events) => sum + events, 0)).toBe(PEOPLE);
    // Arriving in the same turn, they share transactions (at most maxBatch appends each).
    expect(answerCommits.length).toBeLessThanOrEqual(Math.ceil(PEOPLE / 100));
    expect(Object.fromEntries(directory.counts(ITEM, '0'))).toEqual({ 0: PEOPLE / 2, 1: PEOPLE / 2 });
    expect(directory.question(ITEM, '0')?.responses).toBe(PEOPLE);
    // Each person's answers actor stays while they answer (no rebuild per answer); an idle sweep drops them.
    expect(runtime.streams('poll_answers')).toHaveLength(PEOPLE);
    runtime.evictIdle('poll_answers', 0, { idleMs: 1 });
    runtime.evictIdle('poll_answers', 10, { idleMs: 1 });
    expect(runtime.streams('poll_answers')).toEqual([]);
  });
});
