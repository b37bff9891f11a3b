import type { Projection, ReadModelDatabase } from '../../store/index.js';
import { statement } from '../../store/index.js';
import { isItineraryEvent } from '../itineraries/index.js';
import { isStreamEvent, isZoomCredentialsEvent, type StreamStatus } from './domain/index.js';

/**
 * Read models `streams` and `zoom_credentials`, inline: a join (`consumer_rtmp_get`) and a
 * signature read them on the command's path, so they must hold the last append at once, and
 * the CLI's `zoom set` writes its row in the append's own transaction, which a running server
 * reads on the next signature.
 *
 * `streams` has a row per rtmp item from its ItemAdded (the itineraries module's event, read
 * by type from the log), so the scheduler can re-arm every item's next status change at start
 * without asking another module for a list; the stream's own events fill the rest. Statement
 * keys are prefixed `streams:` since the statement cache is shared by every projection.
 */
export const streamsProjection: Projection = {
  name: 'streams',
  mode: 'inline',
  tables: ['streams', 'zoom_credentials'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS streams (
        item_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'rehearsing', status_at INTEGER,
        activated_at INTEGER, completed_at INTEGER, recording_url TEXT,
        key_generation INTEGER NOT NULL DEFAULT 0, key_hash TEXT, sealed_key TEXT, key_issued_at INTEGER,
        added_at INTEGER, removed_at INTEGER);
      CREATE TABLE IF NOT EXISTS zoom_credentials (
        organisation_id TEXT PRIMARY KEY, sdk_key TEXT NOT NULL, sealed_secret TEXT NOT NULL, set_at INTEGER NOT NULL);
    `);
  },
  apply(db, event) {
    if (isItineraryEvent(event)) {
      if (event.type === 'ItemAdded' && event.data.type === 'rtmp') {
        statement(db, 'streams:item-added', 'INSERT INTO streams (item_id, added_at) VALUES (?, ?) ON CONFLICT(item_id) DO UPDATE SET added_at = excluded.added_at').run(
          event.data.itemId,
          event.data.addedAt,
        );
      } else if (event.type === 'ItemRemoved') {
        statement(db, 'streams:item-removed', 'UPDATE streams SET removed_at = ? WHERE item_id = ?').run(event.data.removedAt, event.data.itemId);
      }
      return;
    }
    if (isZoomCredentialsEvent(event)) {
      const d = event.data;
      statement(
        db,
        'streams:zoom-set',
        `INSERT INTO zoom_credentials (organisation_id, sdk_key, sealed_secret, set_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(organisation_id) DO UPDATE SET sdk_key = excluded.sdk_key, sealed_secret = excluded.sealed_secret, set_at = excluded.set_at`,
      ).run(d.organisationId, d.sdkKey, d.sealedSecret, d.setAt);
      return;
    }
    if (!isStreamEvent(event)) return;
    // Upserts: a stream's row exists from its item's ItemAdded, except on a log whose items
    // predate this read model; the stream's own events then make it.
    const itemId = event.data.itemId;
    statement(db, 'streams:ensure', 'INSERT INTO streams (item_id) VALUES (?) ON CONFLICT(item_id) DO NOTHING').run(itemId);
    switch (event.type) {
      case 'StreamKeyIssued':
        statement(db, 'streams:key', 'UPDATE streams SET key_generation = ?, key_hash = ?, sealed_key = ?, key_issued_at = ? WHERE item_id = ?').run(
          event.data.generation,
          event.data.keyHash,
          event.data.sealedSecret,
          event.data.issuedAt,
          itemId,
        );
        return;
      case 'StreamActivated':
        statement(db, 'streams:activate', 'UPDATE streams SET activated_at = ? WHERE item_id = ?').run(event.data.activatedAt, itemId);
        return;
      case 'StreamCompleted':
        statement(db, 'streams:complete', 'UPDATE streams SET completed_at = ?, recording_url = ? WHERE item_id = ?').run(event.data.completedAt, event.data.recordingUrl, itemId);
        return;
      case 'StreamStatusChanged':
        statement(db, 'streams:status', 'UPDATE streams SET status = ?, status_at = ? WHERE item_id = ?').run(event.data.status, event.data.at, itemId);
        return;
    }
  },
};

interface StreamRow {
  item_id: string;
  status: StreamStatus;
  status_at: number | null;
  activated_at: number | null;
  completed_at: number | null;
  recording_url: string | null;
  key_generation: number;
  key_hash: string | null;
  sealed_key: string | null;
  key_issued_at: number | null;
  added_at: number | null;
  removed_at: number | null;
}

/** A stream as the read model holds it; `status` is the last recorded one (the join computes the current one). */
export interface StreamRecord {
  itemId: string;
  status: StreamStatus;
  statusAt: number | null;
  activatedAt: number | null;
  completedAt: number | null;
  recordingUrl: string | null;
  keyGeneration: number;
  keyHash: string | null;
  /** The current key, sealed; null until one is issued. */
  sealedKey: string | null;
  keyIssuedAt: number | null;
}

const recordOf = (row: StreamRow): StreamRecord => ({
  itemId: row.item_id,
  status: row.status,
  statusAt: row.status_at,
  activatedAt: row.activated_at,
  completedAt: row.completed_at,
  recordingUrl: row.recording_url,
  keyGeneration: row.key_generation,
  keyHash: row.key_hash,
  sealedKey: row.sealed_key,
  keyIssuedAt: row.key_issued_at,
});

/** A stream nobody has touched yet: what an rtmp item without a row reads as. */
export const untouchedStream = (itemId: string): StreamRecord => ({
  itemId,
  status: 'rehearsing',
  statusAt: null,
  activatedAt: null,
  completedAt: null,
  recordingUrl: null,
  keyGeneration: 0,
  keyHash: null,
  sealedKey: null,
  keyIssuedAt: null,
});

/** Queries over the read models (`store.readModels`). */
export class StreamDirectory {
  constructor(private readonly db: ReadModelDatabase) {}

  get(itemId: string): StreamRecord | undefined {
    const row = statement(this.db, 'streams:get', 'SELECT * FROM streams WHERE item_id = ?').get(itemId) as StreamRow | undefined;
    return row && recordOf(row);
  }

  /** Whether the item is an rtmp item this read model knows of (its ItemAdded, or a stream event). */
  has(itemId: string): boolean {
    return statement(this.db, 'streams:has', 'SELECT 1 FROM streams WHERE item_id = ?').get(itemId) !== undefined;
  }

  /** rtmp items whose status can still change (not removed, not completed by the streaming service): the timers to re-arm at start. */
  open(): string[] {
    return statement(this.db, 'streams:open', 'SELECT item_id FROM streams WHERE removed_at IS NULL AND completed_at IS NULL ORDER BY item_id')
      .pluck()
      .all() as string[];
  }

  /** The organisation's credentials as `switchyard zoom set` recorded them (the secret sealed). */
  zoomCredentials(organisationId: string): { sdkKey: string; sealedSecret: string; setAt: number } | undefined {
    const row = statement(this.db, 'streams:zoom-get', 'SELECT sdk_key, sealed_secret, set_at FROM zoom_credentials WHERE organisation_id = ?').get(organisationId) as
      | { sdk_key: string; sealed_secret: string; set_at: number }
      | undefined;
    return row && { sdkKey: row.sdk_key, sealedSecret: row.sealed_secret, setAt: row.set_at };
  }
}
