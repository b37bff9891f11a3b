import { AppError, type Principal } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { ChatMode, ChatModeration } from '../../protocol/topics/chat.js';
import { ITEM_CONFIGURATIONS } from '../../protocol/topics/itineraries.js';
import type { ItemModulePorts, JoinedItem } from '../itineraries/index.js';
import { loginRequired } from '../organisations/index.js';
import type { ChatFollower } from './audiences.js';

/** A chat or forum item's configuration as the chat reads it, defaults filled in. */
export interface ChatSettings {
  forum: boolean;
  moderation: ChatModeration;
  moderators: ReadonlySet<string>;
  threads: boolean;
  private: boolean;
  mode: ChatMode;
  participants: ReadonlySet<string>;
  participantsOnly: boolean;
  operators: ReadonlySet<string>;
}

export interface ChatItem {
  item: JoinedItem;
  settings: ChatSettings;
}

export const CHAT_ITEM_TYPES: ReadonlySet<string> = new Set(['chat', 'forum']);

export const notFound = (path: string, message: string): AppError => new AppError('NOT_FOUND', message, { errors: [{ path, message }] });
export const badField = (path: string, message: string): AppError => new AppError('BAD_REQUEST', `${path}: ${message}`, { errors: [{ path, message }] });

/** The settings of a chat or forum item; its configuration was checked by the item's schema when written. */
export function chatSettingsOf(item: Pick<JoinedItem, 'type' | 'configuration'>): ChatSettings {
  const parsed = ITEM_CONFIGURATIONS.chat.safeParse(item.configuration);
  // A stored configuration that no longer fits (a schema tightened since) is the operator's problem, not the client's.
  if (!parsed.success) throw new AppError('INTERNAL', `stored ${item.type} configuration does not fit its schema`);
  const chat = parsed.data;
  const forum = item.type === 'forum';
  return {
    forum,
    moderation: chat.moderation ?? 'trust',
    moderators: new Set(chat.moderators ?? []),
    // A forum is threads first.
    threads: chat.threads ?? forum,
    private: chat.private ?? false,
    mode: chat.mode ?? 'group',
    participants: new Set(chat.participants ?? []),
    participantsOnly: chat.participants_only ?? false,
    operators: new Set(chat.operators ?? []),
  };
}

/** Replies need threads, except in a private chat, where they are how moderators answer. */
export const repliesAllowed = (settings: ChatSettings): boolean => settings.threads || settings.private;

/** Who a principal posts and reads as: a user's id, `organisation:<id>`, or (reading only) the socket. */
export function subjectOf(principal: Principal, connectionId: string): string {
  if (principal.kind === 'user') return principal.userId;
  if (principal.kind === 'organisation') return `organisation:${principal.organisationId}`;
  if (principal.kind === 'guest') return `guest:${principal.invitationId}`;
  return `connection:${connectionId}`;
}

/** Throws UNAUTHORIZED unless a user or an organisation's credential speaks: who may post, start or moderate. */
export function requirePoster(principal: Principal): void {
  if (principal.kind !== 'user' && principal.kind !== 'organisation') throw loginRequired(principal);
}

export type ChatGatePorts = Pick<ItemModulePorts, 'items' | 'events' | 'access' | 'users'>;

/**
 * The checks every chat command and read shares: the item (a chat or a forum), its event (a
 * private event is for its organisation's members), `participants_only`, and who is a
 * moderator or an operator. Items' parsed settings are kept in a small cache, dropped by the
 * processors when the item changes, so a post does not parse a configuration.
 */
export class ChatGate {
  private readonly cache = new Map<string, ChatItem>();

  constructor(
    private readonly ports: ChatGatePorts,
    private readonly cacheSize: number,
  ) {}

  /** The chat or forum item: NOT_FOUND when unknown or removed, BAD_REQUEST for an item of another type. */
  item(itemId: string): ChatItem {
    const cached = this.cache.get(itemId);
    if (cached) return cached;
    const item = this.ports.items.get(itemId);
    if (!item) throw notFound('id', 'unknown item');
    if (!CHAT_ITEM_TYPES.has(item.type)) throw badField('id', `item ${itemId} is of type ${item.type}, not chat or forum`);
    const chat = { item, settings: chatSettingsOf(item) };
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(itemId, chat);
    return chat;
  }

  /** The item changed or went: its settings are read again on the next command. */
  forget(itemId: string): void {
    this.cache.delete(itemId);
  }

  /**
   * Throws unless the principal may read the item's chat: its event exists and is public, or
   * the principal is a member of the organisation; and, for `participants_only`, it is a
   * participant, a moderator or an operator. The item join did the event part already.
   */
  admit(principal: Principal, chat: ChatItem, eventChecked = false): void {
    if (!eventChecked) {
      const event = this.ports.events.get(chat.item.eventId);
      if (!event) throw notFound('id', 'unknown item');
      if (!event.public && !this.ports.access.isMember(principal, event.organisationId)) {
        if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw loginRequired(principal);
        throw new AppError('FORBIDDEN', "this event is for its organisation's members", { reason: 'unauthorized' });
      }
    }
    if (!chat.settings.participantsOnly) return;
    if (principal.kind === 'user' && chat.settings.participants.has(principal.userId)) return;
    if (this.isModerator(principal, chat) || this.isOperator(principal, chat)) return;
    if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw loginRequired(principal);
    throw new AppError('FORBIDDEN', 'this chat is for its participants', { reason: 'unmet_criteria' });
  }

  isModerator(principal: Principal, chat: ChatItem): boolean {
    if (principal.kind === 'user' && chat.settings.moderators.has(principal.userId)) return true;
    return this.ports.access.can(principal, chat.item.organisationId, 'moderate_chat');
  }

  isOperator(principal: Principal, chat: ChatItem): boolean {
    if (principal.kind === 'user' && chat.settings.operators.has(principal.userId)) return true;
    return this.ports.access.can(principal, chat.item.organisationId, 'moderate_chat');
  }

  /** Whether a user (by id, not signed in here) moderates the item: a moderator is never banned. */
  userModerates(userId: string, chat: ChatItem): boolean {
    if (chat.settings.moderators.has(userId)) return true;
    const user = this.ports.users.get(userId);
    if (!user) return false;
    const principal: Principal = { kind: 'user', userId, organisationId: user.organisationId, groups: [...user.groups], external: false };
    return this.ports.access.can(principal, chat.item.organisationId, 'moderate_chat');
  }

  /** Throws FORBIDDEN (`reason: unauthorized`) unless the principal moderates the item's chat. */
  requireModerator(principal: Principal, chat: ChatItem): void {
    requirePoster(principal);
    if (!this.isModerator(principal, chat)) throw new AppError('FORBIDDEN', "this needs a moderator of the item's chat", { reason: 'unauthorized' });
  }

  /**
   * The follower a connection is for this item's chat, worked out now; a refresh passes the
   * one it was, whose name (a lookup of the user) stays.
   */
  follower(client: Pick<ClientConnection, 'id' | 'principal'>, chat: ChatItem, was?: ChatFollower): ChatFollower {
    const { principal } = client;
    const subject = subjectOf(principal, client.id);
    return {
      subject,
      userId: principal.kind === 'user' ? principal.userId : null,
      name: was?.subject === subject ? was.name : this.nameOf(principal, subject),
      moderator: this.isModerator(principal, chat),
      operator: this.isOperator(principal, chat),
    };
  }

  /** The name a message shows: the user's username, else the subject. */
  nameOf(principal: Principal, subject: string): string {
    if (principal.kind === 'user') return this.ports.users.get(principal.userId)?.username ?? principal.userId;
    return subject;
  }

  /** Whether the item's event asks for a signed-in reader (`meta.requiresLogin` of the reads). */
  requiresLogin(chat: ChatItem): boolean {
    return this.ports.events.get(chat.item.eventId)?.public !== true;
  }

  /** Throws BAD_REQUEST naming the first id that is no known user. */
  requireUsers(userIds: readonly string[], path: string): void {
    userIds.forEach((userId, index) => {
      if (!this.knowsUser(userId)) throw badField(`${path}.${index}`, `unknown user ${userId}`);
    });
  }

  knowsUser(userId: string): boolean {
    return this.ports.users.get(userId) !== undefined;
  }
}
