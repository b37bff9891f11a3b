import BetterSqlite3, { type Database } from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { AppError, ConflictError } from '../../src/core/errors.js';
import { SqliteEventStore, openDatabase, type NewEvent, type Projection, type SqliteStoreOptions } from '../../src/store/index.js';
import { settleAll, until } from '../helpers/conditions.js';
import { tempDir } from '../helpers/temp-dir.js';

/** What only the SQLite log does: the file, its pragmas and triggers, other writers. */

const T0 = Date.UTC(2025, 5, 1);
const event = (type: string, data: unknown = {}): NewEvent => ({ type, data });

/** Appends a row the way another process (the CLI, a second store) would, behind the store's back. */
function appendDirectly(db: Database, streamId: string, version: number, type = 'Foreign'): void {
  db.prepare(
    'INSERT INTO event_log (stream_id, stream_version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(streamId, version, type, '{"by":"cli"}', '{"actor":"operator"}', T0);
}

describe('SqliteEventStore', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  const stores: SqliteEventStore[] = [];
  const connections: Database[] = [];

  const openStore = (options: Partial<SqliteStoreOptions> = {}): SqliteEventStore => {
    const store = new SqliteEventStore({ path, walCheckpointIntervalMs: 0, ...options });
    stores.push(store);
    return store;
  };
  const openDirect = (): Database => {
    const db = new BetterSqlite3(path);
    db.pragma('busy_timeout = 5000');
    connections.push(db);
    return db;
  };

  beforeEach(() => {
    dir = tempDir();
    path = join(dir.path, 'nested', 'log.db');
  });
  afterEach(async () => {
    for (const db of connections.splice(0)) if (db.open) db.close();
    for (const store of stores.splice(0)) await store.close();
    dir.remove();
  });

  it('creates the file and its directory', async () => {
    const store = openStore();
    await store.append('s-1', [event('E')], 'no_stream');
    expect(existsSync(path)).toBe(true);
  });

  it('refuses UPDATE and DELETE on event_log, even from another connection', async () => {
    const store = openStore();
    await store.append('s-1', [event('E', { n: 1 })], 'no_stream');
    await store.close();
    const db = openDirect();
    expect(() => db.prepare("UPDATE event_log SET type = 'Rewritten'").run()).toThrow(/append-only: UPDATE refused/);
    expect(() => db.prepare('DELETE FROM event_log').run()).toThrow(/append-only: DELETE refused/);
    expect(db.prepare('SELECT type, data FROM event_log').all()).toEqual([{ type: 'E', data: '{"n":1}' }]);
  });

  it('runs in WAL mode with synchronous FULL (or NORMAL with the sync worker, on request)', () => {
    const store = openStore();
    expect(store.readModels.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.readModels.pragma('synchronous', { simple: true })).toBe(2);
    // NORMAL: COMMIT writes the WAL without fsync; the worker's fdatasync comes before the ack.
    const pipelined = openStore({ path: join(dir.path, 'pipelined.db'), walSync: 'worker' });
    expect(pipelined.readModels.pragma('synchronous', { simple: true })).toBe(1);
    // WAL is a property of the file: a fresh connection sees it too.
    expect(openDirect().pragma('journal_mode', { simple: true })).toBe('wal');
    const viaHelper = openDatabase(join(dir.path, 'other.db'));
    connections.push(viaHelper);
    expect(viaHelper.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(viaHelper.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('builds an inline read model added to a log that already has events from the whole log, once', async () => {
    const first = openStore();
    await first.append('s-1', [event('Counted', { n: 1 }), event('Other')], 'no_stream');
    await first.append('s-2', [event('Counted', { n: 2 })], 'no_stream');
    await first.close();
    // A module new in this version: its table does not exist yet.
    const counted: Projection = {
      name: 'counted',
      mode: 'inline',
      tables: ['counted_rows'],
      setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS counted_rows (position INTEGER PRIMARY KEY, n INTEGER NOT NULL)'),
      apply: (db, recorded) => {
        if (recorded.type === 'Counted') db.prepare('INSERT INTO counted_rows (position, n) VALUES (?, ?)').run(recorded.position, (recorded.data as { n: number }).n);
      },
    };
    const rows = (store: SqliteEventStore) => store.readModels.prepare('SELECT n FROM counted_rows ORDER BY position').pluck().all();
    const second = openStore({ projections: [counted] });
    expect(rows(second)).toEqual([1, 2]);
    await second.append('s-3', [event('Counted', { n: 3 })], 'no_stream');
    await second.close();
    // Its table exists now: it is current, and is not built again (the primary key would refuse a second pass).
    const third = openStore({ projections: [counted] });
    expect(rows(third)).toEqual([1, 2, 3]);
  });

  it('keeps everything across close and reopen, and goes on from where it was', async () => {
    const first = openStore({ clock: { now: () => T0 } });
    await first.append('a-1', [event('Opened', { who: 'ada' }), event('Noted')], 'no_stream');
    await first.append('b-1', [event('Opened')], 'no_stream');
    const before = first.readAll();
    await first.close();

    const second = openStore();
    expect(second.readAll()).toEqual(before);
    expect(second.headPosition()).toBe(3);
    expect(second.streamVersion('a-1')).toBe(2);
    expect(second.readStream('a-1')[0]).toMatchObject({ data: { who: 'ada' }, recordedAt: T0 });
    await expect(second.append('a-1', [event('Noted')], 1)).rejects.toBeInstanceOf(ConflictError);
    await expect(second.append('a-1', [event('Noted')], 2)).resolves.toMatchObject({ nextVersion: 3, lastPosition: 4 });
  });

  it('answers an append only once another connection can read it', async () => {
    const store = openStore();
    const reader = openDirect();
    const visible: number[] = [];
    await Promise.all(
      ['s-1', 's-2', 's-3'].map((streamId) =>
        store.append(streamId, [event('E')], 'no_stream').then(() => {
          visible.push(reader.prepare('SELECT count(*) FROM event_log WHERE stream_id = ?').pluck().get(streamId) as number);
        }),
      ),
    );
    expect(visible).toEqual([1, 1, 1]);
  });

  it('splits a tick of appends into transactions of at most maxBatch', async () => {
    const batches: number[] = [];
    const store = openStore({ maxBatch: 3, observer: { committed: (latencies) => batches.push(latencies.length) } });
    const results = await Promise.all(Array.from({ length: 7 }, (_, index) => store.append(`s-${index}`, [event('E')], 'no_stream')));
    expect(batches).toEqual([3, 3, 1]);
    expect(results.map((result) => result.lastPosition)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('fails the whole batch with UNAVAILABLE when the transaction cannot start', async () => {
    const store = openStore();
    await store.append('s-1', [event('E')], 'no_stream');
    // Another connection holds the write lock for longer than the store waits for it.
    store.readModels.pragma('busy_timeout = 0');
    const locker = openDirect();
    locker.exec('BEGIN IMMEDIATE');
    const { rejected } = await settleAll([store.append('s-1', [event('E')], 1), store.append('s-2', [event('E')], 'no_stream')]);
    expect(rejected).toHaveLength(2);
    for (const error of rejected) expect((error as AppError).code).toBe('UNAVAILABLE');
    locker.exec('ROLLBACK');
    // Nothing was committed, and the store's idea of the stream is still right.
    expect(store.streamVersion('s-1')).toBe(1);
    await expect(store.append('s-1', [event('E')], 1)).resolves.toMatchObject({ nextVersion: 2 });
  });

  describe('another writer on the same file (the CLI while the server runs)', () => {
    it('notices a direct append: the old expected version conflicts and streamVersion is current', async () => {
      const store = openStore();
      await store.append('conn-1', [event('Opened')], 'no_stream');
      expect(store.streamVersion('conn-1')).toBe(1); // now cached
      appendDirectly(openDirect(), 'conn-1', 2);

      const error = await store.append('conn-1', [event('Closed')], 1).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ code: 'CONFLICT', actual: 2 });
      expect(store.streamVersion('conn-1')).toBe(2);
      expect(store.headPosition()).toBe(2);
      await expect(store.append('conn-1', [event('Closed')], 2)).resolves.toMatchObject({ nextVersion: 3, lastPosition: 3 });
      expect(store.readStream('conn-1').map((recorded) => recorded.type)).toEqual(['Opened', 'Foreign', 'Closed']);
    });

    it('notices appends made through a second store on the same file', async () => {
      const server = openStore();
      const cli = openStore();
      await server.append('org-1', [event('Created')], 'no_stream');
      expect(server.streamVersion('org-1')).toBe(1);
      await cli.append('org-1', [event('Renamed')], 1);
      expect(server.streamVersion('org-1')).toBe(2);
      expect(server.headPosition()).toBe(2);
      await expect(server.append('org-1', [event('Renamed')], 1)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(server.append('org-1', [event('Renamed')], 2)).resolves.toMatchObject({ nextVersion: 3 });
    });

    it('checks versions inside the write lock: a write landing just before the transaction still gives CONFLICT', async () => {
      // The clock is read while a batch is being prepared; this one lets "the CLI" commit at
      // that moment, between the store's look at data_version and its BEGIN IMMEDIATE.
      let interject: (() => void) | undefined;
      const clock: Clock = {
        now() {
          const run = interject;
          interject = undefined;
          run?.();
          return T0;
        },
      };
      const store = openStore({ clock });
      await store.append('conn-1', [event('Opened')], 'no_stream');
      expect(store.streamVersion('conn-1')).toBe(1);
      const cli = openDirect();
      interject = () => appendDirectly(cli, 'conn-1', 2);

      const { outcomes } = await settleAll([
        store.append('conn-1', [event('Closed')], 1),
        store.append('bystander-1', [event('Opened')], 'no_stream'),
      ]);
      expect(outcomes[0]!.status).toBe('rejected');
      expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      // The stale cache must not turn into a failed batch for everyone else.
      expect(outcomes[1]!.status).toBe('fulfilled');
      expect(store.streamVersion('conn-1')).toBe(2);
      expect(store.readAll().map((recorded) => [recorded.position, recorded.streamId, recorded.type])).toEqual([
        [1, 'conn-1', 'Opened'],
        [2, 'conn-1', 'Foreign'],
        [3, 'bystander-1', 'Opened'],
      ]);
    });

    it('feeds async projections with events another process appended', async () => {
      const seen: string[] = [];
      const projection: Projection = {
        name: 'seen',
        mode: 'async',
        tables: [],
        setup() {},
        apply(_db, recorded) {
          seen.push(`${recorded.streamId}@${recorded.version}`);
        },
      };
      const store = openStore({ projections: [projection], projectionPollMs: 20 });
      await store.append('a-1', [event('E')], 'no_stream');
      await until(() => seen.length === 1, 'the store’s own append is projected');
      appendDirectly(openDirect(), 'a-1', 2);
      // No append by this store follows: only the poll can find the foreign event.
      await until(() => seen.length === 2, 'the foreign append is projected');
      expect(seen).toEqual(['a-1@1', 'a-1@2']);
    });
  });

  it('works with the WAL checkpoint worker on, and close leaves a complete file', async () => {
    const store = openStore({ walCheckpointIntervalMs: 5 });
    expect(store.readModels.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, index) => store.append(`s-${round}-${index}`, [event('E', { round })], 'no_stream')));
    }
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    const reader = openDirect();
    expect(reader.prepare('SELECT count(*) FROM event_log').pluck().get()).toBe(100);
  });
});
