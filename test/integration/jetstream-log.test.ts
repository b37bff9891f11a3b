import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { assign, setup } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCluster, jetStreamReady } from '../../src/cluster/nats.js';
import { AppError, ConflictError } from '../../src/core/errors.js';
import type { AggregateDefinition } from '../../src/core/decider.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import {
  JetStreamEventStore,
  SqliteEventStore,
  StartupError,
  openDatabase,
  readAllFrom,
  streamIdOfToken,
  subjectToken,
  tableRows,
  type EventStore,
  type ExpectedVersion,
  type Projection,
} from '../../src/store/index.js';
import { encodeAppend, streamIdOfSubject } from '../../src/store/jetstream-codec.js';
import { LogMirror, type LogMessage } from '../../src/store/mirror.js';
import { settleAll } from '../helpers/conditions.js';
import { skipWithoutNats, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The cluster's event log on real NATS: three nats-servers (JetStream, R3, auth required) and
 * two JetStreamEventStores, each with its own connection and mirror file, as two gateway
 * nodes have. The tests share the cluster and run in order; each leaves both mirrors equal.
 */

const STREAM = 'SWITCHYARD_LOG';
const quiet = { info: () => {}, warn: () => {} };

/** Polls a condition; the pause between checks leaves the two cores to nats-server. A hang guard, not a timing assertion. */
async function eventually(condition: () => boolean, description: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition never held: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Inline read model that refuses a second claim of one name, as identity refuses a taken username. */
const claims: Projection = {
  name: 'claims',
  mode: 'inline',
  tables: ['claims'],
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS claims (name TEXT PRIMARY KEY, stream_id TEXT NOT NULL)');
  },
  apply(db, event) {
    if (event.type !== 'NameClaimed') return;
    const { name } = event.data as { name: string };
    if (db.prepare('SELECT 1 FROM claims WHERE name = ?').get(name)) throw new AppError('CONFLICT', `name "${name}" is taken`);
    db.prepare('INSERT INTO claims (name, stream_id) VALUES (?, ?)').run(name, event.streamId);
  },
};

const counterMachine = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'Incremented'; data: { by: number } } },
}).createMachine({
  id: 'counter',
  context: { count: 0 },
  on: { Incremented: { actions: assign({ count: ({ context, event }) => context.count + event.data.by }) } },
});
const counterAggregate: AggregateDefinition<typeof counterMachine, { type: 'Increment'; by: number }> = {
  category: 'counter',
  machine: counterMachine,
  decide: (command) => [{ type: 'Incremented', data: { by: command.by } }],
};
const increment = (by: number): { type: 'Increment'; by: number } => ({ type: 'Increment', by });

/** The store as the runtime sees it, counting how its appends ended. */
function counting(store: EventStore, outcomes: string[]): EventStore {
  return {
    readModels: store.readModels,
    checkpoints: store.checkpoints,
    append: (streamId, events, expected) =>
      store.append(streamId, events, expected).then(
        (result) => (outcomes.push('ok'), result),
        (error: unknown) => {
          outcomes.push(error instanceof ConflictError ? 'conflict' : 'failed');
          throw error;
        },
      ),
    readStream: (streamId, fromVersion) => store.readStream(streamId, fromVersion),
    readAll: (options) => store.readAll(options),
    streamVersion: (streamId) => store.streamVersion(streamId),
    headPosition: () => store.headPosition(),
    close: () => store.close(),
    onCommitted: (listener) => store.onCommitted(listener),
  };
}

const mirrorRows = (store: EventStore, table: string): unknown[] => store.readModels.prepare(`SELECT * FROM ${table} ORDER BY 1`).all();

describe.skipIf(skipWithoutNats())('the event log on JetStream (three nats-servers, two nodes)', () => {
  const dir = tempDir('switchyard-jetstream-');
  let cluster: NatsCluster;
  const connections: NatsConnection[] = [];
  let manager: JetStreamManager;
  let a: JetStreamEventStore;
  let b: JetStreamEventStore;

  const connect = async (name: string) => {
    const connection = await connectCluster({ servers: cluster.urls, user: cluster.user, password: cluster.password, name }, quiet);
    connections.push(connection);
    return connection;
  };
  const openNode = async (name: string, connection: NatsConnection) =>
    JetStreamEventStore.open({ connection, mirrorPath: join(dir.path, `${name}.db`), replicas: 3, projections: [claims], publishTimeoutMs: 4000 });
  const streamEnd = async () => (await manager.streams.info(STREAM)).state.last_seq;

  /** Both mirrors hold all of JetStream and agree on every event, position and read-model row. */
  const expectMirrorsEqual = async () => {
    // The end a stream's leader reports can lag just after it was elected; the mirrors only ever lead it.
    const end = await streamEnd();
    await eventually(() => a.lastIngestedSequence >= end && a.lastIngestedSequence === b.lastIngestedSequence, `both mirrors reach sequence ${end}`);
    expect(b.readAll()).toEqual(a.readAll());
    for (const table of ['claims', 'mirror_streams', 'mirror_messages']) expect(mirrorRows(b, table)).toEqual(mirrorRows(a, table));
    expect(a.headPosition()).toBe(a.readAll().length);
  };

  beforeAll(async () => {
    cluster = await startNatsCluster(dir.path, 3);
    const [first, second] = await Promise.all([connect('node-a'), connect('node-b')]);
    manager = await jetStreamReady(first!);
    // Both nodes create the stream at once, as two gateways starting together do.
    [a, b] = await Promise.all([openNode('a', first!), openNode('b', second!)]);
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const connection of connections) await connection.close().catch(() => {});
    await cluster?.stop();
    dir.remove();
  });

  it('replicates the stream three times and shows each node the other node\'s appends at the same positions', async () => {
    expect((await manager.streams.info(STREAM)).config.num_replicas).toBe(3);
    const fromA = await a.append('room-1', [{ type: 'Opened', data: { by: 'a' } }, { type: 'Noted', data: { n: 1 } }], 'no_stream');
    const fromB = await b.append('room 2.with dots', [{ type: 'Opened', data: { by: 'b' } }], 'no_stream');
    // Read-your-writes: each answer is readable on its own node the moment it arrives.
    expect(a.readStream('room-1')).toEqual(fromA.events);
    expect(b.readStream('room 2.with dots')).toEqual(fromB.events);
    await expect(a.append('room-1', [{ type: 'Noted', data: { n: 2 } }], 2)).resolves.toMatchObject({ nextVersion: 3 });
    await expectMirrorsEqual();
    expect(b.readStream('room-1').map((event) => event.version)).toEqual([1, 2, 3]);
    expect(a.streamVersion('room 2.with dots')).toBe(1);
    expect(b.readAll().map((event) => event.position)).toEqual(b.readAll().map((_, index) => index + 1));
  });

  it('lets exactly one of two nodes racing on one aggregate win, and the loser\'s runtime retries on what won', async () => {
    await a.append('race-1', [{ type: 'Started', data: {} }], 'no_stream');
    await eventually(() => b.streamVersion('race-1') === 1, 'node b sees race-1');
    const seenByLoser: number[] = [];
    const contend = (store: JetStreamEventStore, by: string) =>
      store.append('race-1', [{ type: 'Claimed', data: { by } }], 1).catch((error: unknown) => {
        // A CONFLICT comes only once the loser's mirror holds the winner: its re-read decides on it.
        seenByLoser.push(store.streamVersion('race-1'));
        throw error;
      });
    const { fulfilled, rejected } = await settleAll([contend(a, 'a'), contend(b, 'b')]);
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toBeInstanceOf(ConflictError);
    expect(seenByLoser).toEqual([2]);

    // A stream's first append sends JetStream no expectation (see expectationFor): the ingest
    // alone decides, on both nodes alike, and the loser's message is VOID everywhere.
    const created = await settleAll([a.append('race-2', [{ type: 'Created', data: { by: 'a' } }], 'no_stream'), b.append('race-2', [{ type: 'Created', data: { by: 'b' } }], 'no_stream')]);
    expect(created.fulfilled).toHaveLength(1);
    expect(created.rejected).toHaveLength(1);
    expect(created.rejected[0]).toBeInstanceOf(ConflictError);
    await expectMirrorsEqual();
    expect(b.readStream('race-2').map((event) => event.data)).toEqual([created.fulfilled[0]!.events[0]!.data]);

    const outcomes: string[] = [];
    const runtimes = [a, b].map((store) => new ActorRuntime(counting(store, outcomes)));
    for (const runtime of runtimes) runtime.register(counterAggregate);
    await runtimes[0]!.execute('counter-1', increment(1));
    await eventually(() => b.streamVersion('counter-1') === 1, 'node b sees counter-1');
    expect(runtimes[1]!.read<typeof counterMachine>('counter-1').context.count).toBe(1);
    const results = await Promise.all([
      runtimes[0]!.execute<{ context: { count: number } }>('counter-1', increment(10)),
      runtimes[1]!.execute<{ context: { count: number } }>('counter-1', increment(100)),
    ]);
    // Three appends landed and one conflicted: the loser re-read the winner and decided again.
    expect(outcomes.sort()).toEqual(['conflict', 'ok', 'ok', 'ok']);
    expect(Math.max(...results.map((result) => result.snapshot.context.count))).toBe(111);
    await expectMirrorsEqual();
    expect(a.readStream('counter-1').map((event) => event.version)).toEqual([1, 2, 3]);
  });

  it('pipelines 500 concurrent appends from two nodes', async () => {
    const appends = Array.from({ length: 500 }, (_, index) =>
      (index % 2 === 0 ? a : b).append(`bulk-${index}`, [{ type: 'Filled', data: { index } }], 'no_stream'),
    );
    // All are in flight at once: none waits for another's acknowledgement to be published.
    expect(a.pendingAppends + b.pendingAppends).toBe(500);
    const results = await Promise.all(appends);
    expect(new Set(results.map((result) => result.lastPosition)).size).toBe(500);
    await expectMirrorsEqual();
  });

  it('refuses a taken name before it reaches the log, and voids a claim that raced past the check on every node', async () => {
    await a.append('claim-1', [{ type: 'NameClaimed', data: { name: 'ada' } }], 'no_stream');
    await eventually(() => b.streamVersion('claim-1') === 1, 'node b sees claim-1');
    const before = await streamEnd();
    await expect(b.append('claim-2', [{ type: 'NameClaimed', data: { name: 'ada' } }], 'no_stream')).rejects.toMatchObject({ code: 'CONFLICT', message: 'name "ada" is taken' });
    expect(await streamEnd()).toBe(before);

    // Same tick, two nodes, one name: both dry runs pass, both messages are stored, the later one is VOID.
    const { fulfilled, rejected } = await settleAll([
      a.append('claim-3', [{ type: 'NameClaimed', data: { name: 'grace' } }], 'no_stream'),
      b.append('claim-4', [{ type: 'NameClaimed', data: { name: 'grace' } }], 'no_stream'),
    ]);
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ code: 'CONFLICT', message: 'name "grace" is taken' });
    expect(await streamEnd()).toBe(before + 2);
    await expectMirrorsEqual();
    const loser = fulfilled[0]!.events[0]!.streamId === 'claim-3' ? 'claim-4' : 'claim-3';
    for (const store of [a, b]) {
      expect(store.readStream(loser)).toEqual([]);
      expect(store.streamVersion(loser)).toBe(0);
      expect(store.readModels.prepare('SELECT stream_id FROM claims WHERE name = ?').pluck().get('grace')).toBe(fulfilled[0]!.events[0]!.streamId);
      expect(store.readModels.prepare('SELECT void_error FROM mirror_messages WHERE stream_id = ?').pluck().get(loser)).toContain('is taken');
    }
    // The VOID message still counts for the subject's expected sequence: the stream can be created afterwards.
    const store = loser === 'claim-3' ? a : b;
    await expect(store.append(loser, [{ type: 'NameClaimed', data: { name: 'hopper' } }], 'no_stream')).resolves.toMatchObject({ nextVersion: 1 });
    await expectMirrorsEqual();
  });

  it('refuses a connection without the cluster credentials', async () => {
    const attempt = (credentials: { user?: string; password?: string }) =>
      connectCluster({ servers: cluster.urls, name: 'intruder', connectTimeoutMs: 2000, ...credentials }, quiet);
    await expect(attempt({})).rejects.toThrow(/authoriz/i);
    await expect(attempt({ user: cluster.user, password: 'not-the-password' })).rejects.toThrow(/authoriz/i);
  });

  it('resumes a restarted node from its mirror\'s checkpoint', async () => {
    const checkpoint = b.lastIngestedSequence;
    await b.close();
    for (let index = 0; index < 5; index++) await a.append(`while-b-was-down-${index}`, [{ type: 'Noted', data: { index } }], 'no_stream');
    b = await openNode('b', connections[1]!);
    // open() returns once the mirror holds the whole stream.
    expect(b.lastIngestedSequence).toBe(await streamEnd());
    // Its consumer began right after the checkpoint, not at the start of the stream.
    const starts: number[] = [];
    for await (const consumer of manager.consumers.list(STREAM)) starts.push(consumer.config.opt_start_seq ?? 0);
    expect(starts).toContain(checkpoint + 1);
    await expectMirrorsEqual();
  });

  it('lets a second process (an operator command) append beside a node on the node\'s own mirror file', async () => {
    const operator = await openNode('a', await connect('operator'));
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, index) => operator.append(`operator-${index}`, [{ type: 'Noted', data: { index } }], 'no_stream')));
      // Whichever process ingests a message first writes it; the other finds it in the file.
      expect(results.map((result) => result.events[0]!.streamId)).toEqual(results.map((_, index) => `operator-${index}`));
      await eventually(() => a.streamVersion('operator-19') === 1, 'node a sees the operator\'s appends');
    } finally {
      await operator.close();
    }
    await expectMirrorsEqual();
  });

  it('loses no acknowledged append when a nats-server is SIGKILLed under load', async () => {
    const leader = (await manager.streams.info(STREAM)).cluster?.leader;
    const victim = Math.max(0, cluster.servers.findIndex((server) => server.name === leader));
    const acked: { streamId: string; n: number; version: number }[] = [];
    let stop = false;
    const work = async (store: JetStreamEventStore, streamId: string) => {
      for (let n = 0; !stop; n++) {
        try {
          const result = await store.append(streamId, [{ type: 'Loaded', data: { n } }], store.streamVersion(streamId));
          acked.push({ streamId, n, version: result.nextVersion });
        } catch (error) {
          // Refused while the stream elects a leader, or beaten by an append whose ack was lost.
          if (!(error instanceof AppError) || !['UNAVAILABLE', 'CONFLICT'].includes(error.code)) throw error;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    };
    const workers = [a, b].flatMap((store, node) => [0, 1, 2].map((index) => work(store, `load-${node}-${index}`)));
    await eventually(() => acked.length >= 30, 'appends flow before the kill');
    await cluster.kill(victim);
    const atKill = acked.length;
    await eventually(() => acked.length >= atKill + 30, 'appends flow again with one server down', 45_000);
    await cluster.restart(victim);
    stop = true;
    await Promise.all(workers);
    await expectMirrorsEqual();
    for (const store of [a, b]) {
      for (const { streamId, n, version } of acked) expect(store.readStream(streamId, version)[0]?.data).toEqual({ n });
      for (let node = 0; node < 2; node++) {
        for (let index = 0; index < 3; index++) {
          const ns = store.readStream(`load-${node}-${index}`).map((event) => (event.data as { n: number }).n);
          expect(new Set(ns).size).toBe(ns.length);
        }
      }
    }
  }, 90_000);

  it('refuses appends with UNAVAILABLE while every nats-server is down, and takes them again once they are back', async () => {
    for (let index = 0; index < cluster.servers.length; index++) await cluster.kill(index);
    await eventually(() => !a.writable && !b.writable, 'both nodes see the log unwritable');
    await expect(a.append('outage-1', [{ type: 'Noted', data: {} }], 'no_stream')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await Promise.all(cluster.servers.map((_, index) => cluster.restart(index)));
    await eventually(() => a.writable && b.writable, 'both nodes writable again without a restart', 60_000);
    await expect(a.append('outage-2', [{ type: 'Noted', data: {} }], 'no_stream')).resolves.toMatchObject({ nextVersion: 1 });
    await expect(b.append('outage-3', [{ type: 'Noted', data: {} }], 'no_stream')).resolves.toMatchObject({ nextVersion: 1 });
    await expectMirrorsEqual();
  }, 90_000);

  it('rebuilds from JetStream alone a mirror equal to the live one, VOID messages and read models included', async () => {
    const path = join(dir.path, 'rebuilt.db');
    const rebuilt = await a.rebuildMirror(path);
    expect(rebuilt.lastSequence).toBe(a.lastIngestedSequence);
    const db = openDatabase(path, { readonly: true });
    try {
      expect(readAllFrom(db)).toEqual(a.readAll());
      for (const table of ['claims', 'mirror_streams', 'mirror_messages']) expect(tableRows(db, table)).toEqual(tableRows(a.readModels, table));
      // The name claim that raced past the dry run, and any race JetStream let through to the ingest.
      expect(db.prepare('SELECT count(*) FROM mirror_messages WHERE void_error IS NOT NULL').pluck().get()).toBeGreaterThanOrEqual(1);
    } finally {
      db.close();
    }
  });
});

/** A message as JetStream would deliver an append of one event. */
function logMessage(sequence: number, streamId: string, type: string, data: unknown, expected: ExpectedVersion): LogMessage {
  const events = [{ type, data: JSON.stringify(data), metadata: '{}' }];
  return { sequence, subject: `sy.log.${subjectToken(streamId)}`, msgId: `test-${sequence}`, payload: encodeAppend({ streamId, expected, recordedAt: 1000 + sequence, events }) };
}

describe('the mirror of the JetStream log (no NATS needed)', () => {
  const dir = tempDir('switchyard-mirror-');
  const source = { streamName: STREAM, created: '2025-01-02T03:04:05.000000000Z' };
  const openMirror = (name: string, created = source.created) =>
    new LogMirror({ path: join(dir.path, `${name}.db`), projections: [claims], subjectPrefix: 'sy.log', source: { ...source, created }, projectionPollMs: 0 });
  afterAll(() => dir.remove());

  it('names each log stream by one subject token, escaping what a NATS subject cannot hold', () => {
    expect(subjectToken('room-8f3c_X')).toBe('room-8f3c_X');
    for (const streamId of ['room a.b', 'x*y', 'room->', 'ünï-côdé', '~tilde', 'tab\there']) {
      const token = subjectToken(streamId);
      expect(token).toMatch(/^~[A-Za-z0-9_-]+$/);
      expect(streamIdOfToken(token)).toBe(streamId);
    }
    // Only the canonical spelling names a stream, so no two subjects share one stream's sequence.
    expect(streamIdOfToken(`${subjectToken('a.b')}=`)).toBeUndefined();
    expect(streamIdOfToken('~')).toBeUndefined();
    expect(streamIdOfSubject('sy.log', 'sy.log.room.1')).toBeUndefined();
    expect(streamIdOfSubject('sy.log', 'other.room-1')).toBeUndefined();
  });

  it('voids malformed, refused and out-of-date messages alike, keeping positions gap-free and the subject\'s sequence counted', () => {
    const mirror = openMirror('voids');
    try {
      const report = mirror.ingest([
        logMessage(1, 'claim-1', 'NameClaimed', { name: 'ada' }, 'no_stream'),
        { sequence: 2, subject: 'sy.log.claim-2', msgId: undefined, payload: Buffer.from('not json') },
        logMessage(3, 'claim-2', 'NameClaimed', { name: 'ada' }, 'no_stream'),
        logMessage(4, 'claim-2', 'NameClaimed', { name: 'bob' }, 'no_stream'),
        logMessage(5, 'claim-2', 'NameClaimed', { name: 'eve' }, 0),
        { ...logMessage(6, 'claim-3', 'NameClaimed', { name: 'mallory' }, 'any'), subject: 'sy.log.claim-4' },
      ]);
      expect(report.lastSequence).toBe(6);
      expect([...report.outcomes.values()].map((outcome) => outcome.ok)).toEqual([true, false, false, true, false, false]);
      expect(report.outcomes.get(2)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
      expect(report.outcomes.get(3)).toMatchObject({ error: { code: 'CONFLICT', message: 'name "ada" is taken' } });
      expect((report.outcomes.get(5) as { error: unknown }).error).toBeInstanceOf(ConflictError);
      expect(mirror.readAll().map((event) => [event.position, event.streamId, event.version])).toEqual([
        [1, 'claim-1', 1],
        [2, 'claim-2', 1],
      ]);
      expect(mirror.streamState('claim-2')).toEqual({ version: 1, lastSequence: 5 });
      expect(mirror.streamState('claim-4')).toEqual({ version: 0, lastSequence: 6 });
      expect(tableRows(mirror.db, 'claims')).toEqual(['["ada","claim-1"]', '["bob","claim-2"]']);
      // Read back from the file (as another process would), a version conflict is still a ConflictError.
      expect((mirror.outcomeOf(5) as { error: unknown }).error).toBeInstanceOf(ConflictError);
      expect(mirror.outcomeOf(4)).toEqual({ ok: true, events: mirror.readStream('claim-2') });
      expect(mirror.outcomeOf(7)).toBeUndefined();
    } finally {
      mirror.close();
    }
  });

  it('answers a refusal in a dry run that leaves nothing behind, and skips what it already holds', () => {
    const mirror = openMirror('dry-run');
    try {
      mirror.ingest([logMessage(1, 'claim-1', 'NameClaimed', { name: 'ada' }, 'no_stream')]);
      const events = [{ type: 'NameClaimed', data: JSON.stringify({ name: 'ada' }), metadata: '{}' }];
      expect(() => mirror.dryRun('claim-2', events, 5)).toThrow('name "ada" is taken');
      expect(() => mirror.dryRun('claim-2', [{ ...events[0]!, data: JSON.stringify({ name: 'bob' }) }], 5)).not.toThrow();
      expect(mirror.headPosition()).toBe(1);
      expect(tableRows(mirror.db, 'claims')).toEqual(['["ada","claim-1"]']);
      // A restarted consumer delivers again from before the checkpoint: those are skipped.
      expect(mirror.ingest([logMessage(1, 'claim-1', 'NameClaimed', { name: 'ada' }, 'no_stream')]).outcomes.size).toBe(0);
    } finally {
      mirror.close();
    }
  });

  it('refuses a batch that skips a sequence, keeping nothing of it', () => {
    const mirror = openMirror('gap');
    try {
      mirror.ingest([logMessage(1, 'gap-1', 'Noted', {}, 'any')]);
      expect(() => mirror.ingest([logMessage(2, 'gap-1', 'Noted', {}, 'any'), logMessage(4, 'gap-1', 'Noted', {}, 'any')])).toThrow('expected JetStream sequence 3, got 4');
      expect(mirror.lastSequence).toBe(1);
      expect(mirror.headPosition()).toBe(1);
    } finally {
      mirror.close();
    }
  });

  it('keeps every writer but its ingest out of the mirror', async () => {
    openMirror('guarded').close();
    const intruder = new SqliteEventStore({ path: join(dir.path, 'guarded.db'), walCheckpointIntervalMs: 0 });
    try {
      const error = await intruder.append('room-1', [{ type: 'Opened', data: {} }], 'any').catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', cause: { message: expect.stringContaining('mirror of the JetStream log') } });
      expect(intruder.headPosition()).toBe(0);
    } finally {
      await intruder.close();
    }
  });

  it('refuses a file that holds a single-node log, or mirrors another JetStream stream', async () => {
    const single = new SqliteEventStore({ path: join(dir.path, 'single.db'), walCheckpointIntervalMs: 0 });
    await single.append('room-1', [{ type: 'Opened', data: {} }], 'no_stream');
    await single.close();
    expect(() => openMirror('single')).toThrow(StartupError);
    openMirror('recreated').close();
    expect(() => openMirror('recreated', '2026-06-07T08:09:10.000000000Z')).toThrow(/mirrors JetStream stream SWITCHYARD_LOG created/);
  });
});
