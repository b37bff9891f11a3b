import { afterEach, describe, expect, it } from 'vitest';
import { LocalLogSource } from '../../src/cluster/index.js';
import { systemClock } from '../../src/core/clock.js';
import type { RecordedEvent } from '../../src/core/events.js';
import { ProcessorRunner, Scheduler, type Processor } from '../../src/runtime/index.js';
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

function setup(projections: Projection[] = []) {
  const store = new InMemoryEventStore({ projections });
  const source = new LocalLogSource(store, 20, (error) => errors.push(error));
  const runner = new ProcessorRunner(source, store.checkpoints, logger);
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
