import type { ClientConnection } from '../../edge/index.js';
import type { ChatJoin, ChatModeratorGet, ChatOpen } from '../../protocol/topics/chat.js';
import type { JoinedItem } from '../itineraries/index.js';
import { readableInstance, type ChatOutcome } from './readers.js';
import type { ChatAudiences, ChatFollower } from './audiences.js';
import type { ChatConfig } from './config.js';
import type { ChatGate, ChatItem } from './gate.js';
import type { ChatDirectory, HistoryQuery, InstanceRecord } from './projection.js';
import { instanceView, itemChatView, messageView, pageOf, type InstanceView } from './views.js';

export interface ChatReadsDependencies {
  directory: ChatDirectory;
  audiences: ChatAudiences;
  gate: ChatGate;
  config: Pick<ChatConfig, 'chatHistoryPageSize'>;
}

interface PageRequest {
  before?: number | undefined;
  limit?: number | undefined;
  parent?: string | undefined;
}

/**
 * The reads of a chat, each of which also makes the socket follow what it read (so it gets
 * the pushes from then on): the item join (`consumer_chat_get` / `consumer_forum_get`),
 * `consumer_chat_activate` (a conversation, or an older page), and the moderator view
 * `client_chat_get`. History is the read model's, newest last, paged by log position, and
 * filtered for the reader by the rule every push follows (domain/visibility.ts).
 */
export class ChatReads {
  constructor(private readonly deps: ChatReadsDependencies) {}

  /**
   * What the chat adds to the item join's answer: the newest page, or the one `request` asks for (a forum: its threads, each
   * with its reply count), the item's own chat, whether the reader moderates it, and the
   * conversations the reader is in (an operator: also the round-robin chats waiting).
   */
  join(client: ClientConnection, item: JoinedItem, request: ChatJoin): Record<string, unknown> {
    const chat = this.deps.gate.item(item.itemId);
    // The join admitted the event already; participants_only is the chat's own rule.
    this.deps.gate.admit(client.principal, chat, true);
    const follower = this.follow(client, chat, item.itemId);
    return { ...this.page(chat, item.itemId, follower, request), instances: this.instancesOf(chat, follower).map(instanceView) };
  }

  /** `consumer_chat_activate {id, instance?, before?, limit?, parent?}`: a read (no receipt), login needed for a private event only. */
  open(client: ClientConnection, data: ChatOpen): ChatOutcome {
    const chat = this.deps.gate.item(data.id);
    this.deps.gate.admit(client.principal, chat);
    const instanceId = data.instance ?? data.id;
    const follower = this.deps.gate.follower(client, chat);
    readableInstance(this.deps.directory, chat, instanceId, follower);
    this.deps.audiences.join(instanceId, chat.item, client, follower);
    return { position: undefined, response: this.page(chat, instanceId, follower, data), meta: { requiresLogin: this.deps.gate.requiresLogin(chat) } };
  }

  /**
   * `client_chat_get {id, instance?, status?, before?, limit?, parent?}`: held and restricted
   * messages too, the item's open conversations and its bans. For moderators; an operator
   * (not a moderator) reads it as a participant would, with the round-robin chats waiting.
   */
  moderatorView(client: ClientConnection, data: ChatModeratorGet): ChatOutcome {
    const { gate, directory } = this.deps;
    const chat = gate.item(data.id);
    const follower = gate.follower(client, chat);
    if (!follower.moderator && !follower.operator) gate.requireModerator(client.principal, chat);
    const instanceId = data.instance ?? data.id;
    readableInstance(directory, chat, instanceId, follower);
    this.deps.audiences.join(instanceId, chat.item, client, follower);
    const answer = this.page(chat, instanceId, follower, data, data.status === 'held' && follower.moderator);
    const instances = follower.moderator ? directory.openInstances(chat.item.itemId) : this.instancesOf(chat, follower);
    const bans = follower.moderator
      ? directory.bans(chat.item.itemId).map((ban) => ({ user: ban.user, until: ban.until === null ? null : new Date(ban.until).toISOString(), reason: ban.reason, by: ban.by }))
      : [];
    return { position: undefined, response: { ...answer, instances: instances.map(instanceView), bans } };
  }

  private follow(client: ClientConnection, chat: ChatItem, instanceId: string): ChatFollower {
    const follower = this.deps.gate.follower(client, chat);
    this.deps.audiences.join(instanceId, chat.item, client, follower);
    return follower;
  }

  private page(chat: ChatItem, instanceId: string, follower: ChatFollower, request: PageRequest, heldOnly = false): Record<string, unknown> {
    const { directory, config } = this.deps;
    // A larger `limit` gets the configured page: the bound is the gateway's, not the client's.
    const limit = Math.min(request.limit ?? config.chatHistoryPageSize, config.chatHistoryPageSize);
    // A forum's own chat lists its threads (top-level messages); a thread is read by its parent.
    const threads = chat.settings.forum && instanceId === chat.item.itemId && request.parent === undefined;
    const query: HistoryQuery = { before: request.before, limit, parent: threads ? null : request.parent, heldOnly, withReplies: threads };
    const { messages, hasMore } = directory.history(instanceId, follower, query);
    return {
      messages: messages.map(messageView),
      page: pageOf(messages, hasMore),
      instance: this.instanceViewOf(chat, instanceId),
      moderator: follower.moderator,
    };
  }

  private instanceViewOf(chat: ChatItem, instanceId: string): InstanceView {
    const record = this.deps.directory.instance(instanceId);
    if (instanceId !== chat.item.itemId) return instanceView(record!);
    return { ...(record ? instanceView(record) : itemChatView(instanceId)), mode: chat.settings.mode };
  }

  /** The conversations of the item the reader is in, and (an operator) the round-robin chats waiting for one. */
  private instancesOf(chat: ChatItem, follower: ChatFollower): InstanceRecord[] {
    const { directory } = this.deps;
    const own = follower.userId === null && !follower.subject.startsWith('organisation:') ? [] : directory.instancesWith(chat.item.itemId, follower.subject);
    if (!follower.operator) return own;
    const waiting = directory.openInstances(chat.item.itemId).filter((instance) => instance.mode === 'round-robin' && instance.status === 'waiting');
    return [...own, ...waiting.filter((instance) => !own.some((mine) => mine.instanceId === instance.instanceId))];
  }
}
