import { assign, setup } from 'xstate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import { AppError, ConflictError } from '../../src/core/errors.js';
import {
  connectionAggregate,
  type CloseConnection,
  type ConnectionSnapshot,
  type OpenConnection,
} from '../../src/modules/connections/domain/index.js';
import { ActorRuntime, Mailboxes } from '../../src/runtime/index.js';
import type { AggregateDefinition } from '../../src/core/decider.js';
import { InMemoryEventStore, type EventStore, type NewEvent, type RecordedEvent } from '../../src/store/index.js';
import { deferred, until } from '../helpers/conditions.js';

describe('Mailboxes', () => {
  it('runs tasks of one key one at a time, in arrival order', async () => {
    const mailboxes = new Mailboxes();
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const results = gates.map((gate, index) =>
      mailboxes.run('stream-a', async () => {
        log.push(`start ${index}`);
        await gate.promise;
        log.push(`end ${index}`);
        return index;
      }),
    );
    await until(() => log.length === 1, 'the first task starts');
    // Opening later gates first must not let their tasks jump the queue.
    gates[2]!.resolve();
    gates[1]!.resolve();
    // Give any wrongly-started task every chance to show up before checking.
    for (let turn = 0; turn < 20; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(log).toEqual(['start 0']);
    expect(mailboxes.busyKeys).toBe(1);
    gates[0]!.resolve();
    expect(await Promise.all(results)).toEqual([0, 1, 2]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('runs tasks of different keys concurrently', async () => {
    const mailboxes = new Mailboxes();
    const started: string[] = [];
    const gate = deferred();
    const keys = ['a', 'b', 'c'];
    const results = keys.map((key) =>
      mailboxes.run(key, async () => {
        started.push(key);
        await gate.promise;
        return key;
      }),
    );
    // All three are running at once although none has finished.
    await until(() => started.length === 3, 'every key starts its task');
    expect(mailboxes.busyKeys).toBe(3);
    gate.resolve();
    expect(await Promise.all(results)).toEqual(keys);
  });

  it('does not let a failing task block the next task of its key', async () => {
    const mailboxes = new Mailboxes();
    const ran: string[] = [];
    const rejected = mailboxes.run('k', async () => {
      ran.push('async failure');
      throw new Error('boom');
    });
    const thrown = mailboxes.run('k', () => {
      ran.push('sync failure');
      throw new Error('bang');
    });
    const next = mailboxes.run('k', () => {
      ran.push('next');
      return 'ok';
    });
    await expect(rejected).rejects.toThrow('boom');
    await expect(thrown).rejects.toThrow('bang');
    await expect(next).resolves.toBe('ok');
    expect(ran).toEqual(['async failure', 'sync failure', 'next']);
  });

  it('forgets keys once their queue is empty', async () => {
    const mailboxes = new Mailboxes();
    await Promise.all([mailboxes.run('a', () => 1), mailboxes.run('b', () => 2), mailboxes.run('a', () => 3)]);
    await until(() => mailboxes.busyKeys === 0, 'idle keys are dropped');
  });
});

// ---------------------------------------------------------------------------------------------

const T0 = Date.UTC(2025, 2, 3, 4, 5, 6);

const open = (connectionId: string, overrides: Partial<OpenConnection> = {}): OpenConnection => ({
  type: 'OpenConnection',
  connectionId,
  codec: 'msgpack',
  transport: 'native',
  remoteAddress: '203.0.113.7',
  userAgent: 'test-agent',
  origin: null,
  now: T0,
  ...overrides,
});

const close = (overrides: Partial<CloseConnection> = {}): CloseConnection => ({
  type: 'CloseConnection',
  code: 1000,
  reason: 'bye',
  framesIn: 3,
  framesOut: 4,
  now: T0 + 1000,
  ...overrides,
});

const opened = (connectionId: string): NewEvent => ({
  type: 'ConnectionOpened',
  data: {
    connectionId,
    codec: 'json',
    transport: 'socket.io',
    remoteAddress: '198.51.100.1',
    userAgent: null,
    origin: 'https://example.test',
    openedAt: T0,
  },
});

const closed = (connectionId: string): NewEvent => ({
  type: 'ConnectionClosed',
  data: { connectionId, codec: 'json', code: 1001, reason: 'elsewhere', unclean: false, framesIn: 0, framesOut: 0, closedAt: T0 + 5 },
});

/** A counter stream whose every command is accepted: the simplest aggregate to race. */
const counterMachine = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'Incremented'; data: { by: number } } },
}).createMachine({
  id: 'counter',
  context: { count: 0 },
  on: { Incremented: { actions: assign({ count: ({ context, event }) => context.count + event.data.by }) } },
});
interface Increment {
  type: 'Increment';
  by: number;
}
const increment = (by: number): Increment => ({ type: 'Increment', by });
const counterAggregate: AggregateDefinition<typeof counterMachine, Increment> = {
  category: 'counter',
  machine: counterMachine,
  decide: (command) => [{ type: 'Incremented', data: { by: command.by } }],
};

/**
 * A store someone else writes to behind the runtime's back: before each of the first
 * `times` appends to `streamId`, it appends `foreign` itself, as the CLI would.
 */
function meddlingStore(inner: InMemoryEventStore, streamId: string, foreign: NewEvent, times: number) {
  const calls: string[] = [];
  let remaining = times;
  const store: EventStore = {
    readModels: inner.readModels,
    checkpoints: inner.checkpoints,
    async append(target, events, expected) {
      calls.push(target);
      if (target === streamId && remaining > 0) {
        remaining -= 1;
        await inner.append(streamId, [foreign], 'any');
      }
      return inner.append(target, events, expected);
    },
    readStream: (target, fromVersion) => inner.readStream(target, fromVersion),
    readAll: (options) => inner.readAll(options),
    streamVersion: (target) => inner.streamVersion(target),
    headPosition: () => inner.headPosition(),
    close: () => inner.close(),
    onCommitted: (listener) => inner.onCommitted(listener),
  };
  return { store, calls };
}

describe('ActorRuntime with the connection aggregate', () => {
  let store: InMemoryEventStore;
  let runtime: ActorRuntime;
  let batches: number[];

  /** given: events already in the log, written before the runtime saw them. */
  const given = async (streamId: string, ...events: NewEvent[]) => {
    await store.append(streamId, events, 'any');
  };
  /** then: the events a command appended, as stored. */
  const appendedSince = (streamId: string, version: number): RecordedEvent[] => store.readStream(streamId, version + 1);

  beforeEach(() => {
    batches = [];
    store = new InMemoryEventStore({ clock: fixedClock(T0), observer: { committed: (latencies) => batches.push(latencies.length) } });
    runtime = new ActorRuntime(store);
    runtime.register(connectionAggregate);
  });
  afterEach(async () => {
    await store.close();
  });

  it('OpenConnection on a new stream appends ConnectionOpened with the command metadata', async () => {
    const result = await runtime.execute<ConnectionSnapshot>('connection-c1', open('c1'), { actor: 'connection:c1', correlationId: 'corr-1' });
    const appended = appendedSince('connection-c1', 0);
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({
      streamId: 'connection-c1',
      version: 1,
      type: 'ConnectionOpened',
      data: {
        connectionId: 'c1',
        codec: 'msgpack',
        transport: 'native',
        remoteAddress: '203.0.113.7',
        userAgent: 'test-agent',
        origin: null,
        openedAt: T0,
      },
      metadata: { actor: 'connection:c1', correlationId: 'corr-1' },
    });
    expect(result.events).toEqual(appended);
    expect(result.snapshot.value).toBe('open');
    expect(result.snapshot.context).toMatchObject({ connectionId: 'c1', codec: 'msgpack', transport: 'native', openedAt: T0 });
    // Connections are not kept in memory between commands; reading reloads the same state.
    expect(runtime.snapshot('connection-c1')).toBeUndefined();
    expect(runtime.read('connection-c1').context).toEqual(result.snapshot.context);
  });

  it('OpenConnection twice is refused with CONFLICT and appends nothing more', async () => {
    await runtime.execute('connection-c1', open('c1'));
    const error = await runtime.execute('connection-c1', open('c1')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('CONFLICT');
    expect(store.readStream('connection-c1').map((recorded) => recorded.type)).toEqual(['ConnectionOpened']);
    // The refused command does not wedge the stream's mailbox.
    await expect(runtime.execute('connection-c1', close())).resolves.toMatchObject({ events: [{ type: 'ConnectionClosed' }] });
  });

  it('given an opened connection in the log, CloseConnection appends ConnectionClosed and drops the finished actor', async () => {
    await given('connection-c2', opened('c2'));
    const result = await runtime.execute<ConnectionSnapshot>('connection-c2', close({ unclean: true }));
    expect(appendedSince('connection-c2', 1)).toEqual(result.events);
    expect(result.events).toHaveLength(1);
    expect(result.events[0]).toMatchObject({
      version: 2,
      type: 'ConnectionClosed',
      // connection id and codec come from the stream's history, not the command.
      data: { connectionId: 'c2', codec: 'json', code: 1000, reason: 'bye', unclean: true, framesIn: 3, framesOut: 4, closedAt: T0 + 1000 },
    });
    expect(result.snapshot.status).toBe('done');
    expect(runtime.snapshot('connection-c2')).toBeUndefined();
    expect(runtime.size).toBe(0);
  });

  it('CloseConnection twice appends nothing the second time and keeps no finished actor', async () => {
    await runtime.execute('connection-c3', open('c3'));
    await runtime.execute('connection-c3', close());
    const second = await runtime.execute<ConnectionSnapshot>('connection-c3', close({ code: 1001, reason: 'shutdown' }));
    expect(second.events).toEqual([]);
    expect(second.snapshot.status).toBe('done');
    expect(store.readStream('connection-c3').map((recorded) => recorded.type)).toEqual(['ConnectionOpened', 'ConnectionClosed']);
    expect(store.readStream('connection-c3')[1]!.data).toMatchObject({ code: 1000, reason: 'bye' });
    // A closed stream can take no more commands; holding its actor would leak one per close.
    expect(runtime.size).toBe(0);
  });

  it('serialises commands to one stream issued in the same tick', async () => {
    const [first, second] = await Promise.all([runtime.execute('connection-c4', open('c4')), runtime.execute('connection-c4', close())]);
    expect(first.events.map((recorded) => recorded.version)).toEqual([1]);
    expect(second.events.map((recorded) => [recorded.version, recorded.type])).toEqual([[2, 'ConnectionClosed']]);
  });

  it('runs commands to different streams concurrently, so their appends share one commit', async () => {
    const ids = Array.from({ length: 20 }, (_, index) => `m${index}`);
    const results = await Promise.all(ids.map((id) => runtime.execute(`connection-${id}`, open(id))));
    expect(results.every((result) => result.events.length === 1)).toBe(true);
    expect(batches).toEqual([20]);
    expect(runtime.streams('connection')).toEqual([]);
    expect(ids.every((id) => runtime.read(`connection-${id}`).value === 'open')).toBe(true);
  });

  it('refuses a stream with no registered aggregate with NOT_FOUND, and a second registration', async () => {
    await expect(runtime.execute('room-1', { type: 'Anything' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => runtime.register(connectionAggregate)).toThrow(/registered twice/);
    expect(store.headPosition()).toBe(0);
  });

  describe('rebuild', () => {
    it.each([10_000, 2])('restores live actors from the log and evicts closed streams (batch size %i)', async (batchSize) => {
      await given('connection-live', opened('live'));
      await given('connection-gone', opened('gone'), closed('gone'));
      await given('other-1', { type: 'Whatever', data: {} });
      await given('connection-late', opened('late'));

      const fresh = new ActorRuntime(store);
      fresh.register(connectionAggregate);
      expect(fresh.rebuild(batchSize)).toEqual({ streams: 2, events: 5 });
      expect(fresh.streams('connection').sort()).toEqual(['connection-late', 'connection-live']);
      expect(fresh.snapshot('connection-gone')).toBeUndefined();
      const live = fresh.snapshot<typeof connectionAggregate.machine>('connection-live')!;
      expect(live.value).toBe('open');
      expect(live.context).toMatchObject({ connectionId: 'live', codec: 'json', transport: 'socket.io', remoteAddress: '198.51.100.1' });

      // The rebuilt actor knows its version: its next append expects 1 and succeeds.
      const result = await fresh.execute('connection-live', close());
      expect(result.events.map((recorded) => recorded.version)).toEqual([2]);
      // An evicted stream is read back from the log when addressed again.
      await expect(fresh.execute('connection-gone', open('gone'))).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(store.readStream('connection-gone')).toHaveLength(2);
      expect(fresh.streams('connection')).toEqual(['connection-late']);
    });
  });

  describe('a stale actor (someone appended to its stream behind its back)', () => {
    it('catches up and decides again: a close already made by someone else appends nothing', async () => {
      const { store: meddled, calls } = meddlingStore(store, 'connection-s1', closed('s1'), 1);
      const stale = new ActorRuntime(meddled);
      stale.register(connectionAggregate);
      await given('connection-s1', opened('s1'));
      expect(stale.rebuild().streams).toBe(1);

      const result = await stale.execute<ConnectionSnapshot>('connection-s1', close());
      expect(result.events).toEqual([]);
      expect(result.snapshot.status).toBe('done');
      expect(calls).toEqual(['connection-s1']);
      expect(stale.size).toBe(0);
      expect(store.readStream('connection-s1').map((recorded) => recorded.data)).toEqual([opened('s1').data, closed('s1').data]);
    });

    it('retries once with the caught-up version and succeeds', async () => {
      const { store: meddled, calls } = meddlingStore(store, 'counter-1', { type: 'Incremented', data: { by: 10 } }, 1);
      const counters = new ActorRuntime(meddled);
      counters.register(counterAggregate);
      await given('counter-1', { type: 'Incremented', data: { by: 1 } });
      counters.rebuild();

      const result = await counters.execute<{ context: { count: number } }>('counter-1', increment(100));
      expect(calls).toEqual(['counter-1', 'counter-1']);
      expect(result.events.map((recorded) => [recorded.version, recorded.data])).toEqual([[3, { by: 100 }]]);
      expect(result.snapshot.context.count).toBe(111);
      expect(store.readStream('counter-1').map((recorded) => (recorded.data as { by: number }).by)).toEqual([1, 10, 100]);
    });

    it('gives up with CONFLICT when the stream moves again during the retry, and recovers on the next command', async () => {
      const { store: meddled, calls } = meddlingStore(store, 'counter-2', { type: 'Incremented', data: { by: 10 } }, 2);
      const counters = new ActorRuntime(meddled);
      counters.register(counterAggregate);
      const error = await counters.execute('counter-2', increment(1)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConflictError);
      expect(calls).toHaveLength(2);
      expect(store.readStream('counter-2').map((recorded) => (recorded.data as { by: number }).by)).toEqual([10, 10]);
      // The actor never counted the append that failed; the next command catches up and lands.
      const result = await counters.execute<{ context: { count: number } }>('counter-2', increment(1));
      expect(result.snapshot.context.count).toBe(21);
      expect(result.events.map((recorded) => recorded.version)).toEqual([3]);
      expect(store.readStream('counter-2').map((recorded) => (recorded.data as { by: number }).by)).toEqual([10, 10, 1]);
    });
  });
});
