import type { ChatModeration } from '../../../protocol/topics/chat.js';
import type { ChatMessageStatus, ChatVisibility } from './chat.events.js';

/**
 * Who reads a message (PROTOCOL.md section 8), decided once when it is posted and recorded
 * on it, then applied alike to pushes and to history:
 *
 * - Pre-moderation (any chat): a message of someone who is not a moderator is `held` until a
 *   moderator publishes it; meanwhile it reaches its author and the moderators.
 * - A private chat (the item's own chat with `private: true`): a participant's message
 *   reaches its author and the moderators; a moderator's top-level message reaches everyone;
 *   a reply (anyone's) reaches the requester (the parent's author), the replier and the
 *   moderators.
 * - Otherwise (a public chat, or a conversation started with consumer_chat_start, which is
 *   private by who is in it): everyone who may read the chat.
 *
 * Publishing a held or restricted message makes it `visible` to everyone.
 */

export interface PostingRules {
  moderation: ChatModeration;
  /** The item's `private` flag; it shapes the item's own chat only. */
  private: boolean;
}

export interface Placement {
  status: ChatMessageStatus;
  visibility: ChatVisibility;
}

export function placementOf(options: { main: boolean; rules: PostingRules; authorIsModerator: boolean; reply: boolean }): Placement {
  const { main, rules, authorIsModerator, reply } = options;
  if (rules.moderation === 'pre-moderate' && !authorIsModerator) return { status: 'held', visibility: 'restricted' };
  if (!main || !rules.private) return { status: 'visible', visibility: 'everyone' };
  if (reply) return { status: 'visible', visibility: 'restricted' };
  return { status: 'visible', visibility: authorIsModerator ? 'everyone' : 'restricted' };
}

/** Someone reading a chat: a subject (a user id, `organisation:<id>`, or `connection:<id>` for an anonymous socket). */
export interface ChatReader {
  subject: string;
  moderator: boolean;
}

/** A message as the rule needs it. */
export interface MessageAudience {
  author: string;
  parentAuthor: string | null;
  visibility: ChatVisibility;
}

/** Whether the reader (already admitted to the chat) may read the message. */
export function mayRead(reader: ChatReader, message: MessageAudience): boolean {
  return message.visibility === 'everyone' || reader.moderator || reader.subject === message.author || reader.subject === message.parentAuthor;
}
