import BetterSqlite3 from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Output } from '../../src/cli/output.js';
import { replay, replayCommand, type ReplayReport } from '../../src/cli/replay.js';
import { connectionAggregate, type CloseConnection, type OpenConnection } from '../../src/modules/connections/domain/index.js';
import { allProjections } from '../../src/app/modules.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import { DATABASE_FILE } from '../../src/app/gateway.js';
import { SqliteEventStore, type Projection } from '../../src/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const T0 = Date.UTC(2025, 6, 1, 12);

function capture(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (line) => lines.push(line), err: (line) => errors.push(line) };
}

const openCommand = (connectionId: string, codec: 'json' | 'msgpack'): OpenConnection => ({
  type: 'OpenConnection',
  connectionId,
  codec,
  transport: 'native',
  remoteAddress: `192.0.2.${connectionId.length}`,
  userAgent: codec === 'json' ? 'browser' : null,
  origin: null,
  now: T0,
});

const closeCommand = (unclean = false): CloseConnection => ({
  type: 'CloseConnection',
  code: unclean ? 1001 : 1000,
  reason: unclean ? 'process died' : 'bye',
  unclean,
  framesIn: 7,
  framesOut: 9,
  now: T0 + 1000,
});

/**
 * An async read model of the test's own (the gateway has none left): events per type, projected
 * after commit from its checkpoint, as any async projection is.
 */
const eventTally: Projection = {
  name: 'event_tally',
  mode: 'async',
  tables: ['event_tally'],
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS event_tally (type TEXT PRIMARY KEY, count INTEGER NOT NULL)');
  },
  apply(db, event) {
    db.prepare('INSERT INTO event_tally (type, count) VALUES (?, 1) ON CONFLICT(type) DO UPDATE SET count = count + 1').run(event.type);
  },
};
const withTally = [...allProjections, eventTally];

const tableOf = (report: ReplayReport, table: string) => {
  const found = report.tables.find((entry) => entry.table === table);
  expect(found, `table ${table} in the report`).toBeDefined();
  return found!;
};

describe('replay', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let store: SqliteEventStore | undefined;

  /** A log written the way the gateway writes it: real projections, commands through the runtime. */
  async function buildLog(): Promise<void> {
    store = new SqliteEventStore({ path, projections: withTally, walCheckpointIntervalMs: 0 });
    const runtime = new ActorRuntime(store);
    runtime.register(connectionAggregate);
    await Promise.all([
      runtime.execute('connection-a', openCommand('a', 'json')),
      runtime.execute('connection-bb', openCommand('bb', 'msgpack')),
      runtime.execute('connection-ccc', openCommand('ccc', 'json')),
    ]);
    await runtime.execute('connection-a', closeCommand());
    await runtime.execute('connection-bb', closeCommand(true));
  }

  const closeStore = async () => {
    await store?.close();
    store = undefined;
  };

  const tamper = (sql: string, ...parameters: unknown[]) => {
    const db = new BetterSqlite3(path);
    try {
      const changed = db.prepare(sql).run(...parameters).changes;
      expect(changed).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  };

  beforeEach(() => {
    dir = tempDir('switchyard-replay-');
    path = join(dir.path, DATABASE_FILE);
  });
  afterEach(async () => {
    await closeStore();
    dir.remove();
  });

  it('reports equal read models for an untouched log', async () => {
    await buildLog();
    await closeStore();
    const report = replay({ dataDir: dir.path });
    expect(report.equal).toBe(true);
    expect(report.events).toBe(5);
    expect(report.upTo).toBe(5);
    // Every table of every read model is compared (other read models join allProjections over time).
    expect(report.tables.map((entry) => `${entry.projection}/${entry.table}`).sort()).toEqual(
      allProjections.flatMap((projection) => projection.tables.map((table) => `${projection.name}/${table}`)).sort(),
    );
    expect(report.tables.map((entry) => `${entry.table}:${entry.differences}`).filter((entry) => !entry.endsWith(':0'))).toEqual([]);
    const connections = tableOf(report, 'connections');
    expect(connections).toMatchObject({ liveRows: 3, rebuiltRows: 3, differences: 0, sample: [] });
    const stats = tableOf(report, 'connection_counts');
    expect(stats.liveRows).toBeGreaterThan(0);
    expect(stats).toMatchObject({ differences: 0, sample: [] });
    expect(stats.rebuiltRows).toBe(stats.liveRows);

    const output = capture();
    expect(replayCommand({ dataDir: dir.path }, output)).toBe(0);
    expect(output.lines.at(-1)).toBe('read models equal the log');
    expect(output.lines[0]).toBe('replayed 5 events (up to position 5)');

    const json = capture();
    expect(replayCommand({ dataDir: dir.path, json: true }, json)).toBe(0);
    expect(JSON.parse(json.lines.join('\n'))).toEqual(report);
  });

  it('compares against a running server’s database (store still open)', async () => {
    await buildLog();
    expect(replay({ dataDir: dir.path }).equal).toBe(true);
    // The server keeps appending; replay still sees a consistent state.
    const runtime = new ActorRuntime(store!);
    runtime.register(connectionAggregate);
    runtime.rebuild();
    await runtime.execute('connection-dddd', openCommand('dddd', 'msgpack'));
    const report = replay({ dataDir: dir.path });
    expect(report).toMatchObject({ equal: true, events: 6, upTo: 6 });
  });

  it('reports a tampered inline read-model row, and replayCommand returns 1', async () => {
    await buildLog();
    await closeStore();
    tamper("UPDATE connections SET remote_address = '10.6.6.6' WHERE connection_id = ?", 'ccc');

    const report = replay({ dataDir: dir.path });
    expect(report.equal).toBe(false);
    const connections = tableOf(report, 'connections');
    expect(connections.differences).toBe(2);
    expect(connections.liveRows).toBe(3);
    expect(connections.rebuiltRows).toBe(3);
    expect(connections.sample.map((entry) => entry.side).sort()).toEqual(['live', 'rebuilt']);
    expect(connections.sample.find((entry) => entry.side === 'live')!.row).toContain('10.6.6.6');
    expect(connections.sample.find((entry) => entry.side === 'rebuilt')!.row).toContain('192.0.2.3');
    expect(tableOf(report, 'connection_counts').differences).toBe(0);

    const output = capture();
    expect(replayCommand({ dataDir: dir.path }, output)).toBe(1);
    expect(output.lines.some((line) => line.includes('connections/connections') && line.includes('DIFFERS in 2 rows'))).toBe(true);
    expect(output.lines.some((line) => line.includes('only live') && line.includes('10.6.6.6'))).toBe(true);
    expect(output.lines.at(-1)).toBe('read models DIFFER from the log');
  });

  it('reports a deleted row and a tampered async read model', async () => {
    await buildLog();
    await closeStore();
    tamper('DELETE FROM connections WHERE connection_id = ?', 'a');
    tamper('UPDATE event_tally SET count = count + 100');

    const report = replay({ dataDir: dir.path, projections: withTally });
    expect(report.equal).toBe(false);
    expect(tableOf(report, 'connections')).toMatchObject({ liveRows: 2, rebuiltRows: 3, differences: 1 });
    expect(tableOf(report, 'connections').sample).toEqual([{ side: 'rebuilt', row: expect.stringContaining('"a"') }]);
    expect(tableOf(report, 'event_tally').differences).toBeGreaterThan(0);
    expect(replayCommand({ dataDir: dir.path }, capture())).toBe(1);
  });

  it('compares an async read model at its checkpoint, not at the head of the log', async () => {
    await buildLog();
    await closeStore();
    // Another process appended an event the async projection has not reached yet.
    const db = new BetterSqlite3(path);
    db.prepare(
      'INSERT INTO event_log (stream_id, stream_version, type, data, metadata, recorded_at) VALUES (?, 1, ?, ?, ?, ?)',
    ).run(
      'connection-late',
      'ConnectionOpened',
      JSON.stringify({ connectionId: 'late', codec: 'json', transport: 'native', remoteAddress: '192.0.2.99', userAgent: null, origin: null, openedAt: T0 }),
      '{}',
      T0,
    );
    const checkpoint = db.prepare('SELECT position FROM projection_checkpoints WHERE name = ?').pluck().get('event_tally');
    db.close();
    expect(checkpoint).toBe(5);

    const asyncOnly = replay({ dataDir: dir.path, projections: [eventTally] });
    expect(asyncOnly).toMatchObject({ equal: true, events: 6, upTo: 6 });
    // The inline model is compared at the head, where it misses the row nobody projected.
    const all = replay({ dataDir: dir.path });
    expect(all.equal).toBe(false);
    expect(tableOf(all, 'connections')).toMatchObject({ liveRows: 3, rebuiltRows: 4, differences: 1 });
  });

  it('a log from before connection_counts (the async connection_stats, a batch behind) gets the counts built whole from the log', async () => {
    await buildLog();
    await closeStore();
    // As such a log was: the async table at a checkpoint behind the head, and no connection_counts.
    const old = new BetterSqlite3(path);
    old.exec(`DROP TABLE connection_counts;
      CREATE TABLE connection_stats (day TEXT NOT NULL, codec TEXT NOT NULL, opened INTEGER NOT NULL DEFAULT 0,
        closed INTEGER NOT NULL DEFAULT 0, unclean INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, codec));
      INSERT INTO connection_stats VALUES ('2025-07-01', 'json', 1, 0, 0);
      INSERT INTO projection_checkpoints (name, position) VALUES ('connection_stats', 1)`);
    old.close();

    store = new SqliteEventStore({ path, projections: allProjections, walCheckpointIntervalMs: 0 });
    const db = store.readModels;
    expect(db.prepare('SELECT codec, opened, closed, unclean FROM connection_counts ORDER BY codec').all()).toEqual([
      { codec: 'json', opened: 2, closed: 1, unclean: 0 },
      { codec: 'msgpack', opened: 1, closed: 1, unclean: 1 },
    ]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'connection_stats'").all()).toEqual([]);
    expect(db.prepare("SELECT * FROM projection_checkpoints WHERE name = 'connection_stats'").all()).toEqual([]);
    await closeStore();
    expect(replay({ dataDir: dir.path }).equal).toBe(true);
  });

  it('keeps the rebuilt database when asked to', async () => {
    await buildLog();
    await closeStore();
    const out = join(dir.path, 'rebuilt.db');
    expect(replay({ dataDir: dir.path, out }).equal).toBe(true);
    expect(existsSync(out)).toBe(true);
    const rebuilt = new BetterSqlite3(out, { readonly: true });
    try {
      expect(rebuilt.prepare('SELECT count(*) FROM connections').pluck().get()).toBe(3);
    } finally {
      rebuilt.close();
    }
    // A second run replaces the file rather than appending to it.
    expect(replay({ dataDir: dir.path, out }).equal).toBe(true);
  });

  it('returns 1 with a helpful message when there is no log', () => {
    const output = capture();
    expect(replayCommand({ dataDir: join(dir.path, 'nowhere') }, output)).toBe(1);
    expect(output.errors.join('\n')).toMatch(/no event log in .*nowhere/);
    expect(output.lines).toEqual([]);
  });
});
