import type { ChatMode } from '../../protocol/topics/chat.js';
import type { Projection, ReadModelDatabase } from '../../store/index.js';
import { statement } from '../../store/index.js';
import { isChatEvent, type ChatMessagePostedData, type ChatReader, type KnownMessage } from './domain/index.js';

/**
 * Read model of chats, inline (history is read right after a post, and a reply's parent is
 * looked up inside the next command): `chat_messages` (every message with who may read it,
 * and its log position, the history cursor), `chat_instances` and `chat_participants` (the
 * conversations and who is in them), `chat_bans` (the item's bans in force or lapsed, until
 * lifted). Statement keys are prefixed `chat:` since the statement cache is shared.
 */
export const chatProjection: Projection = {
  name: 'chat',
  mode: 'inline',
  tables: ['chat_messages', 'chat_instances', 'chat_participants', 'chat_bans'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS chat_messages (
        message_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, item_id TEXT NOT NULL, author TEXT NOT NULL, author_name TEXT NOT NULL,
        text TEXT NOT NULL, parent TEXT, parent_author TEXT, status TEXT NOT NULL, visibility TEXT NOT NULL,
        removed INTEGER NOT NULL DEFAULT 0, removed_by TEXT, removed_reason TEXT, removed_at INTEGER,
        published_by TEXT, published_at INTEGER, position INTEGER NOT NULL, posted_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS chat_messages_by_instance ON chat_messages (instance_id, position);
      CREATE INDEX IF NOT EXISTS chat_messages_by_parent ON chat_messages (parent, position);
      CREATE TABLE IF NOT EXISTS chat_instances (
        instance_id TEXT PRIMARY KEY, item_id TEXT NOT NULL, main INTEGER NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL,
        started_by TEXT NOT NULL, operator TEXT, started_at INTEGER NOT NULL, activated_at INTEGER, closed_at INTEGER);
      CREATE INDEX IF NOT EXISTS chat_instances_by_item ON chat_instances (item_id, status);
      CREATE TABLE IF NOT EXISTS chat_participants (
        instance_id TEXT NOT NULL, user_id TEXT NOT NULL, added_by TEXT NOT NULL, added_at INTEGER NOT NULL, left_at INTEGER,
        added_position INTEGER NOT NULL, added_index INTEGER NOT NULL, PRIMARY KEY (instance_id, user_id));
      CREATE INDEX IF NOT EXISTS chat_participants_by_user ON chat_participants (user_id);
      CREATE TABLE IF NOT EXISTS chat_bans (
        item_id TEXT NOT NULL, user_id TEXT NOT NULL, until INTEGER, reason TEXT, banned_by TEXT NOT NULL, banned_at INTEGER NOT NULL,
        PRIMARY KEY (item_id, user_id));
    `);
  },
  apply(db, event) {
    if (!isChatEvent(event)) return;
    switch (event.type) {
      case 'ChatInstanceStarted': {
        const d = event.data;
        const status = d.main || d.mode !== 'round-robin' ? 'open' : 'waiting';
        statement(db, 'chat:instance-start', 'INSERT INTO chat_instances (instance_id, item_id, main, mode, status, started_by, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
          d.instanceId,
          d.itemId,
          d.main ? 1 : 0,
          d.mode,
          status,
          d.startedBy,
          d.startedAt,
        );
        d.participants.forEach((user, index) => addParticipant(db, d.instanceId, user, d.startedBy, d.startedAt, [event.position, index]));
        return;
      }
      case 'ChatMessagePosted': {
        const d = event.data;
        statement(
          db,
          'chat:message-post',
          `INSERT INTO chat_messages (message_id, instance_id, item_id, author, author_name, text, parent, parent_author, status, visibility, position, posted_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(d.messageId, d.instanceId, d.itemId, d.author, d.authorName, d.text, d.parent, d.parentAuthor, d.status, d.visibility, event.position, d.postedAt);
        return;
      }
      case 'ChatMessagePublished':
        statement(db, 'chat:message-publish', "UPDATE chat_messages SET status = 'visible', visibility = 'everyone', published_by = ?, published_at = ? WHERE message_id = ?").run(
          event.data.by,
          event.data.publishedAt,
          event.data.messageId,
        );
        return;
      case 'ChatMessageRemoved':
        statement(db, 'chat:message-remove', 'UPDATE chat_messages SET removed = 1, removed_by = ?, removed_reason = ?, removed_at = ? WHERE message_id = ?').run(
          event.data.by,
          event.data.reason,
          event.data.removedAt,
          event.data.messageId,
        );
        return;
      case 'ChatParticipantsAdded':
        event.data.users.forEach((user, index) => addParticipant(db, event.data.instanceId, user, event.data.by, event.data.addedAt, [event.position, index]));
        return;
      case 'ChatParticipantLeft':
        statement(db, 'chat:participant-leave', 'UPDATE chat_participants SET left_at = ? WHERE instance_id = ? AND user_id = ?').run(event.data.leftAt, event.data.instanceId, event.data.user);
        return;
      case 'ChatInstanceActivated': {
        const d = event.data;
        statement(db, 'chat:instance-activate', "UPDATE chat_instances SET status = 'active', operator = ?, activated_at = ? WHERE instance_id = ?").run(d.operator, d.activatedAt, d.instanceId);
        addParticipant(db, d.instanceId, d.operator, d.operator, d.activatedAt, [event.position, 0]);
        return;
      }
      case 'ChatInstanceClosed':
        statement(db, 'chat:instance-close', "UPDATE chat_instances SET status = 'closed', closed_at = ? WHERE instance_id = ?").run(event.data.closedAt, event.data.instanceId);
        return;
      case 'ChatUserBanned': {
        const d = event.data;
        statement(
          db,
          'chat:ban',
          `INSERT INTO chat_bans (item_id, user_id, until, reason, banned_by, banned_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (item_id, user_id) DO UPDATE SET until = excluded.until, reason = excluded.reason, banned_by = excluded.banned_by, banned_at = excluded.banned_at`,
        ).run(d.itemId, d.user, d.until, d.reason, d.by, d.bannedAt);
        return;
      }
      case 'ChatUserUnbanned':
        statement(db, 'chat:unban', 'DELETE FROM chat_bans WHERE item_id = ? AND user_id = ?').run(event.data.itemId, event.data.user);
        return;
    }
  },
};

/**
 * Someone is in the conversation (again). `order` is the log position of the event that
 * brought them and their place in its list: participants are listed in the order they came,
 * the same on every replay (clock times can tie).
 */
function addParticipant(db: ReadModelDatabase, instanceId: string, user: string, by: string, at: number, order: [position: number, index: number]): void {
  statement(
    db,
    'chat:participant-add',
    `INSERT INTO chat_participants (instance_id, user_id, added_by, added_at, added_position, added_index) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (instance_id, user_id) DO UPDATE SET added_by = excluded.added_by, added_at = excluded.added_at, left_at = NULL,
       added_position = excluded.added_position, added_index = excluded.added_index`,
  ).run(instanceId, user, by, at, order[0], order[1]);
}

interface MessageRow {
  message_id: string;
  instance_id: string;
  item_id: string;
  author: string;
  author_name: string;
  text: string;
  parent: string | null;
  parent_author: string | null;
  status: ChatMessagePostedData['status'];
  visibility: ChatMessagePostedData['visibility'];
  removed: number;
  published_at: number | null;
  position: number;
  posted_at: number;
  replies?: number;
}

/** A message as the read model holds it: what its post recorded, and where it stands now. */
export type MessageRecord = Omit<ChatMessagePostedData, 'postedAt'> & {
  postedAt: number;
  removed: boolean;
  publishedAt: number | null;
  /** Its log position: the history cursor, and the `seq` of its push. */
  position: number;
  /** Thread reads (a forum's top level): replies the reader may read. */
  replies?: number;
};

const messageOf = (row: MessageRow): MessageRecord => ({
  messageId: row.message_id,
  instanceId: row.instance_id,
  itemId: row.item_id,
  author: row.author,
  authorName: row.author_name,
  text: row.text,
  parent: row.parent,
  parentAuthor: row.parent_author,
  status: row.status,
  visibility: row.visibility,
  removed: row.removed === 1,
  publishedAt: row.published_at,
  position: row.position,
  postedAt: row.posted_at,
  ...(row.replies === undefined ? {} : { replies: row.replies }),
});

export type InstanceStatus = 'open' | 'waiting' | 'active' | 'closed';

export interface InstanceRecord {
  instanceId: string;
  itemId: string;
  main: boolean;
  mode: ChatMode;
  status: InstanceStatus;
  startedBy: string;
  operator: string | null;
  startedAt: number;
  /** Current participants, oldest first. */
  participants: string[];
}

interface InstanceRow {
  instance_id: string;
  item_id: string;
  main: number;
  mode: ChatMode;
  status: InstanceStatus;
  started_by: string;
  operator: string | null;
  started_at: number;
}

export interface HistoryQuery {
  /** Only messages at log positions below this (the previous page's `before`). */
  before?: number | undefined;
  limit: number;
  /** undefined: every message; null: top-level messages only (a forum's threads); an id: that thread's replies. */
  parent?: string | null | undefined;
  /** Moderator view: only what waits for a moderator. */
  heldOnly?: boolean;
  /** Count each message's replies the reader may read (thread lists). */
  withReplies?: boolean;
}

/** Who may read what, as SQL over a message row `m`: the rule of domain/visibility.ts. */
const READABLE = (alias: string) => `(@moderator = 1 OR ${alias}.visibility = 'everyone' OR ${alias}.author = @subject OR ${alias}.parent_author = @subject)`;

/** Queries over the read model (`store.readModels`). */
export class ChatDirectory {
  constructor(private readonly db: ReadModelDatabase) {}

  message(messageId: string): MessageRecord | undefined {
    const row = statement(this.db, 'chat:q:message', 'SELECT * FROM chat_messages WHERE message_id = ?').get(messageId) as MessageRow | undefined;
    return row && messageOf(row);
  }

  /** What a command about a message needs of it (decide's KnownMessage). */
  known(messageId: string): KnownMessage | undefined {
    const message = this.message(messageId);
    if (!message) return undefined;
    const { instanceId, author, parentAuthor, status, visibility, removed } = message;
    return { messageId, instanceId, author, parentAuthor, status, visibility, removed };
  }

  /**
   * One page of an instance's history as this reader may read it: the newest `limit`
   * messages before the cursor, returned newest last; removed messages never.
   */
  history(instanceId: string, reader: ChatReader, query: HistoryQuery): { messages: MessageRecord[]; hasMore: boolean } {
    const threads = query.parent === null ? 'top' : query.parent === undefined ? 'all' : 'thread';
    const key = `chat:q:history:${threads}:${query.heldOnly ? 'held' : 'any'}:${query.withReplies ? 'replies' : 'plain'}`;
    const replies = query.withReplies ? `, (SELECT COUNT(*) FROM chat_messages r WHERE r.parent = m.message_id AND r.removed = 0 AND ${READABLE('r')}) AS replies` : '';
    const where = [
      'm.instance_id = @instance',
      'm.removed = 0',
      'm.position < @before',
      READABLE('m'),
      ...(threads === 'top' ? ['m.parent IS NULL'] : threads === 'thread' ? ['m.parent = @parent'] : []),
      ...(query.heldOnly ? ["m.status = 'held'"] : []),
    ];
    const sql = `SELECT m.*${replies} FROM chat_messages m WHERE ${where.join(' AND ')} ORDER BY m.position DESC LIMIT @limit`;
    const rows = statement(this.db, key, sql).all({
      instance: instanceId,
      before: query.before ?? Number.MAX_SAFE_INTEGER,
      moderator: reader.moderator ? 1 : 0,
      subject: reader.subject,
      limit: query.limit + 1,
      ...(threads === 'thread' ? { parent: query.parent } : {}),
    }) as MessageRow[];
    const hasMore = rows.length > query.limit;
    return { messages: rows.slice(0, query.limit).reverse().map(messageOf), hasMore };
  }

  instance(instanceId: string): InstanceRecord | undefined {
    const row = statement(this.db, 'chat:q:instance', 'SELECT * FROM chat_instances WHERE instance_id = ?').get(instanceId) as InstanceRow | undefined;
    return row && this.instanceOf(row);
  }

  /** The item's conversations someone is in now, oldest first. */
  instancesWith(itemId: string, user: string): InstanceRecord[] {
    const rows = statement(
      this.db,
      'chat:q:instances-with',
      `SELECT i.* FROM chat_instances i JOIN chat_participants p ON p.instance_id = i.instance_id
       WHERE i.item_id = ? AND p.user_id = ? AND p.left_at IS NULL AND i.status != 'closed' ORDER BY i.started_at, i.instance_id`,
    ).all(itemId, user) as InstanceRow[];
    return rows.map((row) => this.instanceOf(row));
  }

  /** The item's conversations that have not ended (the moderator's and operator's list), oldest first. */
  openInstances(itemId: string): InstanceRecord[] {
    const rows = statement(this.db, 'chat:q:open-instances', "SELECT * FROM chat_instances WHERE item_id = ? AND main = 0 AND status != 'closed' ORDER BY started_at, instance_id").all(
      itemId,
    ) as InstanceRow[];
    return rows.map((row) => this.instanceOf(row));
  }

  /** The item's bans, lapsed ones too (their end says so), oldest first. */
  bans(itemId: string): { user: string; until: number | null; reason: string | null; by: string; bannedAt: number }[] {
    const rows = statement(this.db, 'chat:q:bans', 'SELECT * FROM chat_bans WHERE item_id = ? ORDER BY banned_at, user_id').all(itemId) as {
      user_id: string;
      until: number | null;
      reason: string | null;
      banned_by: string;
      banned_at: number;
    }[];
    return rows.map((row) => ({ user: row.user_id, until: row.until, reason: row.reason, by: row.banned_by, bannedAt: row.banned_at }));
  }

  private instanceOf(row: InstanceRow): InstanceRecord {
    const participants = statement(this.db, 'chat:q:participants', 'SELECT user_id FROM chat_participants WHERE instance_id = ? AND left_at IS NULL ORDER BY added_position, added_index')
      .all(row.instance_id)
      .map((entry) => (entry as { user_id: string }).user_id);
    return {
      instanceId: row.instance_id,
      itemId: row.item_id,
      main: row.main === 1,
      mode: row.mode,
      status: row.status,
      startedBy: row.started_by,
      operator: row.operator,
      startedAt: row.started_at,
      participants,
    };
  }
}
