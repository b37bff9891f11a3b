/**
 * Opening and reading a log database: the checks a database must pass before anything is
 * served (header, quick_check, writability), and the queries both the store and the operator
 * commands run on it. The store itself (group commit, appends) is sqlite-store.ts.
 */
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { accessSync, closeSync, constants, existsSync, fchmodSync, fsyncSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { PRIVATE_FILE_MODE, StartupError, assertWalHeader, ensurePrivateDirectory, makeFilePrivate } from './startup.js';
import { ensureCheckpointTable, migrate } from './schema.js';
import type { CheckpointStore, Projection, ReadAllOptions, RecordedEvent } from './types.js';

/** Whether the log's files and directory accept writes (file modes, a read-only remount). */
export function filesWritable(path: string): boolean {
  if (path === ':memory:') return true;
  try {
    for (const file of [path, dirname(path)]) accessSync(file, constants.W_OK);
    if (existsSync(`${path}-wal`)) accessSync(`${path}-wal`, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export interface EventRow {
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

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * SQLite error codes that mean the file cannot serve as the log (as opposed to a busy lock or
 * a constraint): they become a StartupError naming the file.
 */
const FILE_ERROR = /^SQLITE_(NOTADB|CORRUPT|READONLY|CANTOPEN|IOERR|PERM|FULL|AUTH)/;

export function isStorageFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && FILE_ERROR.test(code);
}

export function asStartupError(path: string, error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !FILE_ERROR.test(code)) return error;
  const what = code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT') ? 'is damaged' : 'cannot be opened for writing';
  return new StartupError(path, `database ${path} ${what} (${code}: ${(error as Error).message}): restore it from a backup`);
}

/**
 * Refuses an existing file that is not a SQLite database before SQLite sees it: SQLite takes a
 * 0-byte file for a new empty database, and the gateway then served an empty log over what
 * was a real one (and `replay` called the rebuilt models "equal").
 */
function assertDatabaseHeader(path: string): void {
  const size = statSync(path).size;
  if (size === 0) {
    throw new StartupError(path, `database ${path} is empty (0 bytes), not a Switchyard log: restore it from a backup, or remove it to start a new log`);
  }
  const header = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!header.equals(SQLITE_HEADER)) {
    throw new StartupError(path, `database ${path} is not a SQLite database (bad header): restore it from a backup`);
  }
}

/**
 * A new database comes into being whole or not at all: it is built under a temporary name
 * with mode 0600 (SQLite gives the -wal and -shm the database's mode) and its schema, then
 * renamed into place. A crash half-way leaves the temporary file, never a 0-byte
 * `switchyard.db` that the next start would have to refuse.
 */
function createDatabaseFile(path: string): void {
  const directory = dirname(path);
  // Only a directory made here gets its mode set: the file may be put in an existing shared
  // directory (a bench's /tmp), whose mode is not ours to change. `prepareDataDir` fixes the data dir.
  if (!existsSync(directory)) ensurePrivateDirectory(directory);
  const creating = `${path}.creating`;
  for (const leftover of [creating, `${creating}-wal`, `${creating}-shm`]) rmSync(leftover, { force: true });
  const fd = openSync(creating, 'wx', PRIVATE_FILE_MODE);
  // The open mode is masked by the umask; fchmod is not.
  fchmodSync(fd, PRIVATE_FILE_MODE);
  closeSync(fd);
  const db = new BetterSqlite3(creating);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db);
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  renameSync(creating, path);
  const dirFd = openSync(directory, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

export interface OpenDatabaseOptions {
  readonly?: boolean;
  /**
   * Runs `PRAGMA quick_check` (every page and index structure, not the row-to-index match:
   * a second or so per GB). For what serves or rebuilds from the log; polling readers skip it.
   */
  quickCheck?: boolean;
}

/**
 * Opens a database with the pragmas every Switchyard connection needs, refusing (StartupError)
 * a file that is empty, not SQLite, damaged, beside a garbage WAL, or not writable when
 * opened for writing. A missing file is created (0600) unless opened read-only.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  const readonly = options.readonly ?? false;
  if (path !== ':memory:') {
    if (existsSync(path)) assertDatabaseHeader(path);
    else if (!readonly) createDatabaseFile(path);
    assertWalHeader(`${path}-wal`);
  }
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(path, { readonly });
    db.pragma('busy_timeout = 5000');
    if (!readonly) {
      // SQLite falls back to read-only, silently, when the file or its filesystem refuses
      // writes; the gateway then answered /readyz 200 and closed every socket 1011 on the
      // first append.
      // better-sqlite3's `readonly` echoes the option, not SQLite's fallback, so ask the OS.
      if (path !== ':memory:' && !filesWritable(path)) {
        throw new StartupError(path, `database ${path} is read-only (file mode, directory or filesystem): the log must be writable`);
      }
      if (path !== ':memory:') {
        for (const file of [path, `${path}-wal`, `${path}-shm`]) makeFilePrivate(file);
      }
      db.pragma('journal_mode = WAL');
      // FULL: the WAL is fsynced at every commit, so an acknowledged append survives power loss.
      db.pragma('synchronous = FULL');
    }
    if (options.quickCheck && path !== ':memory:') {
      const verdict = db.prepare('PRAGMA quick_check(1)').pluck().get();
      if (verdict !== 'ok') throw new StartupError(path, `database ${path} is damaged (quick_check: ${String(verdict)}): restore it from a backup`);
    }
    return db;
  } catch (error) {
    db?.close();
    throw asStartupError(path, error);
  }
}

/** Whether the log in `path` holds any event (false when the file or its table is missing). */
export function logHasEvents(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = openDatabase(path, { readonly: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_log'").get();
    return table !== undefined && db.prepare('SELECT 1 FROM event_log LIMIT 1').get() !== undefined;
  } finally {
    db.close();
  }
}

/**
 * Builds inline read models new to a log from the events it already holds, in one
 * transaction, a page of events at a time: a module added to a gateway with history (or a
 * mirror that has ingested before) starts with its read model complete.
 */
export function buildInlineProjectionsFromLog(db: Database, fresh: readonly Projection[]): void {
  if (fresh.length === 0) return;
  const page = 1000;
  db.transaction(() => {
    for (let after = 0; ; ) {
      const events = readAllFrom(db, { after, limit: page });
      for (const event of events) for (const projection of fresh) projection.apply(db, event);
      if (events.length < page) break;
      after = events[events.length - 1]!.position;
    }
  }).immediate();
}
