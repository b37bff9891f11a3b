import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { assertExpectedVersion } from './expected-version.js';
import { GroupCommitter, type AppendOutcome, type PendingAppend } from './group-commit.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { AsyncProjector } from './async-projector.js';
import { ensureCheckpointTable, migrate } from './schema.js';
import type {
  CheckpointStore,
  AppendResult,
  EventStore,
  ExpectedVersion,
  NewEvent,
  Projection,
  ReadAllOptions,
  RecordedEvent,
  StoreObserver,
} from './types.js';

export interface SqliteStoreOptions {
  /** Database file; its directory is created if missing. */
  path: string;
  projections?: readonly Projection[];
  observer?: StoreObserver;
  clock?: Clock;
  /** Appends per transaction at most; more wait for the next one in the same flush. */
  maxBatch?: number;
  /** How often the worker thread checkpoints the WAL; 0 turns the worker off (tests, CLI). */
  walCheckpointIntervalMs?: number;
  /** How often async projections look for events written by other processes (the CLI). */
  projectionPollMs?: number;
}

interface EventRow {
  position: number;
  stream_id: string;
  stream_version: number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: number;
}

export function rowToEvent(row: EventRow): RecordedEvent {
  return {
    position: row.position,
    streamId: row.stream_id,
    version: row.stream_version,
    type: row.type,
    data: JSON.parse(row.data) as unknown,
    metadata: JSON.parse(row.metadata) as RecordedEvent['metadata'],
    recordedAt: row.recorded_at,
  };
}

const VERSION_CACHE_LIMIT = 100_000;

const READ_ALL_CACHE = new WeakMap<Database, Map<string, Statement>>();

/** Reads the log in position order with optional filters; shared by the store and the CLI. */
export function readAllFrom(db: Database, options: ReadAllOptions = {}): RecordedEvent[] {
  const clauses = ['position > ?'];
  const parameters: unknown[] = [options.after ?? 0];
  if (options.streamId !== undefined) {
    clauses.push('stream_id = ?');
    parameters.push(options.streamId);
  }
  if (options.type !== undefined) {
    clauses.push('type = ?');
    parameters.push(options.type);
  }
  parameters.push(options.limit ?? -1);
  const sql = `SELECT * FROM event_log WHERE ${clauses.join(' AND ')} ORDER BY position LIMIT ?`;
  let statements = READ_ALL_CACHE.get(db);
  if (!statements) {
    statements = new Map();
    READ_ALL_CACHE.set(db, statements);
  }
  let prepared = statements.get(sql);
  if (!prepared) {
    prepared = db.prepare(sql);
    statements.set(sql, prepared);
  }
  return (prepared.all(...parameters) as EventRow[]).map(rowToEvent);
}

/** Position of the newest event in a log database (0 when empty or not yet created). */
export function headPositionOf(db: Database): number {
  return db.prepare('SELECT coalesce(max(position), 0) FROM event_log').pluck().get() as number;
}

/** Positions stored for async projections, by projection name. */
export function projectionCheckpoints(db: Database): Map<string, number> {
  const rows = db.prepare('SELECT name, position FROM projection_checkpoints').all() as { name: string; position: number }[];
  return new Map(rows.map((row) => [row.name, row.position]));
}

/** Processor checkpoints in the `projection_checkpoints` table of `db`. */
export function checkpointStoreOf(db: Database): CheckpointStore {
  ensureCheckpointTable(db);
  const load = db.prepare('SELECT position FROM projection_checkpoints WHERE name = ?').pluck();
  const save = db.prepare('INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position');
  return {
    load: (name) => (load.get(name) as number | undefined) ?? 0,
    save: (name, position) => {
      save.run(name, position);
    },
    atomically: (work) => db.transaction(work).immediate(),
  };
}

/** Opens a database with the pragmas every Switchyard connection needs. */
export function openDatabase(path: string, options: { readonly?: boolean } = {}): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new BetterSqlite3(path, { readonly: options.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is fsynced at every commit, so an acknowledged append survives power loss.
    db.pragma('synchronous = FULL');
  }
  return db;
}

/**
 * The event log in SQLite (WAL, synchronous=FULL) with group commit. This file and
 * `async-projector.ts` hold all of the log's SQL (DESIGN.md rule 2).
 */
export class SqliteEventStore implements EventStore {
  readonly readModels: Database;
  readonly checkpoints: CheckpointStore;
  private readonly db: Database;
  private readonly committer: GroupCommitter;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly projector: AsyncProjector;
  private readonly inline: readonly Projection[];
  private readonly clock: Clock;
  /**
   * Stream versions known to be current, so an append does not query its stream's head.
   * Valid only while no other connection writes: `data_version` tells us when one has
   * (the CLI may append while the server runs), and then the cache is dropped.
   */
  private readonly versions = new Map<string, number>();
  private dataVersion: number;
  private head: number;
  private readonly statements: {
    begin: Statement;
    commit: Statement;
    rollback: Statement;
    savepoint: Statement;
    release: Statement;
    rollbackTo: Statement;
    insert: Statement;
    streamHead: Statement;
    readStream: Statement;
    headPosition: Statement;
    dataVersion: Statement;
  };

  constructor(private readonly options: SqliteStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.db = openDatabase(options.path);
    // Checkpoints run in a worker on their own connection: an automatic checkpoint on this
    // connection would stall a commit for 6-16 ms every thousand pages.
    const useWorker = options.path !== ':memory:' && (options.walCheckpointIntervalMs ?? 1000) > 0;
    if (useWorker) this.db.pragma('wal_autocheckpoint = 0');
    migrate(this.db);
    this.readModels = this.db;
    const projections = options.projections ?? [];
    for (const projection of projections) projection.setup(this.db);
    this.inline = projections.filter((projection) => projection.mode === 'inline');
    this.statements = {
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
      savepoint: this.db.prepare('SAVEPOINT append_one'),
      release: this.db.prepare('RELEASE append_one'),
      rollbackTo: this.db.prepare('ROLLBACK TO append_one'),
      insert: this.db.prepare(
        'INSERT INTO event_log (stream_id, stream_version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      streamHead: this.db.prepare('SELECT max(stream_version) FROM event_log WHERE stream_id = ?').pluck(),
      readStream: this.db.prepare(
        'SELECT * FROM event_log WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version',
      ),
      headPosition: this.db.prepare('SELECT coalesce(max(position), 0) FROM event_log').pluck(),
      dataVersion: this.db.prepare('PRAGMA data_version').pluck(),
    };
    this.head = this.statements.headPosition.get() as number;
    this.dataVersion = this.statements.dataVersion.get() as number;
    this.committer = new GroupCommitter(this.commitBatch, options.maxBatch ?? 2000, options.observer);
    this.checkpointer = useWorker ? new WalCheckpointer(options.path, options.walCheckpointIntervalMs ?? 1000) : undefined;
    this.projector = new AsyncProjector(
      this.db,
      projections.filter((projection) => projection.mode === 'async'),
      (after, limit) => this.readAll({ after, limit }),
      options.projectionPollMs ?? 1000,
    );
    this.checkpoints = checkpointStoreOf(this.db);
    this.committer.onCommitted(() => this.projector.schedule());
    this.projector.schedule();
  }

  append(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return this.committer.append(streamId, events, expected);
  }

  onCommitted(listener: (events: readonly RecordedEvent[]) => void): () => void {
    return this.committer.onCommitted(listener);
  }

  readStream(streamId: string, fromVersion = 1): RecordedEvent[] {
    return (this.statements.readStream.all(streamId, fromVersion) as EventRow[]).map(rowToEvent);
  }

  readAll(options: ReadAllOptions = {}): RecordedEvent[] {
    return readAllFrom(this.db, options);
  }

  streamVersion(streamId: string): number {
    this.dropCacheIfOthersWrote();
    return this.currentVersion(streamId);
  }

  headPosition(): number {
    this.dropCacheIfOthersWrote();
    return this.head;
  }

  /** Number of appends waiting for the next commit (for shutdown and metrics). */
  get pendingAppends(): number {
    return this.committer.pending;
  }

  async close(): Promise<void> {
    this.committer.close();
    this.committer.flush();
    this.projector.stop();
    this.projector.runOnce();
    await this.checkpointer?.stop();
    if (this.db.open) {
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // Another process may hold the database; the WAL stays and is replayed on next open.
      }
      this.db.close();
    }
  }

  private currentVersion(streamId: string): number {
    const cached = this.versions.get(streamId);
    if (cached !== undefined) return cached;
    const version = (this.statements.streamHead.get(streamId) as number | null) ?? 0;
    this.versions.set(streamId, version);
    return version;
  }

  private dropCacheIfOthersWrote(): void {
    const dataVersion = this.statements.dataVersion.get() as number;
    if (dataVersion !== this.dataVersion) {
      this.dataVersion = dataVersion;
      this.versions.clear();
      this.head = this.statements.headPosition.get() as number;
    }
  }

  private readonly commitBatch = (batch: readonly PendingAppend[]): AppendOutcome[] => {
    const { begin, commit, rollback, savepoint, release, rollbackTo } = this.statements;
    const recordedAt = this.clock.now();
    const outcomes: AppendOutcome[] = [];
    // Versions written in this transaction; merged into the cache only once it commits.
    const written = new Map<string, number>();
    // Only inline projections can fail after rows are inserted; without them an append is
    // all-or-nothing already and the savepoint's two extra statements are not paid.
    const isolate = this.inline.length > 0;
    begin.run();
    try {
      // Checked only once the write lock is held: another process (the CLI) could commit between
      // an earlier check and BEGIN IMMEDIATE, and a stale cached version would then hit the
      // UNIQUE (stream_id, stream_version) index and fail the whole batch instead of one CONFLICT.
      this.dropCacheIfOthersWrote();
      for (const pending of batch) {
        let current: number;
        try {
          current = written.get(pending.streamId) ?? this.currentVersion(pending.streamId);
          assertExpectedVersion(pending.streamId, pending.expected, current);
        } catch (error) {
          outcomes.push({ ok: false, error });
          continue;
        }
        if (isolate) savepoint.run();
        try {
          const result = this.insertAppend(pending, current, recordedAt);
          if (isolate) release.run();
          written.set(pending.streamId, result.nextVersion);
          outcomes.push({ ok: true, result });
        } catch (error) {
          if (!isolate) throw error;
          rollbackTo.run();
          release.run();
          outcomes.push({ ok: false, error });
        }
      }
      commit.run();
    } catch (error) {
      if (this.db.inTransaction) rollback.run();
      throw error;
    }
    // Bounded: every connection is a stream, and a cache entry per stream ever written would
    // grow with the process's age. A miss costs one indexed lookup.
    if (this.versions.size > VERSION_CACHE_LIMIT) this.versions.clear();
    for (const [streamId, version] of written) this.versions.set(streamId, version);
    for (const outcome of outcomes) {
      if (outcome.ok) this.head = Math.max(this.head, outcome.result.lastPosition);
    }
    return outcomes;
  };

  private insertAppend(pending: PendingAppend, current: number, recordedAt: number): AppendResult {
    const { streamId, serialized } = pending;
    const recorded: RecordedEvent[] = [];
    let version = current;
    for (let index = 0; index < serialized.length; index++) {
      const row = serialized[index]!;
      version += 1;
      const inserted = this.statements.insert.run(streamId, version, row.type, row.data, row.metadata, recordedAt);
      recorded.push({
        position: Number(inserted.lastInsertRowid),
        streamId,
        version,
        type: row.type,
        // Parsed from the stored text, not the caller's objects: the events the runtime evolves
        // from and inline projections apply must equal what replay reads back (a Date becomes a
        // string, an undefined field disappears), and a caller mutating its object later must
        // not change them. The in-memory store does the same.
        data: JSON.parse(row.data) as unknown,
        metadata: JSON.parse(row.metadata) as RecordedEvent['metadata'],
        recordedAt,
      });
    }
    for (const projection of this.inline) {
      for (const event of recorded) projection.apply(this.db, event);
    }
    return { nextVersion: version, lastPosition: recorded[recorded.length - 1]!.position, events: recorded };
  }
}
