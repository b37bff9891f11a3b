import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { ChatCommand, ItemBans, KnownMessage } from './chat.commands.js';
import type { ChatEvent, ChatInstanceStartedData } from './chat.events.js';
import type { ChatContext, chatMachine } from './chat.machine.js';
import { placementOf } from './visibility.js';

export type ChatSnapshot = SnapshotFrom<typeof chatMachine>;

/** Where a ban stands at `now`: undefined when the user may post, else its end (null: none). */
export function banOf(bans: ItemBans, user: string, now: number): number | null | undefined {
  if (!Object.hasOwn(bans, user)) return undefined;
  const until = bans[user]!;
  return until !== null && until <= now ? undefined : until;
}

/** A banned user's refusal (Extream's `reason: locked`), saying until when. */
export function bannedError(until: number | null): AppError {
  const when = until === null ? null : new Date(until).toISOString();
  return new AppError('FORBIDDEN', when === null ? 'you are banned from this chat' : `you are banned from this chat until ${when}`, { reason: 'locked', until: when });
}

const unknownInstance = (): AppError => new AppError('NOT_FOUND', 'unknown chat instance', { errors: [{ path: 'instance', message: 'unknown chat instance' }] });
const unknownMessage = (path: string): AppError => new AppError('NOT_FOUND', 'unknown message', { errors: [{ path, message: 'unknown message' }] });
const ended = (): AppError => new AppError('CONFLICT', 'this conversation has ended: everyone left it');

/** The item's own chat is named by the item's id; it exists from its first event on. */
const isItemChat = (instanceId: string, itemId: string): boolean => instanceId === itemId;

function itemChatStarted(instanceId: string, startedBy: string, now: number): ChatEvent {
  const data: ChatInstanceStartedData = { instanceId, itemId: instanceId, main: true, mode: 'group', participants: [], startedBy, startedAt: now };
  return { type: 'ChatInstanceStarted', data };
}

/** A message of this conversation, not removed: anything else is unknown here. */
function liveMessage(message: KnownMessage | undefined, context: ChatContext, path: string): KnownMessage {
  if (!message || message.instanceId !== context.instanceId || message.removed) throw unknownMessage(path);
  return message;
}

/** Checks a command against the conversation's state and returns the events it causes. */
export function decideChat(command: ChatCommand, snapshot: ChatSnapshot): ChatEvent[] {
  const { context } = snapshot;
  const started = !snapshot.matches('none');
  // A conversation everyone left takes no more messages or people; a moderator may still remove what it holds.
  if (snapshot.matches('closed')) {
    if (command.type === 'LeaveChat') return [];
    if (command.type !== 'RemoveMessage') throw ended();
  }
  switch (command.type) {
    case 'StartChat': {
      if (started) throw new AppError('CONFLICT', 'this chat instance exists already');
      const until = banOf(command.itemBans, command.startedBy, command.now);
      if (until !== undefined) throw bannedError(until);
      const { instanceId, itemId, mode, participants, startedBy, now } = command;
      return [{ type: 'ChatInstanceStarted', data: { instanceId, itemId, main: false, mode, participants: [...new Set(participants)], startedBy, startedAt: now } }];
    }
    case 'PostMessage': {
      const { messageId, instanceId, itemId, author, authorName, authorIsModerator, text, rules, now } = command;
      const main = isItemChat(instanceId, itemId);
      if (!started && !main) throw unknownInstance();
      const until = banOf(main ? context.bans : command.itemBans, author, now);
      if (until !== undefined) throw bannedError(until);
      if (!main && !context.participants.includes(author)) {
        const waiting = context.mode === 'round-robin' && context.operator === null;
        throw new AppError('FORBIDDEN', waiting ? 'take this chat first (client_chat_activate)' : 'you are not a participant of this conversation', { reason: 'unauthorized' });
      }
      const parent = command.parentId === null ? null : liveMessage(command.parent ?? undefined, { ...context, instanceId }, 'parent');
      const placement = placementOf({ main, rules, authorIsModerator, reply: parent !== null });
      const posted: ChatEvent = {
        type: 'ChatMessagePosted',
        data: { messageId, instanceId, itemId, author, authorName, text, parent: parent?.messageId ?? null, parentAuthor: parent?.author ?? null, ...placement, postedAt: now },
      };
      return started ? [posted] : [itemChatStarted(instanceId, author, now), posted];
    }
    case 'PublishMessage': {
      if (!started) throw unknownMessage('message');
      const message = liveMessage(command.message, context, 'message');
      // Out for everyone already: publishing again changes nothing.
      if (message.status === 'visible' && message.visibility === 'everyone') return [];
      return [{ type: 'ChatMessagePublished', data: { messageId: message.messageId, instanceId: context.instanceId!, itemId: context.itemId!, by: command.by, publishedAt: command.now } }];
    }
    case 'RemoveMessage': {
      if (!started) throw unknownMessage('message');
      const message = command.message;
      if (!message || message.instanceId !== context.instanceId) throw unknownMessage('message');
      if (message.author !== command.by && !command.byModerator) {
        throw new AppError('FORBIDDEN', 'only its author or a moderator may remove a message', { reason: 'unauthorized' });
      }
      // Removing twice is removing once.
      if (message.removed) return [];
      const { messageId, author, parentAuthor, visibility } = message;
      return [
        {
          type: 'ChatMessageRemoved',
          data: { messageId, instanceId: context.instanceId!, itemId: context.itemId!, author, parentAuthor, visibility, by: command.by, reason: command.reason, removedAt: command.now },
        },
      ];
    }
    case 'AddParticipants': {
      if (!started) throw unknownInstance();
      if (context.main) throw new AppError('BAD_REQUEST', "the item's chat is everyone who joins the item: add people to a conversation started with consumer_chat_start");
      if (!context.participants.includes(command.by) && !command.byModerator) {
        throw new AppError('FORBIDDEN', 'only a participant or a moderator may add people to this conversation', { reason: 'unauthorized' });
      }
      const until = banOf(command.itemBans, command.by, command.now);
      if (until !== undefined) throw bannedError(until);
      const users = [...new Set(command.users)].filter((user) => !context.participants.includes(user));
      if (users.length === 0) return [];
      if (context.participants.length + users.length > command.maxParticipants) {
        throw new AppError('LIMIT_EXCEEDED', `a conversation has at most ${command.maxParticipants} participants`);
      }
      return [{ type: 'ChatParticipantsAdded', data: { instanceId: context.instanceId!, itemId: context.itemId!, users, by: command.by, addedAt: command.now } }];
    }
    case 'LeaveChat': {
      if (!started) throw unknownInstance();
      // Not in it (or gone already): leaving changes nothing.
      if (context.main || !context.participants.includes(command.user)) return [];
      const { instanceId, itemId } = context as { instanceId: string; itemId: string };
      const left: ChatEvent = { type: 'ChatParticipantLeft', data: { instanceId, itemId, user: command.user, leftAt: command.now } };
      return context.participants.length === 1 ? [left, { type: 'ChatInstanceClosed', data: { instanceId, itemId, closedAt: command.now } }] : [left];
    }
    case 'TakeChat': {
      if (!started) throw unknownInstance();
      if (context.mode !== 'round-robin') throw new AppError('BAD_REQUEST', 'only a round-robin chat is taken by an operator', { errors: [{ path: 'instance', message: 'not a round-robin chat' }] });
      if (context.operator === command.operator) return [];
      if (context.operator !== null) throw new AppError('CONFLICT', 'another operator took this chat');
      return [{ type: 'ChatInstanceActivated', data: { instanceId: context.instanceId!, itemId: context.itemId!, operator: command.operator, activatedAt: command.now } }];
    }
    case 'BanUser': {
      if (command.targetIsModerator) throw new AppError('CONFLICT', 'a moderator of this chat cannot be banned');
      const { itemId, user, until, reason, by, now } = command;
      if (until !== null && until <= now) throw new AppError('BAD_REQUEST', 'until: must be in the future', { errors: [{ path: 'until', message: 'must be in the future' }] });
      const banned: ChatEvent = { type: 'ChatUserBanned', data: { itemId, instanceId: itemId, user, until, by, reason, bannedAt: now } };
      return started ? [banned] : [itemChatStarted(itemId, by, now), banned];
    }
    case 'UnbanUser': {
      if (!started || banOf(context.bans, command.user, command.now) === undefined) return [];
      const { itemId, user, by, now } = command;
      return [{ type: 'ChatUserUnbanned', data: { itemId, instanceId: itemId, user, by, unbannedAt: now } }];
    }
  }
}
