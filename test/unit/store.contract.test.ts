import type { Database } from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import { AppError, ConflictError } from '../../src/core/errors.js';
import {
  InMemoryEventStore,
  SqliteEventStore,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type Projection,
  type RecordedEvent,
  type StoreObserver,
} from '../../src/store/index.js';
import { settleAll, until } from '../helpers/conditions.js';
import { skipWithoutNats } from '../helpers/nats-cluster.js';
import { jetStreamHarness, stopContractNatsServer, type StoreHarness } from '../helpers/store-harnesses.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The store contract (DESIGN.md rule 8): written once, run against the SQLite log, its
 * in-memory twin and the cluster's JetStream log (one real nats-server, R1). Anything the
 * runtime or a projection may rely on belongs here.
 */

interface HarnessKind {
  name: string;
  durable: boolean;
  /**
   * Whether appends made in one tick commit as one batch (one observer call, one onCommitted
   * call). The SQLite log and its twin commit per tick; the JetStream log commits what its
   * consumer delivered together, which may split a tick's appends over several ingests.
   */
  tickIsOneCommit: boolean;
  create(): StoreHarness;
}

afterAll(() => stopContractNatsServer());

const harnesses: HarnessKind[] = [
  {
    name: 'SqliteEventStore (fsync by the sync worker)',
    durable: true,
    tickIsOneCommit: true,
    create() {
      const dir = tempDir();
      const opened: EventStore[] = [];
      return {
        durable: true,
        open(options = {}) {
          const store = new SqliteEventStore({ path: join(dir.path, 'log.db'), walCheckpointIntervalMs: 0, walSync: 'worker', ...options });
          opened.push(store);
          return store;
        },
        async dispose() {
          for (const store of opened) await store.close();
          dir.remove();
        },
      };
    },
  },
  {
    name: 'SqliteEventStore (fsync in COMMIT)',
    durable: true,
    tickIsOneCommit: true,
    create() {
      const dir = tempDir();
      const opened: EventStore[] = [];
      return {
        durable: true,
        open(options = {}) {
          const store = new SqliteEventStore({ path: join(dir.path, 'log.db'), walCheckpointIntervalMs: 0, walSync: 'commit', ...options });
          opened.push(store);
          return store;
        },
        async dispose() {
          for (const store of opened) await store.close();
          dir.remove();
        },
      };
    },
  },
  {
    name: 'InMemoryEventStore',
    durable: false,
    tickIsOneCommit: true,
    create() {
      const opened: EventStore[] = [];
      return {
        durable: false,
        open(options = {}) {
          const store = new InMemoryEventStore(options);
          opened.push(store);
          return store;
        },
        async dispose() {
          for (const store of opened) await store.close();
        },
      };
    },
  },
  // Without nats-server the JetStream run is left out, with the reason printed (CI fails instead).
  ...(skipWithoutNats() ? [] : [{ name: 'JetStreamEventStore (one nats-server, R1)', durable: true, tickIsOneCommit: false, create: jetStreamHarness }]),
];

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

const event = (type: string, data: unknown = {}, metadata?: NewEvent['metadata']): NewEvent =>
  metadata === undefined ? { type, data } : { type, data, metadata };

/** Inline read model: events per stream. Writes its row first, so a `Poison` event leaves a row to roll back. */
const streamCounts: Projection = {
  name: 'stream_counts',
  mode: 'inline',
  tables: ['stream_counts'],
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS stream_counts (stream_id TEXT PRIMARY KEY, events INTEGER NOT NULL)');
  },
  apply(db, recorded) {
    db.prepare(
      'INSERT INTO stream_counts (stream_id, events) VALUES (?, 1) ON CONFLICT(stream_id) DO UPDATE SET events = events + 1',
    ).run(recorded.streamId);
    if (recorded.type === 'Poison') throw new Error('projection refuses Poison');
  },
};

/** Async read model: events per type, fed from its checkpoint. */
const typeCounts: Projection = {
  name: 'type_counts',
  mode: 'async',
  tables: ['type_counts'],
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS type_counts (type TEXT PRIMARY KEY, events INTEGER NOT NULL)');
  },
  apply(db, recorded) {
    db.prepare('INSERT INTO type_counts (type, events) VALUES (?, 1) ON CONFLICT(type) DO UPDATE SET events = events + 1').run(
      recorded.type,
    );
  },
};

const streamCountsOf = (db: Database): Record<string, number> =>
  Object.fromEntries(
    (db.prepare('SELECT stream_id, events FROM stream_counts ORDER BY stream_id').all() as { stream_id: string; events: number }[]).map(
      (row) => [row.stream_id, row.events],
    ),
  );

const typeCountsOf = (db: Database): Record<string, number> =>
  Object.fromEntries(
    (db.prepare('SELECT type, events FROM type_counts ORDER BY type').all() as { type: string; events: number }[]).map((row) => [
      row.type,
      row.events,
    ]),
  );

const checkpointOf = (db: Database, name: string): number =>
  (db.prepare('SELECT position FROM projection_checkpoints WHERE name = ?').pluck().get(name) as number | undefined) ?? 0;

/** What the observer was told since batch `from`: every append's latency, and the events. */
function reportedSince(observer: ReturnType<typeof recordingObserver>, from = 0): { latencies: number[]; eventCount: number } {
  const batches = observer.batches.slice(from);
  return { latencies: batches.flatMap((batch) => [...batch.latencies]), eventCount: batches.reduce((sum, batch) => sum + batch.eventCount, 0) };
}

function recordingObserver(): StoreObserver & { batches: { latencies: readonly number[]; eventCount: number }[] } {
  const batches: { latencies: readonly number[]; eventCount: number }[] = [];
  return {
    batches,
    committed(latencies, eventCount) {
      batches.push({ latencies: [...latencies], eventCount });
    },
  };
}

async function expectRejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, it resolved');
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error = await expectRejection(promise);
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

describe.each(harnesses)('EventStore contract: $name', ({ create, durable, tickIsOneCommit }) => {
  let harness: StoreHarness;
  beforeEach(() => {
    harness = create();
  });
  afterEach(async () => {
    await harness.dispose();
  });

  describe('append and read', () => {
    it('appends a stream and reads it back with 1-based versions and 1-based positions', async () => {
      const store = await harness.open({ clock: fixedClock(T0) });
      expect(store.headPosition()).toBe(0);
      expect(store.streamVersion('cart-1')).toBe(0);
      expect(store.readStream('cart-1')).toEqual([]);

      const result = await store.append(
        'cart-1',
        [event('CartOpened', { owner: 'ada' }, { actor: 'user-1', correlationId: 'c-1' }), event('ItemAdded', { sku: 'x', qty: 2 }), event('ItemAdded', { sku: 'y', qty: 1 })],
        'no_stream',
      );

      expect(result.nextVersion).toBe(3);
      expect(result.lastPosition).toBe(3);
      expect(result.events.map((recorded) => [recorded.position, recorded.version, recorded.type])).toEqual([
        [1, 1, 'CartOpened'],
        [2, 2, 'ItemAdded'],
        [3, 3, 'ItemAdded'],
      ]);
      const stored = store.readStream('cart-1');
      // What the append reports is exactly what the log holds, field for field.
      expect(stored).toEqual(result.events);
      expect(stored[0]).toEqual({
        position: 1,
        streamId: 'cart-1',
        version: 1,
        type: 'CartOpened',
        data: { owner: 'ada' },
        metadata: { actor: 'user-1', correlationId: 'c-1' },
        recordedAt: T0,
      });
      expect(stored[1]!.metadata).toEqual({});
      expect(store.readStream('cart-1', 2).map((recorded) => recorded.version)).toEqual([2, 3]);
      expect(store.readStream('cart-1', 4)).toEqual([]);
      expect(store.streamVersion('cart-1')).toBe(3);
      expect(store.headPosition()).toBe(3);
    });

    it('reports the events as the log holds them, not the objects the caller passed in', async () => {
      const store = await harness.open();
      const data = { at: new Date(T0), missing: undefined, nested: { list: [1, 2] } };
      const result = await store.append('doc-1', [event('Saved', data), { type: 'Empty', data: undefined }], 'no_stream');
      // A caller mutating its object afterwards changes nothing stored or reported.
      data.nested.list.push(3);
      const stored = store.readStream('doc-1');
      expect(stored[0]!.data).toEqual({ at: new Date(T0).toISOString(), nested: { list: [1, 2] } });
      expect(stored[1]!.data).toBeNull();
      // Live state built from the append's result must equal state rebuilt from the log.
      expect(result.events).toEqual(stored);
    });

    it('keeps global positions gap-free and increasing across streams and batches', async () => {
      const store = await harness.open();
      await store.append('a-1', [event('A'), event('A')], 'no_stream');
      // One batch of appends to three streams issued in the same tick.
      await Promise.all([
        store.append('b-1', [event('B')], 'no_stream'),
        store.append('a-1', [event('A')], 2),
        store.append('c-1', [event('C'), event('C'), event('C')], 'any'),
      ]);
      await store.append('b-1', [event('B')], 1);
      const all = store.readAll();
      expect(all.map((recorded) => recorded.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(store.headPosition()).toBe(8);
      // Per stream, versions count from 1 without gaps whatever the interleaving.
      for (const streamId of ['a-1', 'b-1', 'c-1']) {
        const versions = store.readStream(streamId).map((recorded) => recorded.version);
        expect(versions).toEqual(versions.map((_, index) => index + 1));
      }
      expect(store.streamVersion('a-1')).toBe(3);
      expect(store.streamVersion('b-1')).toBe(2);
      expect(store.streamVersion('c-1')).toBe(3);
    });

    it('filters readAll by after, limit, stream and type', async () => {
      const store = await harness.open();
      await store.append('a-1', [event('Opened'), event('Noted', { n: 1 })], 'no_stream');
      await store.append('b-1', [event('Opened'), event('Noted', { n: 2 })], 'no_stream');
      await store.append('a-1', [event('Noted', { n: 3 }), event('Closed')], 2);

      const positions = (recorded: RecordedEvent[]) => recorded.map((one) => one.position);
      expect(positions(store.readAll())).toEqual([1, 2, 3, 4, 5, 6]);
      expect(positions(store.readAll({ after: 4 }))).toEqual([5, 6]);
      expect(positions(store.readAll({ after: 6 }))).toEqual([]);
      expect(positions(store.readAll({ limit: 2 }))).toEqual([1, 2]);
      expect(positions(store.readAll({ after: 2, limit: 3 }))).toEqual([3, 4, 5]);
      expect(positions(store.readAll({ streamId: 'b-1' }))).toEqual([3, 4]);
      expect(positions(store.readAll({ type: 'Noted' }))).toEqual([2, 4, 5]);
      expect(positions(store.readAll({ streamId: 'a-1', type: 'Noted' }))).toEqual([2, 5]);
      // The limit counts matching events, not scanned ones.
      expect(positions(store.readAll({ type: 'Noted', limit: 2 }))).toEqual([2, 4]);
      expect(positions(store.readAll({ streamId: 'a-1', after: 2, limit: 1 }))).toEqual([5]);
      expect(store.readAll({ streamId: 'nobody' })).toEqual([]);
      expect(store.readAll({ type: 'Noted' }).map((one) => one.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    });
  });

  describe('expected version', () => {
    it('accepts a matching number and refuses a stale or future one with CONFLICT', async () => {
      const store = await harness.open();
      await store.append('s-1', [event('E'), event('E')], 'no_stream');
      await expect(store.append('s-1', [event('E')], 2)).resolves.toMatchObject({ nextVersion: 3 });
      for (const wrong of [0, 1, 2, 4, 99]) {
        const error = await expectCode(store.append('s-1', [event('E')], wrong), 'CONFLICT');
        expect(error).toBeInstanceOf(ConflictError);
        expect(error).toMatchObject({ streamId: 's-1', expected: String(wrong), actual: 3 });
      }
      expect(store.streamVersion('s-1')).toBe(3);
      expect(store.headPosition()).toBe(3);
    });

    it('treats 0 as "the stream is empty"', async () => {
      const store = await harness.open();
      await expect(store.append('s-1', [event('E')], 0)).resolves.toMatchObject({ nextVersion: 1 });
      await expectCode(store.append('s-1', [event('E')], 0), 'CONFLICT');
    });

    it('no_stream succeeds only on an empty stream', async () => {
      const store = await harness.open();
      await store.append('s-1', [event('E')], 'no_stream');
      const error = await expectCode(store.append('s-1', [event('E')], 'no_stream'), 'CONFLICT');
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ expected: 'no_stream', actual: 1 });
      expect(store.readStream('s-1')).toHaveLength(1);
    });

    it('stream_exists succeeds only on a stream with events', async () => {
      const store = await harness.open();
      const error = await expectCode(store.append('s-1', [event('E')], 'stream_exists'), 'CONFLICT');
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ expected: 'stream_exists', actual: 0 });
      expect(store.headPosition()).toBe(0);
      await store.append('s-1', [event('E')], 'no_stream');
      await expect(store.append('s-1', [event('E')], 'stream_exists')).resolves.toMatchObject({ nextVersion: 2 });
    });

    it('any never conflicts', async () => {
      const store = await harness.open();
      await expect(store.append('s-1', [event('E')], 'any')).resolves.toMatchObject({ nextVersion: 1 });
      await expect(store.append('s-1', [event('E'), event('E')], 'any')).resolves.toMatchObject({ nextVersion: 3 });
      expect(store.streamVersion('s-1')).toBe(3);
    });
  });

  describe('bad input', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const cases: { name: string; streamId: string; events: NewEvent[]; expected: ExpectedVersion }[] = [
      { name: 'no events', streamId: 's-1', events: [], expected: 'any' },
      { name: 'an empty stream id', streamId: '', events: [event('E')], expected: 'any' },
      { name: 'a stream id over 200 characters', streamId: 's'.repeat(201), events: [event('E')], expected: 'any' },
      { name: 'a stream id that is not a string', streamId: 42 as unknown as string, events: [event('E')], expected: 'any' },
      { name: 'a negative expected version', streamId: 's-1', events: [event('E')], expected: -1 },
      { name: 'a fractional expected version', streamId: 's-1', events: [event('E')], expected: 1.5 },
      { name: 'NaN as expected version', streamId: 's-1', events: [event('E')], expected: Number.NaN },
      { name: 'an unknown expected version', streamId: 's-1', events: [event('E')], expected: 'latest' as ExpectedVersion },
      { name: 'an event without a type', streamId: 's-1', events: [event('')], expected: 'any' },
      { name: 'BigInt data', streamId: 's-1', events: [event('E', { amount: 10n })], expected: 'any' },
      { name: 'cyclic data', streamId: 's-1', events: [event('E', cyclic)], expected: 'any' },
      { name: 'BigInt metadata', streamId: 's-1', events: [event('E', {}, { actor: 'x', big: 1n })], expected: 'any' },
      { name: 'a function as data', streamId: 's-1', events: [event('E', () => 1)], expected: 'any' },
      { name: 'a symbol as data', streamId: 's-1', events: [event('E', Symbol('x'))], expected: 'any' },
      {
        name: 'one unstorable event among good ones',
        streamId: 's-1',
        events: [event('E'), event('E', { amount: 10n }), event('E')],
        expected: 'any',
      },
    ];

    it.each(cases)('refuses $name with BAD_REQUEST and writes nothing', async ({ streamId, events, expected }) => {
      const observer = recordingObserver();
      const store = await harness.open({ observer, projections: [streamCounts] });
      await expectCode(store.append(streamId, events, expected), 'BAD_REQUEST');
      expect(store.headPosition()).toBe(0);
      expect(store.readAll()).toEqual([]);
      expect(streamCountsOf(store.readModels)).toEqual({});
      expect(observer.batches).toEqual([]);
    });

    it('fails a bad append alone when good appends share its tick', async () => {
      const store = await harness.open();
      const { outcomes } = await settleAll<AppendResult>([
        store.append('s-1', [event('E')], 'no_stream'),
        store.append('s-2', [event('E', () => 'not JSON')], 'no_stream'),
        store.append('s-3', [event('E', { amount: 1n })], 'no_stream'),
        store.append('s-4', [event('E')], 'no_stream'),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect((outcome.reason as AppError).code).toBe('BAD_REQUEST');
      }
      expect(store.readAll().map((recorded) => recorded.streamId)).toEqual(['s-1', 's-4']);
    });
  });

  describe('group commit', () => {
    it('commits appends issued in the same tick together, answering each after the commit', async () => {
      const observer = recordingObserver();
      const store = await harness.open({ observer });
      const streams = Array.from({ length: 25 }, (_, index) => `g-${index}`);
      const seenAtResolve: { committedBatches: number; stored: number }[] = [];
      const appends = streams.map((streamId, index) =>
        store.append(streamId, [event('E', { index }), event('E', { index })], 'no_stream').then((result) => {
          seenAtResolve.push({ committedBatches: observer.batches.length, stored: store.readStream(streamId).length });
          return result;
        }),
      );
      // Nothing is committed (or answered) within the tick that issued the appends.
      expect(observer.batches).toEqual([]);
      expect(store.headPosition()).toBe(0);
      expect(seenAtResolve).toEqual([]);

      const results = await Promise.all(appends);
      const reported = reportedSince(observer);
      expect(reported.latencies).toHaveLength(streams.length);
      expect(reported.eventCount).toBe(streams.length * 2);
      for (const latency of reported.latencies) expect(latency).toBeGreaterThanOrEqual(0);
      if (tickIsOneCommit) {
        expect(observer.batches).toHaveLength(1);
        // Every caller heard back only once the batch was committed and readable.
        expect(seenAtResolve).toEqual(streams.map(() => ({ committedBatches: 1, stored: 2 })));
      } else {
        // Every caller heard back only once its own append was committed, reported and readable.
        expect(seenAtResolve.filter((seen) => seen.committedBatches >= 1 && seen.stored === 2)).toHaveLength(streams.length);
      }
      // Queue order is commit order.
      expect(results.map((result) => result.lastPosition)).toEqual(streams.map((_, index) => 2 * index + 2));
    });

    it('commits appends of different ticks in different batches', async () => {
      const observer = recordingObserver();
      const store = await harness.open({ observer });
      await store.append('s-1', [event('E')], 'no_stream');
      await store.append('s-1', [event('E')], 1);
      await store.append('s-2', [event('E')], 'no_stream');
      expect(observer.batches.map((batch) => batch.latencies.length)).toEqual([1, 1, 1]);
    });

    it('fails a conflicting append alone while the rest of its batch commits', async () => {
      const observer = recordingObserver();
      const store = await harness.open({ observer });
      await store.append('s-1', [event('E')], 'no_stream');
      const before = observer.batches.length;
      const { outcomes } = await settleAll<AppendResult>([
        store.append('s-2', [event('E')], 'no_stream'),
        store.append('s-1', [event('E')], 'no_stream'),
        store.append('s-3', [event('E')], 'no_stream'),
        store.append('s-1', [event('E')], 1),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const failure = outcomes[1] as PromiseRejectedResult;
      expect(failure.reason).toBeInstanceOf(ConflictError);
      expect((failure.reason as ConflictError).code).toBe('CONFLICT');
      if (tickIsOneCommit) expect(observer.batches.length).toBe(before + 1);
      expect(reportedSince(observer, before).latencies).toHaveLength(3);
      expect(reportedSince(observer, before).eventCount).toBe(3);
      expect(store.readAll().map((recorded) => [recorded.position, recorded.streamId, recorded.version])).toEqual([
        [1, 's-1', 1],
        [2, 's-2', 1],
        [3, 's-3', 1],
        [4, 's-1', 2],
      ]);
    });

    it('lets exactly one of 50 concurrent appends at the same expected version win', async () => {
      const store = await harness.open({ projections: [streamCounts] });
      await store.append('race-1', [event('Started')], 'no_stream');
      const { fulfilled, rejected } = await settleAll(
        Array.from({ length: 50 }, (_, contender) => store.append('race-1', [event('Claimed', { contender })], 1)),
      );
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(49);
      for (const error of rejected) {
        expect(error).toBeInstanceOf(ConflictError);
        expect((error as ConflictError).code).toBe('CONFLICT');
      }
      expect(fulfilled[0]!.nextVersion).toBe(2);
      const stored = store.readStream('race-1');
      expect(stored.map((recorded) => recorded.type)).toEqual(['Started', 'Claimed']);
      expect(stored[1]!.data).toEqual(fulfilled[0]!.events[0]!.data);
      expect(store.headPosition()).toBe(2);
      expect(streamCountsOf(store.readModels)).toEqual({ 'race-1': 2 });
    });

    it('lets exactly one of 50 concurrent no_stream appends create the stream', async () => {
      const store = await harness.open();
      const { fulfilled, rejected } = await settleAll(
        Array.from({ length: 50 }, (_, contender) => store.append('race-2', [event('Created', { contender })], 'no_stream')),
      );
      expect(fulfilled).toHaveLength(1);
      expect(rejected.every((error) => error instanceof ConflictError)).toBe(true);
      expect(store.readStream('race-2')).toHaveLength(1);
    });
  });

  describe('projections', () => {
    it('applies an inline projection inside the append, before the caller hears back', async () => {
      const store = await harness.open({ projections: [streamCounts] });
      const seen: Record<string, number>[] = [];
      store.onCommitted(() => seen.push(streamCountsOf(store.readModels)));
      const first = store.append('p-1', [event('E'), event('E')], 'no_stream').then((result) => {
        // The read model is already updated when the append resolves.
        expect(streamCountsOf(store.readModels)['p-1']).toBe(2);
        return result;
      });
      await Promise.all([first, store.append('p-2', [event('E')], 'no_stream')]);
      // The read model as listeners saw it after the commit that holds the last of the two appends.
      if (tickIsOneCommit) expect(seen).toEqual([{ 'p-1': 2, 'p-2': 1 }]);
      else expect(seen.at(-1)).toEqual({ 'p-1': 2, 'p-2': 1 });
      await store.append('p-1', [event('E')], 2);
      expect(streamCountsOf(store.readModels)).toEqual({ 'p-1': 3, 'p-2': 1 });
    });

    it('fails only the append whose inline projection throws, keeping neither log rows nor read-model rows of it', async () => {
      const observer = recordingObserver();
      const store = await harness.open({ projections: [streamCounts], observer });
      await store.append('ok-1', [event('E')], 'no_stream');
      const before = observer.batches.length;
      const { outcomes } = await settleAll<AppendResult>([
        store.append('ok-1', [event('E')], 1),
        // The projection writes a row for the first event, then throws on the second.
        store.append('bad-1', [event('E'), event('Poison')], 'no_stream'),
        store.append('ok-2', [event('E')], 'no_stream'),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).toContain('projection refuses Poison');
      expect(store.readStream('bad-1')).toEqual([]);
      expect(store.streamVersion('bad-1')).toBe(0);
      expect(streamCountsOf(store.readModels)).toEqual({ 'ok-1': 2, 'ok-2': 1 });
      // Positions stay gap-free: the rolled-back append left no hole.
      expect(store.readAll().map((recorded) => [recorded.position, recorded.streamId])).toEqual([
        [1, 'ok-1'],
        [2, 'ok-1'],
        [3, 'ok-2'],
      ]);
      expect(store.headPosition()).toBe(3);
      expect(reportedSince(observer, before).latencies).toHaveLength(2);
      // The stream refused before can be created afterwards.
      await expect(store.append('bad-1', [event('E')], 'no_stream')).resolves.toMatchObject({ nextVersion: 1, lastPosition: 4 });
    });

    it('catches an async projection up from its checkpoint after each commit', async () => {
      const store = await harness.open({ projections: [typeCounts] });
      await store.append('a-1', [event('Opened'), event('Noted')], 'no_stream');
      await until(() => checkpointOf(store.readModels, 'type_counts') === 2, 'async projection reaches position 2');
      expect(typeCountsOf(store.readModels)).toEqual({ Opened: 1, Noted: 1 });
      await Promise.all([store.append('a-1', [event('Noted')], 2), store.append('b-1', [event('Opened')], 'no_stream')]);
      await until(() => checkpointOf(store.readModels, 'type_counts') === 4, 'async projection reaches position 4');
      expect(typeCountsOf(store.readModels)).toEqual({ Opened: 2, Noted: 2 });
    });

    // Only a durable log can be reopened.
    it.runIf(durable)('catches an async projection up after reopening the store, counting nothing twice', async () => {
      // Events appended while the projection did not exist yet.
      const first = await harness.open();
      await first.append('a-1', [event('Opened'), event('Noted'), event('Noted')], 'no_stream');
      await first.close();

      const second = await harness.open({ projections: [typeCounts] });
      await until(() => checkpointOf(second.readModels, 'type_counts') === 3, 'catch-up to position 3 after reopen');
      expect(typeCountsOf(second.readModels)).toEqual({ Opened: 1, Noted: 2 });
      await second.append('a-1', [event('Closed')], 3);
      await second.close();

      const third = await harness.open({ projections: [typeCounts] });
      await third.append('b-1', [event('Opened')], 'no_stream');
      await until(() => checkpointOf(third.readModels, 'type_counts') === 5, 'catch-up to position 5 after second reopen');
      expect(typeCountsOf(third.readModels)).toEqual({ Opened: 2, Noted: 2, Closed: 1 });
    });
  });

  describe('onCommitted', () => {
    it('gives listeners every committed event once, in log order', async () => {
      const store = await harness.open();
      const seen: number[][] = [];
      const alsoSeen: number[] = [];
      store.onCommitted((events) => seen.push(events.map((recorded) => recorded.position)));
      store.onCommitted((events) => alsoSeen.push(...events.map((recorded) => recorded.position)));
      await store.append('a-1', [event('E'), event('E')], 'no_stream');
      await settleAll([
        store.append('b-1', [event('E')], 'no_stream'),
        store.append('a-1', [event('E')], 'no_stream'), // conflicts: not reported
        store.append('c-1', [event('E'), event('E')], 'no_stream'),
      ]);
      await store.append('a-1', [event('E')], 2);
      if (tickIsOneCommit) expect(seen).toEqual([[1, 2], [3, 4, 5], [6]]);
      // Awaited appends are separate commits whatever the store; one tick's may share or not.
      else expect([seen[0], seen.slice(1, -1).flat(), seen.at(-1)]).toEqual([[1, 2], [3, 4, 5], [6]]);
      expect(alsoSeen).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('stops calling a listener after it unsubscribes, and a throwing listener does not undo the commit', async () => {
      const store = await harness.open();
      const seen: number[] = [];
      store.onCommitted(() => {
        throw new Error('listener bug');
      });
      const unsubscribe = store.onCommitted((events) => seen.push(...events.map((recorded) => recorded.position)));
      await expect(store.append('a-1', [event('E')], 'no_stream')).resolves.toMatchObject({ nextVersion: 1 });
      unsubscribe();
      await store.append('a-1', [event('E')], 1);
      expect(seen).toEqual([1]);
      expect(store.headPosition()).toBe(2);
    });
  });

  describe('close', () => {
    it('commits what is queued, then refuses appends with UNAVAILABLE', async () => {
      const observer = recordingObserver();
      const store = await harness.open({ observer });
      const queued = [store.append('q-1', [event('E')], 'no_stream'), store.append('q-2', [event('E'), event('E')], 'no_stream')];
      await store.close();
      const results = await Promise.all(queued);
      expect(results.map((result) => result.lastPosition)).toEqual([1, 3]);
      if (tickIsOneCommit) expect(observer.batches).toHaveLength(1);
      expect(reportedSince(observer).latencies).toHaveLength(2);
      const reportedAtClose = observer.batches.length;
      await expectCode(store.append('q-3', [event('E')], 'no_stream'), 'UNAVAILABLE');
      expect(observer.batches).toHaveLength(reportedAtClose);
      if (harness.durable) {
        const reopened = await harness.open();
        expect(reopened.readAll().map((recorded) => recorded.streamId)).toEqual(['q-1', 'q-2', 'q-2']);
        expect(reopened.streamVersion('q-3')).toBe(0);
      }
    });
  });
});
