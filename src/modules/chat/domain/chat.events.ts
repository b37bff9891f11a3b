import type { RecordedEvent } from '../../../core/index.js';
import type { ChatMode } from '../../../protocol/topics/chat.js';

/**
 * Events of one chat conversation (PROTOCOL.md section 8), one stream per instance,
 * `chat-<instanceId>`. An item's own chat (everyone who joins the item) is the instance named
 * by the item's id; a conversation started with consumer_chat_start (direct, or round-robin
 * with an operator) gets a UUID. Bans are the item's: they live on the item's own stream.
 * Times are epoch milliseconds.
 *
 * Who posts or acts is a subject: a user's id, or `organisation:<id>` for an organisation's
 * credential. A message records who may read it as it was decided when posted (`status`,
 * `visibility`, `parentAuthor`), so pushes and history need no other state to filter it.
 */

export const CHAT_CATEGORY = 'chat';

/** `held`: waiting for a moderator (pre-moderation); `visible`: out. */
export type ChatMessageStatus = 'visible' | 'held';
/** `everyone` who may read the chat, or `restricted`: the author, the parent's author and the moderators. */
export type ChatVisibility = 'everyone' | 'restricted';

export interface ChatInstanceStartedData {
  instanceId: string;
  itemId: string;
  /** The item's own chat (instanceId = itemId), made by its first event. */
  main: boolean;
  mode: ChatMode;
  /** The conversation's people (none for the item's own chat: whoever joins the item). */
  participants: string[];
  startedBy: string;
  startedAt: number;
}

export interface ChatMessagePostedData {
  messageId: string;
  instanceId: string;
  itemId: string;
  author: string;
  authorName: string;
  /** Exactly as sent: never sanitised, trimmed or interpreted. */
  text: string;
  parent: string | null;
  /** The parent's author (the requester a reply answers), null for a top-level message. */
  parentAuthor: string | null;
  status: ChatMessageStatus;
  visibility: ChatVisibility;
  postedAt: number;
}

export interface ChatMessagePublishedData {
  messageId: string;
  instanceId: string;
  itemId: string;
  by: string;
  publishedAt: number;
}

export interface ChatMessageRemovedData {
  messageId: string;
  instanceId: string;
  itemId: string;
  /** Who could read it when it went (its removal is pushed to them alone). */
  author: string;
  parentAuthor: string | null;
  visibility: ChatVisibility;
  by: string;
  reason: string | null;
  removedAt: number;
}

export interface ChatParticipantsAddedData {
  instanceId: string;
  itemId: string;
  users: string[];
  by: string;
  addedAt: number;
}

export interface ChatParticipantLeftData {
  instanceId: string;
  itemId: string;
  user: string;
  leftAt: number;
}

export interface ChatInstanceActivatedData {
  instanceId: string;
  itemId: string;
  operator: string;
  activatedAt: number;
}

export interface ChatInstanceClosedData {
  instanceId: string;
  itemId: string;
  closedAt: number;
}

export interface ChatUserBannedData {
  itemId: string;
  instanceId: string;
  user: string;
  /** Null: until unbanned. */
  until: number | null;
  by: string;
  reason: string | null;
  bannedAt: number;
}

export interface ChatUserUnbannedData {
  itemId: string;
  instanceId: string;
  user: string;
  by: string;
  unbannedAt: number;
}

export type ChatEvent =
  | { type: 'ChatInstanceStarted'; data: ChatInstanceStartedData }
  | { type: 'ChatMessagePosted'; data: ChatMessagePostedData }
  | { type: 'ChatMessagePublished'; data: ChatMessagePublishedData }
  | { type: 'ChatMessageRemoved'; data: ChatMessageRemovedData }
  | { type: 'ChatParticipantsAdded'; data: ChatParticipantsAddedData }
  | { type: 'ChatParticipantLeft'; data: ChatParticipantLeftData }
  | { type: 'ChatInstanceActivated'; data: ChatInstanceActivatedData }
  | { type: 'ChatInstanceClosed'; data: ChatInstanceClosedData }
  | { type: 'ChatUserBanned'; data: ChatUserBannedData }
  | { type: 'ChatUserUnbanned'; data: ChatUserUnbannedData };

export type RecordedChatEvent = RecordedEvent & ChatEvent;

/** Every ChatEvent type; `satisfies` fails to compile when the union gains one not listed. */
export const CHAT_EVENT_TYPES = Object.keys({
  ChatInstanceStarted: true,
  ChatMessagePosted: true,
  ChatMessagePublished: true,
  ChatMessageRemoved: true,
  ChatParticipantsAdded: true,
  ChatParticipantLeft: true,
  ChatInstanceActivated: true,
  ChatInstanceClosed: true,
  ChatUserBanned: true,
  ChatUserUnbanned: true,
} satisfies Record<ChatEvent['type'], true>) as readonly ChatEvent['type'][];

const EVENT_TYPES: ReadonlySet<string> = new Set(CHAT_EVENT_TYPES);
const STREAM_PREFIX = `${CHAT_CATEGORY}-`;

/** A chat event: on a `chat-<id>` stream and of one of its types (the log is the only writer). */
export function isChatEvent(event: RecordedEvent): event is RecordedChatEvent {
  return EVENT_TYPES.has(event.type) && event.streamId.startsWith(STREAM_PREFIX);
}
