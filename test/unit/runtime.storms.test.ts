import { assign, setup } from 'xstate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import type { AggregateDefinition } from '../../src/core/decider.js';
import { connectionAggregate, type ConnectionSnapshot, type OpenConnection } from '../../src/modules/connections/domain/index.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import { InMemoryEventStore } from '../../src/store/index.js';

const T0 = Date.UTC(2026, 11, 1, 18, 0, 0);

const open = (id: string): OpenConnection => ({
  type: 'OpenConnection',
  connectionId: id,
  codec: 'json',
  transport: 'native',
  remoteAddress: '203.0.113.7',
  userAgent: 'test-agent',
  origin: null,
  node: 'node-a',
  now: T0,
});

/** A machine whose evolve throws on `Broken` (a bug in a machine, never in the log's data). */
const fragileMachine = setup({ types: { context: {} as { count: number }, events: {} as { type: 'Counted' } | { type: 'Broken' } } }).createMachine({
  id: 'fragile',
  context: { count: 0 },
  on: {
    Counted: { actions: assign(({ context }) => ({ count: context.count + 1 })) },
    Broken: {
      actions: assign(() => {
        throw new Error('machine bug');
      }),
    },
  },
});
const fragileAggregate: AggregateDefinition<typeof fragileMachine, { type: 'Count' } | { type: 'Break' }> = {
  category: 'fragile',
  machine: fragileMachine,
  decide: (command) => [{ type: command.type === 'Count' ? 'Counted' : 'Broken', data: {} }],
};

describe('ActorRuntime without an actor per stream (issue 15, connection storms)', () => {
  let store: InMemoryEventStore;
  let runtime: ActorRuntime;
  let errors: { details: Record<string, unknown>; message: string }[];

  beforeEach(() => {
    errors = [];
    store = new InMemoryEventStore({ clock: fixedClock(T0) });
    runtime = new ActorRuntime(store, { error: (details, message) => errors.push({ details, message }) });
    runtime.register(connectionAggregate);
    runtime.register(fragileAggregate);
  });
  afterEach(async () => {
    await store.close();
  });

  it('newStream skips the history read, yet a stream that exists after all is refused on its real history', async () => {
    await runtime.execute('connection-c1', open('c1'));
    // The hint is wrong here: the append expecting version 0 conflicts, the runtime reads the
    // stream and decides again, and OpenConnection on an open connection is refused.
    const error = await runtime.execute('connection-c1', open('c1'), {}, { newStream: true }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('CONFLICT');
    expect(store.readStream('connection-c1').map((event) => event.type)).toEqual(['ConnectionOpened']);
  });

  it('newStream on a new stream appends at version 1, and the result snapshot is the state after it', async () => {
    const result = await runtime.execute<ConnectionSnapshot>('connection-c2', open('c2'), {}, { newStream: true });
    expect(result.events.map((event) => [event.type, event.version])).toEqual([['ConnectionOpened', 1]]);
    expect(result.snapshot.value).toBe('open');
    expect(result.snapshot.context).toMatchObject({ connectionId: 'c2', node: 'node-a', openedAt: T0 });
    // Not kept in memory; a read reloads the same state from the log.
    expect(runtime.snapshot('connection-c2')).toBeUndefined();
    expect(runtime.read<typeof connectionAggregate.machine>('connection-c2').context).toEqual(result.snapshot.context);
  });

  it('a command result read after a later command on the stream still shows the state after its own events', async () => {
    const first = runtime.execute<ConnectionSnapshot>('connection-c3', open('c3'));
    const close = { type: 'CloseConnection', code: 1000, reason: 'bye', framesIn: 0, framesOut: 0, now: T0 };
    const second = runtime.execute<ConnectionSnapshot>('connection-c3', close);
    const [opened, closed] = await Promise.all([first, second]);
    expect(closed.snapshot.value).toBe('closed');
    expect(opened.snapshot.value).toBe('open');
  });

  it('a machine that throws is logged, keeps the process, and takes no more events, as a failed actor did', async () => {
    await runtime.execute('fragile-f1', { type: 'Count' });
    await runtime.execute('fragile-f1', { type: 'Break' });
    expect(errors).toEqual([{ details: expect.objectContaining({ streamId: 'fragile-f1' }), message: 'actor failed' }]);
    const snapshot = runtime.snapshot<typeof fragileMachine>('fragile-f1');
    expect(snapshot?.status).toBe('error');
    await runtime.execute('fragile-f1', { type: 'Count' });
    expect(runtime.snapshot<typeof fragileMachine>('fragile-f1')?.context.count).toBe(1);
    expect(store.readStream('fragile-f1').map((event) => event.type)).toEqual(['Counted', 'Broken', 'Counted']);
  });

  it('two streams of one machine never share state through the shared initial snapshot', async () => {
    await runtime.execute('fragile-a', { type: 'Count' });
    await runtime.execute('fragile-a', { type: 'Count' });
    await runtime.execute('fragile-b', { type: 'Count' });
    expect(runtime.snapshot<typeof fragileMachine>('fragile-a')?.context.count).toBe(2);
    expect(runtime.snapshot<typeof fragileMachine>('fragile-b')?.context.count).toBe(1);
  });
});
