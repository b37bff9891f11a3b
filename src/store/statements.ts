import type { Database, Statement } from 'better-sqlite3';

/**
 * Prepared statements cached per database and key: projections run per event, and
 * preparing SQL each time would cost more than the write itself.
 */
const cache = new WeakMap<Database, Map<string, Statement<unknown[]>>>();

export function statement(db: Database, key: string, sql: string): Statement<unknown[]> {
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
