import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { ChatMessagePostedData } from './domain/index.js';
import type { InstanceRecord, MessageRecord } from './projection.js';

/**
 * What messages and conversations look like on the wire (answers and pushes alike),
 * Extream's way: snake_case fields, ISO 8601 UTC times. `text` is the text as sent.
 */

export interface MessageView {
  id: string;
  item: string;
  instance: string;
  author: string;
  author_name: string;
  text: string;
  parent: string | null;
  status: 'visible' | 'held';
  /** `everyone`, or `restricted`: its author, the parent's author and the moderators. */
  visibility: 'everyone' | 'restricted';
  /** Its log position: the history cursor (`before`), and the `seq` of its push. */
  position: number;
  posted_at: string;
  published_at: string | null;
  /** Thread lists (a forum's top level): the replies the reader may read. */
  replies?: number;
}

type MessageSource = (MessageRecord | (ChatMessagePostedData & { position: number; publishedAt?: number | null })) & { replies?: number };

export function messageView(message: MessageSource): MessageView {
  return {
    id: message.messageId,
    item: message.itemId,
    instance: message.instanceId,
    author: message.author,
    author_name: message.authorName,
    text: message.text,
    parent: message.parent,
    status: message.status,
    visibility: message.visibility,
    position: message.position,
    posted_at: formatExtreamDateTime(message.postedAt)!,
    published_at: formatExtreamDateTime(message.publishedAt ?? null),
    ...(message.replies === undefined ? {} : { replies: message.replies }),
  };
}

export interface InstanceView {
  id: string;
  item: string;
  /** The item's own chat (its id is the item's). */
  main: boolean;
  mode: string;
  /** open, or (round-robin) waiting for an operator / active; closed once everyone left. */
  status: string;
  participants: string[];
  started_by: string | null;
  operator: string | null;
  started_at: string | null;
}

export function instanceView(instance: InstanceRecord): InstanceView {
  return {
    id: instance.instanceId,
    item: instance.itemId,
    main: instance.main,
    mode: instance.mode,
    status: instance.status,
    participants: instance.participants,
    started_by: instance.startedBy,
    operator: instance.operator,
    started_at: formatExtreamDateTime(instance.startedAt),
  };
}

/** The item's own chat before its first event: open to whoever joins the item. */
export function itemChatView(itemId: string): InstanceView {
  return { id: itemId, item: itemId, main: true, mode: 'group', status: 'open', participants: [], started_by: null, operator: null, started_at: null };
}

/** A history page: `before` is the cursor for the next older page (null when there is none before). */
export interface PageView {
  before: number | null;
  hasMore: boolean;
}

export function pageOf(messages: readonly MessageRecord[], hasMore: boolean): PageView {
  return { before: messages[0]?.position ?? null, hasMore };
}
