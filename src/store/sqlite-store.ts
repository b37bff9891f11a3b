import { type Database, type Statement } from 'better-sqlite3';
import { systemClock, type Clock } from '../core/index.js';
import { assertExpectedVersion } from './expected-version.js';
import { GroupCommitter, type AppendOutcome, type PendingAppend } from './group-commit.js';
import { DEFAULT_WAL_MAX_BYTES, WalCheckpointer } from './wal-checkpointer.js';
import { AsyncProjector } from './async-projector.js';
import { WalSyncer } from './wal-syncer.js';
import { migrate } from './schema.js';
import type { CheckpointStore, AppendResult, EventStore, ExpectedVersion, NewEvent, Projection, ReadAllOptions, RecordedEvent, StoreObserver } from './types.js';
import { buildInlineProjectionsFromLog, checkpointStoreOf, filesWritable, isStorageFailure, openDatabase, rowToEvent, readAllFrom, type EventRow } from './sqlite-database.js';

export { checkpointStoreOf, headPositionOf, logHasEvents, openDatabase, projectionCheckpoints, readAllFrom, rowToEvent, type OpenDatabaseOptions } from './sqlite-database.js';

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
  /**
   * Size the WAL file is kept under (with the checkpoint worker on): past a quarter of it in frames
   * the worker rewinds the WAL (PASSIVE, then RESTART with commits held for the last frames; see
   * wal-checkpointer.ts), past half it truncates the file. Default 64 MiB.
   */
  walMaxBytes?: number;
  /**
   * How a commit is made durable before it is acknowledged; both acknowledge only what is on
   * disk. `commit` (the default): `synchronous = FULL`, the fsync inside COMMIT on the event
   * loop. `worker`: COMMIT without fsync, then the WAL's fdatasync in a worker thread, with
   * the appends made meanwhile committed after it (wal-syncer.ts; bench/micro/append.mjs
   * compares the two). Not the default: between its COMMIT and the fsync's return, readers of
   * this database (readAll, readStream, the read models, the log follower, the CLI) already
   * see the rows, so a push or an answer could reveal an event a power loss would then take
   * back. Making every reader stop at the synced head is what the default needs first.
   */
  walSync?: 'worker' | 'commit';
}

const VERSION_CACHE_LIMIT = 100_000;

/**
 * The event log in SQLite (WAL, synchronous=FULL) with group commit. This file,
 * `sqlite-database.ts` and `async-projector.ts` hold all of the log's SQL (DESIGN.md rule 2).
 */
export class SqliteEventStore implements EventStore {
  readonly readModels: Database;
  readonly checkpoints: CheckpointStore;
  private readonly db: Database;
  private readonly committer: GroupCommitter;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly syncer: WalSyncer | undefined;
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
  /** The last commit's storage failure (read-only, I/O, disk full), cleared by the next commit. */
  private writeFailure: { at: number; error: unknown } | undefined;
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
    this.db = openDatabase(options.path, { quickCheck: true });
    // Checkpoints run in a worker on their own connection: an automatic checkpoint on this
    // connection would stall a commit for 6-16 ms every thousand pages.
    const useWorker = options.path !== ':memory:' && (options.walCheckpointIntervalMs ?? 1000) > 0;
    const walMaxBytes = options.walMaxBytes ?? DEFAULT_WAL_MAX_BYTES;
    if (useWorker) {
      this.db.pragma('wal_autocheckpoint = 0');
      // A WAL left by a crash (kill -9 under load left 2 GB) is folded in before serving, so a
      // restart does not begin over the bound. Only the serving process (the one that runs the
      // worker) does it: an operator command must not stall a running gateway's commits.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      // Second line behind the worker: the first commit after a checkpoint restarted the WAL
      // trims the file to this size.
      this.db.pragma(`journal_size_limit = ${Math.floor(walMaxBytes / 2)}`);
    }
    migrate(this.db);
    this.readModels = this.db;
    const projections = options.projections ?? [];
    const existingTables = new Set(this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
    for (const projection of projections) projection.setup(this.db);
    this.inline = projections.filter((projection) => projection.mode === 'inline');
    this.buildNewInlineProjections(this.inline.filter((projection) => projection.tables.every((table) => !existingTables.has(table))));
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
    this.checkpointer = useWorker ? new WalCheckpointer(options.path, options.walCheckpointIntervalMs ?? 1000, walMaxBytes) : undefined;
    if (options.path !== ':memory:' && options.walSync === 'worker') {
      // NORMAL in WAL mode: no fsync at COMMIT (the syncer's), but checkpoints on this
      // connection (the automatic ones when the worker is off) still sync before and after.
      this.db.pragma('synchronous = NORMAL');
      this.syncer = new WalSyncer(`${options.path}-wal`);
    }
    const syncer = this.syncer;
    this.committer = new GroupCommitter(
      this.commitBatch,
      options.maxBatch ?? 2000,
      options.observer,
      this.checkpointer?.gate,
      syncer && ((done) => syncer.sync(done)),
    );
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

  /**
   * Whether appends can commit: false while the files refuse writes (a chmod, a read-only
   * remount) or since a commit failed on storage (I/O error, disk full) until one succeeds.
   * `/readyz` answers 503 on false, so a balancer stops sending clients whose every action
   * would fail. A storage failure is re-probed at most once a second with a one-page write,
   * because a gateway out of rotation gets no appends that could clear it.
   */
  get writable(): boolean {
    if (!this.db.open || this.committer.failed || !filesWritable(this.options.path)) return false;
    const failure = this.writeFailure;
    if (failure === undefined) return true;
    const now = this.clock.now();
    if (now - failure.at < 1000 || this.db.inTransaction) return false;
    try {
      const version = this.db.pragma('user_version', { simple: true }) as number;
      this.db.pragma(`user_version = ${version}`);
      this.writeFailure = undefined;
      return true;
    } catch (error) {
      this.writeFailure = { at: now, error };
      return false;
    }
  }

  /** Number of appends waiting for the next commit (for shutdown and metrics). */
  get pendingAppends(): number {
    return this.committer.pending;
  }

  async close(): Promise<void> {
    this.committer.close();
    this.committer.flush();
    await this.committer.drained();
    await this.syncer?.stop();
    this.projector.stop();
    this.projector.runOnce();
    await this.checkpointer?.stop();
    if (this.db.open) {
      try {
        // The last checkpoint folds the WAL into the database and truncates it: FULL, so the
        // database file is synced before the WAL's frames are given up.
        this.db.pragma('synchronous = FULL');
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // Another process may hold the database; the WAL stays and is replayed on next open.
      }
      this.db.close();
    }
  }

  /**
   * Inline read models whose tables this open created, on a log that already holds events (a
   * module new in this version of the gateway), are built from the whole log once, here, in one
   * transaction: an inline projection otherwise only sees appends made after it exists, and would
   * stay empty of everything before. Projections whose tables were already there are current
   * (they ran in every append's transaction). While catching up, a projection that reads
   * another's tables sees them as of the head, not as of each event.
   */
  private buildNewInlineProjections(fresh: readonly Projection[]): void {
    buildInlineProjectionsFromLog(this.db, fresh);
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
      if (isStorageFailure(error)) this.writeFailure = { at: this.clock.now(), error };
      throw error;
    }
    this.writeFailure = undefined;
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
