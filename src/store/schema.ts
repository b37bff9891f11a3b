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

/**
 * The tables a JetStream mirror (mirror.ts) keeps beside the log's own, created only in a
 * mirror's database: a single-node log never gets them, so no migration of existing logs.
 * - `mirror_source`: the one JetStream stream this file mirrors (its name and creation time,
 *   so a mirror never follows a re-created stream) and the checkpoint, the last JetStream
 *   sequence ingested, written in the same transaction as the rows it covers.
 * - `mirror_streams`: per log stream, its version and the JetStream sequence of its last
 *   message, VOID ones included: what an append's expected version becomes.
 * - `mirror_messages`: one row per ingested message: which positions it became, or why it is
 *   VOID (an inline projection refused it at ingest; its events are not in `event_log`).
 * - `mirror_writing`: holds a row only inside an ingest's own transaction. The trigger refuses
 *   event_log rows written without it, so nothing but the ingest (a SqliteEventStore or a
 *   hand-typed sqlite3 session on the mirror's file) can add events JetStream does not have.
 */
export function ensureMirrorTables(db: Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS mirror_source (
      id             INTEGER PRIMARY KEY CHECK (id = 1),
      stream_name    TEXT    NOT NULL,
      stream_created TEXT    NOT NULL,
      last_sequence  INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mirror_streams (
      stream_id     TEXT    PRIMARY KEY,
      version       INTEGER NOT NULL,
      last_sequence INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mirror_messages (
      sequence       INTEGER PRIMARY KEY,
      msg_id         TEXT,
      stream_id      TEXT,
      first_position INTEGER,
      event_count    INTEGER NOT NULL,
      void_error     TEXT
    );
    CREATE TABLE IF NOT EXISTS mirror_writing (marker INTEGER PRIMARY KEY);
    CREATE TRIGGER IF NOT EXISTS mirror_refuse_foreign_append BEFORE INSERT ON event_log
      WHEN NOT EXISTS (SELECT 1 FROM mirror_writing)
      BEGIN SELECT RAISE(ABORT, 'this log is a mirror of the JetStream log: append through the cluster, not to this file'); END;
  `);
}
