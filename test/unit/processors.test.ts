import { afterEach, describe, expect, it } from 'vitest';
import { LocalLogSource } from '../../src/cluster/index.js';
import { systemClock } from '../../src/core/clock.js';
import type { RecordedEvent } from '../../src/core/events.js';
import { ProcessorRunner, Scheduler, type Processor, type ProcessorRunnerOptions } from '../../src/runtime/index.js';
import { InMemoryEventStore, type Projection } from '../../src/store/index.js';
import { until } from '../helpers/conditions.js';

/** Processors over a MessageSource: the one way the log is consumed (modules issue). */

const errors: unknown[] = [];
const logger = { error: (details: Record<string, unknown>) => errors.push(details.err) };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  errors.length = 0;
});

function setup(projections: Projection[] = [], options: ProcessorRunnerOptions = {}) {
  const store = new InMemoryEventStore({ projections });
  const source = new LocalLogSource(store, 20, (error) => errors.push(error));
  const runner = new ProcessorRunner(source, store.checkpoints, logger, options);
  cleanups.push(async () => {
    await runner.stop();
    source.stop();
    await store.close();
  });
  return { store, source, runner };
}

const append = (store: InMemoryEventStore, stream: string, type: string, data: unknown = {}) => store.append(stream, [{ type, data }], 'any');

function recorder(name: string, startFrom: Processor['startFrom'], only?: string): Processor & { seen: RecordedEvent[] } {
  const seen: RecordedEvent[] = [];
  return { name, startFrom, seen, canHandle: (event) => only === undefined || event.type === only, handle: (events) => void seen.push(...events) };
}

describe('ProcessorRunner', () => {
  it('a live processor starts at the head and sees each later event once, in order, before its append resolves', async () => {
    const { store, runner } = setup();
    await append(store, 'a-1', 'Before');
    const live = recorder('live', 'now');
    runner.add(live);
    runner.start();
    await append(store, 'a-1', 'First');
    // Read-your-writes: by the time the appender hears of its commit, the processor has it.
    expect(live.seen.map((event) => event.type)).toEqual(['First']);
    await append(store, 'a-2', 'Second');
    expect(live.seen.map((event) => event.position)).toEqual([2, 3]);
  });

  it('delivers only what canHandle accepts', async () => {
    const { store, runner } = setup();
    const picky = recorder('picky', 'now', 'Wanted');
    runner.add(picky);
    runner.start();
    await append(store, 'a-1', 'Other');
    await append(store, 'a-1', 'Wanted');
    expect(picky.seen.map((event) => event.type)).toEqual(['Wanted']);
  });

  it('a checkpointed processor catches up from the beginning, stores its checkpoint, and resumes after it', async () => {
    const { store, runner } = setup();
    await append(store, 'a-1', 'One');
    await append(store, 'a-1', 'Two');
    const first = recorder('durable', 'checkpoint');
    runner.add(first);
    runner.start();
    await until(() => first.seen.length === 2, 'caught up');
    expect(store.checkpoints.load('durable')).toBe(2);
    await append(store, 'a-1', 'Three');
    await until(() => first.seen.length === 3, 'live event after catch-up');
    await runner.stop();

    // A new runner (a restart) starts after the stored checkpoint: nothing twice, nothing missed.
    await append(store, 'a-1', 'Four');
    const source = new LocalLogSource(store, 20, () => {});
    const again = new ProcessorRunner(source, store.checkpoints, logger);
    const second = recorder('durable', 'checkpoint');
    again.add(second);
    again.start();
    await until(() => second.seen.length === 1, 'resumed');
    expect(second.seen.map((event) => event.type)).toEqual(['Four']);
    await again.stop();
    source.stop();
  });

  it("writes a synchronous processor's work and its checkpoint in one transaction: a failure keeps neither, then retries", async () => {
    const { store, runner } = setup();
    store.readModels.exec('CREATE TABLE seen (type TEXT)');
    let failOnce = true;
    const projector: Processor = {
      name: 'projector',
      startFrom: 'checkpoint',
      canHandle: () => true,
      handle(events) {
        for (const event of events) store.readModels.prepare('INSERT INTO seen VALUES (?)').run(event.type);
        if (failOnce) {
          failOnce = false;
          throw new Error('disk full');
        }
      },
    };
    await append(store, 'a-1', 'One');
    runner.add(projector);
    runner.start();
    await until(() => errors.length === 1, 'the failure is logged');
    expect(store.readModels.prepare('SELECT count(*) AS n FROM seen').get()).toEqual({ n: 0 });
    expect(store.checkpoints.load('projector')).toBe(0);
    await until(() => store.checkpoints.load('projector') === 1, 'retried', 2_000_000);
    expect(store.readModels.prepare('SELECT type FROM seen').all()).toEqual([{ type: 'One' }]);
  });

  /** Counts the runner's reads of the log (the source's own catch-up reads the store directly). */
  function countReads(source: LocalLogSource): { reads: number } {
    const counter = { reads: 0 };
    const read = source.read.bind(source);
    source.read = (after, limit) => {
      counter.reads += 1;
      return read(after, limit);
    };
    return counter;
  }

  it('a caught-up checkpointed processor takes the live batches without reading the log back', async () => {
    const { store, runner, source } = setup();
    const counter = countReads(source);
    await append(store, 'a-1', 'Before');
    const mails = recorder('mails', 'checkpoint', 'Wanted');
    runner.add(mails);
    runner.start();
    await until(() => store.checkpoints.load('mails') === 1, 'first read of the log');
    const readsAfterStart = counter.reads;
    expect(readsAfterStart).toBeGreaterThan(0);
    for (let index = 0; index < 20; index++) await append(store, `a-${index}`, index % 5 === 0 ? 'Wanted' : 'Other', { index });
    await until(() => store.checkpoints.load('mails') === 21, 'checkpoint at the head');
    expect(counter.reads).toBe(readsAfterStart);
    expect(mails.seen.map((event) => (event.data as { index: number }).index)).toEqual([0, 5, 10, 15]);
  });

  it('past maxBufferedEvents it lets the buffer go and reads the log: nothing skipped, nothing twice', async () => {
    const { store, runner, source } = setup([], { maxBufferedEvents: 3 });
    const counter = countReads(source);
    const all = recorder('all', 'checkpoint');
    runner.add(all);
    runner.start();
    await until(() => counter.reads > 0, 'first read of the log');
    const readsAfterStart = counter.reads;
    // Ten events in one batch: more than the buffer keeps.
    await store.append('a-1', Array.from({ length: 10 }, (_, index) => ({ type: 'E', data: { index } })), 'any');
    await until(() => all.seen.length === 10, 'all ten handled');
    expect(counter.reads).toBeGreaterThan(readsAfterStart);
    // Back on live batches after that read: two more arrive without another read.
    const readsAfterOverflow = counter.reads;
    await append(store, 'a-2', 'E', { index: 10 });
    await append(store, 'a-2', 'E', { index: 11 });
    await until(() => store.checkpoints.load('all') === 12, 'checkpoint at the head');
    expect(counter.reads).toBe(readsAfterOverflow);
    expect(all.seen.map((event) => event.position)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
  });

  it('a live batch whose handling fails is retried from the log, each event handled once when it succeeds', async () => {
    const { store, runner } = setup();
    const handled: number[] = [];
    let failures = 0;
    const mailer: Processor = {
      name: 'mailer',
      startFrom: 'checkpoint',
      canHandle: () => true,
      async handle(events) {
        if (events.some((event) => event.type === 'Flaky') && failures === 0) {
          failures += 1;
          throw new Error('mail server down');
        }
        handled.push(...events.map((event) => event.position));
      },
    };
    runner.add(mailer);
    runner.start();
    await append(store, 'a-1', 'First');
    await until(() => store.checkpoints.load('mailer') === 1, 'first live batch');
    expect(errors).toEqual([]);
    await append(store, 'a-1', 'Flaky');
    await until(() => errors.length === 1, 'the failure is logged');
    expect(store.checkpoints.load('mailer')).toBe(1);
    await append(store, 'a-1', 'Third');
    await until(() => handled.length === 3, 'retried', 2_000_000);
    expect(handled).toEqual([1, 2, 3]);
    expect(store.checkpoints.load('mailer')).toBe(3);
  });

  it('drain reads what another process appended before it was polled', async () => {
    const { store, runner, source } = setup();
    const all = recorder('all', 'checkpoint');
    runner.add(all);
    runner.start();
    await runner.drain();
    // The source stops hearing of commits: as the CLI's appends stay unheard until the next poll.
    source.stop();
    await store.append('a-1', [{ type: 'FromTheCli', data: {} }], 'any');
    await runner.drain();
    expect(all.seen.map((event) => event.type)).toEqual(['FromTheCli']);
    expect(store.checkpoints.load('all')).toBe(1);
  });

  it('a live processor that throws is logged and the others still get the batch', async () => {
    const { store, runner } = setup();
    runner.add({ name: 'broken', startFrom: 'now', canHandle: () => true, handle: () => { throw new Error('bug'); } });
    const healthy = recorder('healthy', 'now');
    runner.add(healthy);
    runner.start();
    await append(store, 'a-1', 'One');
    expect(healthy.seen).toHaveLength(1);
    expect(errors).toHaveLength(1);
  });

  it('finds events another process appended, by polling', async () => {
    const { store, runner, source } = setup();
    const live = recorder('live', 'now');
    runner.add(live);
    runner.start();
    // The store's commit listener is how own appends arrive; a second store object on the
    // same log is how the CLI's do. Here the poll is driven directly.
    await append(store, 'a-1', 'One');
    source.poll();
    expect(live.seen).toHaveLength(1);
  });

  it('refuses two processors of one name', () => {
    const { runner } = setup();
    runner.add(recorder('twin', 'now'));
    expect(() => runner.add(recorder('twin', 'now'))).toThrow(/twice/);
  });
});

describe('Scheduler', () => {
  it('issues repeating and one-shot commands with the clock time, cancels, and waits for running commands at stop', async () => {
    const scheduler = new Scheduler(systemClock, logger);
    const fired: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    scheduler.every('tick', 5, (now) => {
      expect(typeof now).toBe('number');
      fired.push('tick');
    });
    scheduler.at('once', Date.now() + 5, () => {
      fired.push('once');
      return slow;
    });
    scheduler.at('cancelled', Date.now() + 5, () => fired.push('cancelled'));
    scheduler.cancel('cancelled');
    scheduler.start();
    await until(() => fired.includes('once') && fired.filter((name) => name === 'tick').length >= 2, 'timers fired', 5_000_000);
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(fired).not.toContain('cancelled');
  });

  it('logs a failing command and keeps the timer', async () => {
    const scheduler = new Scheduler(systemClock, logger);
    let runs = 0;
    scheduler.every('flaky', 5, () => {
      runs += 1;
      throw new Error('boom');
    });
    scheduler.start();
    await until(() => runs >= 2, 'ran twice', 5_000_000);
    await scheduler.stop();
    expect(errors.length).toBeGreaterThanOrEqual(2);
  });
});
