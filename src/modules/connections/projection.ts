import type { ReadModelDatabase } from '../../store/index.js';
import type { ConnectionClosedData, ConnectionOpenedData, ConnectionResumedData } from './domain/index.js';
import type { Projection } from '../../store/index.js';
import { statement } from '../../store/index.js';

/**
 * Read model `connections`: one row per connection ever opened, updated inline (in the
 * append's transaction), so "who is connected from where" is never behind the log.
 */
export const connectionsProjection: Projection = {
  name: 'connections',
  mode: 'inline',
  tables: ['connections'],
  setup(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS connections (
      connection_id  TEXT PRIMARY KEY,
      transport      TEXT NOT NULL,
      codec          TEXT NOT NULL,
      remote_address TEXT NOT NULL,
      user_agent     TEXT,
      origin         TEXT,
      opened_at      INTEGER NOT NULL,
      closed_at      INTEGER,
      close_code     INTEGER,
      close_reason   TEXT,
      unclean        INTEGER,
      frames_in      INTEGER,
      frames_out     INTEGER,
      node           TEXT
    )`);
    // Logs from before the cluster have the table without the node (PROTOCOL.md section 12):
    // their open rows are closed at the next start anyway, so no backfill is needed.
    const columns = db.prepare('PRAGMA table_info(connections)').all() as { name: string }[];
    if (!columns.some((column) => column.name === 'node')) db.exec('ALTER TABLE connections ADD COLUMN node TEXT');
    db.exec('CREATE INDEX IF NOT EXISTS connections_open_by_node ON connections (node) WHERE closed_at IS NULL');
  },
  apply(db, event) {
    if (event.type === 'ConnectionOpened') {
      const data = event.data as ConnectionOpenedData;
      statement(db, 'connections:open', `INSERT INTO connections
        (connection_id, transport, codec, remote_address, user_agent, origin, opened_at, node)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
        data.connectionId,
        data.transport,
        data.codec,
        data.remoteAddress,
        data.userAgent,
        data.origin,
        data.openedAt,
        data.node ?? null,
      );
    } else if (event.type === 'ConnectionResumed') {
      // Adopted by another node after a node loss: relays and takeovers look for it there now.
      const data = event.data as ConnectionResumedData;
      if (data.node !== undefined) statement(db, 'connections:move', 'UPDATE connections SET node = ? WHERE connection_id = ?').run(data.node, data.connectionId);
    } else if (event.type === 'ConnectionClosed') {
      const data = event.data as ConnectionClosedData;
      statement(db, 'connections:close', `UPDATE connections SET closed_at = ?, close_code = ?, close_reason = ?,
        unclean = ?, frames_in = ?, frames_out = ? WHERE connection_id = ?`).run(
        data.closedAt,
        data.code,
        data.reason,
        data.unclean ? 1 : 0,
        data.framesIn,
        data.framesOut,
        data.connectionId,
      );
    }
  },
};

/**
 * Read model `connection_counts`: connections opened and closed per UTC day and codec. Inline:
 * one upsert in the append's transaction per connection event. It used to be the async
 * `connection_stats`, which cost more than it saved: the projector read every committed event
 * back from SQLite and parsed it to find these two types (5 % of the gateway's CPU in a
 * connection storm, bench/RESULTS.md), and wrote its checkpoint in a commit of its own. The
 * new name makes the store build it whole from the log on the first start after the change
 * (an async table may have been a batch behind its log); the old table is dropped.
 */
export const connectionCountsProjection: Projection = {
  name: 'connection_counts',
  mode: 'inline',
  tables: ['connection_counts'],
  setup(db) {
    db.exec('DROP TABLE IF EXISTS connection_stats');
    const checkpoints = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projection_checkpoints'").get();
    if (checkpoints) db.prepare("DELETE FROM projection_checkpoints WHERE name = 'connection_stats'").run();
    db.exec(`CREATE TABLE IF NOT EXISTS connection_counts (
      day     TEXT NOT NULL,
      codec   TEXT NOT NULL,
      opened  INTEGER NOT NULL DEFAULT 0,
      closed  INTEGER NOT NULL DEFAULT 0,
      unclean INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (day, codec)
    )`);
  },
  apply(db, event) {
    if (event.type !== 'ConnectionOpened' && event.type !== 'ConnectionClosed') return;
    const data = event.data as { codec: string; unclean?: boolean };
    const day = new Date(event.recordedAt).toISOString().slice(0, 10);
    const opened = event.type === 'ConnectionOpened' ? 1 : 0;
    const closed = 1 - opened;
    const unclean = data.unclean ? 1 : 0;
    statement(db, 'connections:count', `INSERT INTO connection_counts (day, codec, opened, closed, unclean) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(day, codec) DO UPDATE SET opened = opened + excluded.opened,
        closed = closed + excluded.closed, unclean = unclean + excluded.unclean`).run(day, data.codec, opened, closed, unclean);
  },
};

export interface ConnectionRow {
  connection_id: string;
  transport: string;
  codec: string;
  remote_address: string;
  opened_at: number;
  closed_at: number | null;
  close_code: number | null;
  close_reason: string | null;
  /** The gateway process holding it (PROTOCOL.md section 12); null in rows from before the cluster. */
  node: string | null;
}

/** Connections the log shows open or detached, oldest first. */
export function openConnections(db: ReadModelDatabase): ConnectionRow[] {
  return db.prepare('SELECT * FROM connections WHERE closed_at IS NULL ORDER BY opened_at').all() as ConnectionRow[];
}

