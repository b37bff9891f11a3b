import type { ChatMessageStatus, ChatVisibility } from './chat.events.js';
import type { PostingRules } from './visibility.js';

/**
 * Commands on a conversation's stream. They carry `now`, and what the module found out before
 * (who is a moderator, a message's parent from the read model, the item's bans for a started
 * conversation), so decide reads no clock, no read model and no permission table.
 */

/** The item's bans (user -> until, null for no end), as its own stream holds them. */
export type ItemBans = Readonly<Record<string, number | null>>;

/** A message a command is about, as the read model holds it (undefined: no such message). */
export interface KnownMessage {
  messageId: string;
  instanceId: string;
  author: string;
  parentAuthor: string | null;
  status: ChatMessageStatus;
  visibility: ChatVisibility;
  removed: boolean;
}

export type ChatCommand =
  | {
      type: 'StartChat';
      instanceId: string;
      itemId: string;
      mode: 'direct' | 'round-robin';
      /** The starter first; for a direct chat also the people it is with. */
      participants: string[];
      startedBy: string;
      itemBans: ItemBans;
      now: number;
    }
  | {
      type: 'PostMessage';
      messageId: string;
      instanceId: string;
      itemId: string;
      author: string;
      authorName: string;
      authorIsModerator: boolean;
      text: string;
      /** The message replied to (looked up by its id); null for a top-level message. */
      parent: KnownMessage | undefined | null;
      /** The parent's id as sent, for the refusal naming it. */
      parentId: string | null;
      rules: PostingRules;
      /** Read for a started conversation; the item's own chat decides on its own bans. */
      itemBans: ItemBans;
      now: number;
    }
  | { type: 'PublishMessage'; messageId: string; message: KnownMessage | undefined; by: string; now: number }
  | { type: 'RemoveMessage'; messageId: string; message: KnownMessage | undefined; by: string; byModerator: boolean; reason: string | null; now: number }
  | { type: 'AddParticipants'; users: string[]; by: string; byModerator: boolean; itemBans: ItemBans; maxParticipants: number; now: number }
  | { type: 'LeaveChat'; user: string; now: number }
  | { type: 'TakeChat'; operator: string; now: number }
  | { type: 'BanUser'; itemId: string; user: string; until: number | null; reason: string | null; by: string; targetIsModerator: boolean; now: number }
  | { type: 'UnbanUser'; itemId: string; user: string; by: string; now: number };
