import type { Database } from 'better-sqlite3';

/**
 * Ordered migrations of the log's own tables; `PRAGMA user_version` records how many ran.
 * Append new entries, never edit old ones: databases in the field already ran them.
 * Read-model tables are not here: each projection owns its schema (DESIGN.md rule 7).
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE event_log (
     position       INTEGER PRIMARY KEY,
     stream_id      TEXT    NOT NULL,
     stream_version INTEGER NOT NULL,
     type           TEXT    NOT NULL,
     data           TEXT    NOT NULL,
     metadata       TEXT    NOT NULL,
     recorded_at    INTEGER NOT NULL,
     UNIQUE (stream_id, stream_version)
   );
   -- The log is the truth: history is never rewritten. These refuse it even to a hand-typed sqlite3 session.
   CREATE TRIGGER event_log_refuse_update BEFORE UPDATE ON event_log
     BEGIN SELECT RAISE(ABORT, 'event_log is append-only: UPDATE refused'); END;
   CREATE TRIGGER event_log_refuse_delete BEFORE DELETE ON event_log
     BEGIN SELECT RAISE(ABORT, 'event_log is append-only: DELETE refused'); END;
   CREATE TABLE projection_checkpoints (
     name     TEXT PRIMARY KEY,
     position INTEGER NOT NULL
   );`,
];

export function migrate(db: Database): void {
  const applied = db.pragma('user_version', { simple: true }) as number;
  for (let index = applied; index < MIGRATIONS.length; index++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[index]!);
      db.pragma(`user_version = ${index + 1}`);
    }).immediate();
  }
}

/** Checkpoints table for async projections, in whichever database holds the read models. */
export function ensureCheckpointTable(db: Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
}
