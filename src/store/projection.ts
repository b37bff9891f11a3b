import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import type { RecordedEvent } from '../core/index.js';

/**
 * The read-model side of the store, and the only file outside the store's own SQL that
 * names better-sqlite3's types: projections (each module's projection.ts) get the database
 * as `ReadModelDatabase` from here, with the statement cache they share.
 */

/** The SQLite database that holds the read models (the log's own file, or an in-memory twin). */
export type ReadModelDatabase = Database;

/**
 * A read model fed from the log. Its tables live in the same SQLite file as the log (or an
 * in-memory database for the twin store), so an inline projection can update them in the
 * append's transaction and a failed projection rolls the append back.
 */
export interface Projection {
  readonly name: string;
  /** `inline`: inside the append transaction. `async`: after commit, from a stored checkpoint. */
  readonly mode: 'inline' | 'async';
  /** The tables this projection owns; `replay` compares them row by row. */
  readonly tables: readonly string[];
  /** Creates the tables if missing. Must be idempotent. */
  setup(db: ReadModelDatabase): void;
  /** Applies one event. Events of types it does not handle must be ignored. */
  apply(db: ReadModelDatabase, event: RecordedEvent): void;
}

/**
 * Prepared statements cached per database and key: projections run per event, and
 * preparing SQL each time would cost more than the write itself.
 */
const cache = new WeakMap<ReadModelDatabase, Map<string, Statement<unknown[]>>>();

export function statement(db: ReadModelDatabase, key: string, sql: string): Statement<unknown[]> {
  let statements = cache.get(db);
  if (!statements) {
    statements = new Map();
    cache.set(db, statements);
  }
  let prepared = statements.get(key);
  if (!prepared) {
    prepared = db.prepare<unknown[]>(sql);
    statements.set(key, prepared);
  }
  return prepared;
}

/** A fresh database to rebuild read models into (`switchyard replay`): a file, or memory. */
export function openScratchDatabase(path?: string): ReadModelDatabase {
  return new BetterSqlite3(path ?? ':memory:');
}

/**
 * Every row of a read-model table as JSON text, sorted: what `replay` compares. A table not
 * made yet has no rows: an async read model's tables appear once a server first runs it, and
 * a log only the CLI has written to has none.
 */
export function tableRows(db: ReadModelDatabase, table: string): string[] {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)) return [];
  return (db.prepare(`SELECT * FROM "${table}"`).raw().all() as unknown[][]).map((row) => JSON.stringify(row)).sort();
}
