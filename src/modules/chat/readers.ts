import type { ChatFollower } from './audiences.js';
import { notFound, type ChatItem } from './gate.js';
import type { ChatDirectory, InstanceRecord } from './projection.js';

/**
 * Who may read a conversation started with consumer_chat_start (the item's own chat is
 * whoever the item admits): its participants, the item's moderators, and, of a round-robin
 * chat, the item's operators (the desk that answers it: one of them takes it).
 */
export function mayReadInstance(instance: InstanceRecord, follower: ChatFollower): boolean {
  if (instance.participants.includes(follower.subject) || follower.moderator) return true;
  return instance.mode === 'round-robin' && follower.operator;
}

/**
 * The conversation `instanceId` of the item as this follower may read it: undefined for the
 * item's own chat, the instance record otherwise. One the follower may not read is NOT_FOUND,
 * like one that does not exist: whether a private conversation exists is not for outsiders.
 */
export function readableInstance(directory: ChatDirectory, chat: ChatItem, instanceId: string, follower: ChatFollower): InstanceRecord | undefined {
  if (instanceId === chat.item.itemId) return undefined;
  const instance = directory.instance(instanceId);
  if (!instance || instance.itemId !== chat.item.itemId || !mayReadInstance(instance, follower)) throw notFound('instance', 'unknown chat instance');
  return instance;
}

/** The metadata every command's events carry (who, from which socket, which request), and its time. */
export interface ChatCommandContext {
  metadata: { actor: string; connection: string; correlationId: string };
  now: number;
}

/** What a command topic answers: the log position of its last event (the receipt), and the response. */
export interface ChatOutcome {
  position: number | undefined;
  status?: 200 | 201;
  response: unknown;
  /** Added to the result's `meta` (a read's `requiresLogin`, from its event). */
  meta?: Record<string, unknown>;
}
