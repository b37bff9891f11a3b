import type { Projection, ReadModelDatabase } from '../../store/index.js';
import { statement } from '../../store/index.js';
import { isNoticeEvent, isNoticeReadsEvent, type NoticeSentData } from './domain/index.js';

/**
 * Read models `notices` (an event's notices by log position, the order they were sent in) and
 * `notice_reads` (who read which), inline: a notice is listed, and a read shown, as soon as its
 * command is answered. The read state of a page is one query for the page's ids. Statement keys
 * are prefixed `notices:` since the statement cache is shared by every projection.
 */
export const noticesProjection: Projection = {
  name: 'notices',
  mode: 'inline',
  tables: ['notices', 'notice_reads'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS notices (
        notice_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, organisation_id TEXT NOT NULL, title TEXT, message TEXT NOT NULL,
        level TEXT NOT NULL, data TEXT, sent_at INTEGER NOT NULL, sent_by TEXT, position INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS notices_by_event ON notices (event_id, position);
      CREATE TABLE IF NOT EXISTS notice_reads (
        user_id TEXT NOT NULL, notice_id TEXT NOT NULL, event_id TEXT NOT NULL, read_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, notice_id)) WITHOUT ROWID;
    `);
  },
  apply(db, event) {
    if (isNoticeEvent(event)) {
      const d = event.data;
      statement(
        db,
        'notices:sent',
        'INSERT INTO notices (notice_id, event_id, organisation_id, title, message, level, data, sent_at, sent_by, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(d.noticeId, d.eventId, d.organisationId, d.title, d.message, d.level, d.data === null ? null : JSON.stringify(d.data), d.sentAt, event.metadata.actor ?? null, event.position);
      return;
    }
    if (isNoticeReadsEvent(event)) {
      const d = event.data;
      // The decide records a notice read once per reader; OR IGNORE keeps a replay of a hand-made log safe too.
      statement(db, 'notices:read', 'INSERT OR IGNORE INTO notice_reads (user_id, notice_id, event_id, read_at) VALUES (?, ?, ?, ?)').run(d.userId, d.noticeId, d.eventId, d.readAt);
    }
  },
};

interface NoticeRow {
  notice_id: string;
  event_id: string;
  organisation_id: string;
  title: string | null;
  message: string;
  level: string;
  data: string | null;
  sent_at: number;
  sent_by: string | null;
  position: number;
}

/** A notice as the read model holds it: what its NoticeSent recorded, where it is in the log, who sent it. */
export type NoticeRecord = NoticeSentData & { position: number; sentBy: string | null };

const recordOf = (row: NoticeRow): NoticeRecord => ({
  noticeId: row.notice_id,
  eventId: row.event_id,
  organisationId: row.organisation_id,
  title: row.title,
  message: row.message,
  level: row.level,
  data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
  sentAt: row.sent_at,
  sentBy: row.sent_by,
  position: row.position,
});

/** Queries over the read model (`store.readModels`). */
export class NoticeBoard {
  constructor(private readonly db: ReadModelDatabase) {}

  get(noticeId: string): NoticeRecord | undefined {
    const row = statement(this.db, 'notices:q:get', 'SELECT * FROM notices WHERE notice_id = ?').get(noticeId) as NoticeRow | undefined;
    return row && recordOf(row);
  }

  /**
   * The newest `limit` notices of the event sent before log position `before` (all, without it),
   * oldest first; `more` when older ones remain.
   */
  page(eventId: string, before: number | undefined, limit: number): { notices: NoticeRecord[]; more: boolean } {
    const rows = statement(
      this.db,
      'notices:q:page',
      'SELECT * FROM notices WHERE event_id = ? AND position < ? ORDER BY position DESC LIMIT ?',
    ).all(eventId, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as NoticeRow[];
    const more = rows.length > limit;
    return { notices: rows.slice(0, limit).reverse().map(recordOf), more };
  }

  /** Which of these notices the user has read. */
  readBy(userId: string, noticeIds: readonly string[]): Set<string> {
    if (noticeIds.length === 0) return new Set();
    // One statement per page size would fill the cache; json_each takes the ids as one parameter.
    const rows = statement(
      this.db,
      'notices:q:read-by',
      'SELECT notice_id FROM notice_reads WHERE user_id = ? AND notice_id IN (SELECT value FROM json_each(?))',
    ).all(userId, JSON.stringify(noticeIds)) as { notice_id: string }[];
    return new Set(rows.map((row) => row.notice_id));
  }
}
