import { randomUUID } from 'node:crypto';
import { AppError, DISCONNECT, RateLimiter, streamId } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { ChatAdd, ChatBan, ChatLeave, ChatPublish, ChatRemove, ChatSend, ChatStart, ChatTake } from '../../protocol/topics/chat.js';
import type { ActorRuntime, CommandResult } from '../../runtime/index.js';
import { readableInstance, type ChatCommandContext, type ChatOutcome } from './readers.js';
import type { ChatAudiences, ChatFollower } from './audiences.js';
import type { ChatConfig } from './config.js';
import { CHAT_CATEGORY, isChatEvent, type chatMachine, type ChatCommand, type ChatSnapshot, type ItemBans } from './domain/index.js';
import { badField, notFound, repliesAllowed, requirePoster, subjectOf, type ChatGate, type ChatItem } from './gate.js';
import type { ChatDirectory } from './projection.js';
import { instanceView, messageView } from './views.js';

export interface ChatCommandsDependencies {
  runtime: ActorRuntime;
  directory: ChatDirectory;
  audiences: ChatAudiences;
  gate: ChatGate;
  config: ChatConfig;
}

const STRIKE_WINDOW_MS = 10_000;
const NO_BANS: ItemBans = Object.freeze({});

/**
 * The chat commands (PROTOCOL.md section 8): each checks what it can before it reaches the
 * conversation's stream (the item, the sender, the size, the rate), then runs on that stream,
 * where decide checks the rest against its state (bans, participants, who took a chat) inside
 * the append. Pushes come from the log (processors.ts), so they go out the same for a change
 * made over a socket, over HTTP or by another process.
 */
export class ChatCommands {
  /** One bucket per sender (user or organisation), shared by its sockets. */
  private readonly limiter: RateLimiter;
  /** Per socket, when it was refused for its rate lately: sustained abuse closes it (4029). */
  private readonly strikes = new WeakMap<ClientConnection, number[]>();

  constructor(private readonly deps: ChatCommandsDependencies) {
    this.limiter = new RateLimiter(deps.config.chatMessageBurst, deps.config.chatMessagesPerSecond);
  }

  async send(client: ClientConnection, data: ChatSend, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate, audiences, directory } = this.deps;
    requirePoster(client.principal);
    const bytes = Buffer.byteLength(data.text, 'utf8');
    if (bytes > this.deps.config.chatMaxMessageBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `text: a message is at most ${this.deps.config.chatMaxMessageBytes} bytes (UTF-8), this one is ${bytes}`);
    }
    const chat = gate.item(data.id);
    const itemId = chat.item.itemId;
    const instanceId = data.instance ?? itemId;
    const main = instanceId === itemId;
    // A socket following the chat was admitted when it joined (and is refreshed when the item
    // or the grants change): its post needs no permission lookups.
    const following = audiences.follower(instanceId, client);
    const follower = following ?? this.admitted(client, chat);
    if (main && chat.settings.mode !== 'group') {
      throw badField('instance', `this item's chats are ${chat.settings.mode}: start one with consumer_chat_start and send to its instance`);
    }
    if (data.parent !== undefined && !repliesAllowed(chat.settings)) throw badField('parent', 'this chat has no threads');
    this.spend(client, follower.subject, context.now);
    // The sender hears its own message like everyone else (its push), so it follows first;
    // into a conversation only when it is in it, else decide refuses it and it follows nothing.
    if (!following && (main || this.participantsOf(instanceId).includes(follower.subject))) audiences.join(instanceId, chat.item, client, follower);
    const messageId = randomUUID();
    const result = await this.run(
      instanceId,
      () => ({
        type: 'PostMessage',
        messageId,
        instanceId,
        itemId,
        author: follower.subject,
        authorName: follower.name,
        authorIsModerator: follower.moderator,
        text: data.text,
        parent: data.parent === undefined ? null : directory.known(data.parent),
        parentId: data.parent ?? null,
        rules: { moderation: chat.settings.moderation, private: chat.settings.private },
        itemBans: main ? NO_BANS : this.itemBans(itemId),
        now: context.now,
      }),
      context,
    );
    const posted = result.events.filter(isChatEvent).find((event) => event.type === 'ChatMessagePosted');
    // Decide either refuses a post or records it: a post that appended no message is a bug.
    if (posted?.type !== 'ChatMessagePosted') throw new AppError('INTERNAL', 'a post recorded no message');
    return { position: posted.position, status: 201, response: { message: messageView({ ...posted.data, position: posted.position }) } };
  }

  async start(client: ClientConnection, data: ChatStart, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate, audiences, config } = this.deps;
    requirePoster(client.principal);
    const chat = gate.item(data.id);
    const follower = this.admitted(client, chat);
    const { mode } = chat.settings;
    if (mode === 'group') throw badField('id', "this item runs one group chat: send to it with consumer_chat_send, nothing to start");
    const others = [...new Set(data.participants ?? [])].filter((user) => user !== follower.subject);
    if (mode === 'round-robin' && data.participants !== undefined) throw badField('participants', 'a round-robin chat is taken by an operator: name nobody');
    if (mode === 'direct') {
      if (others.length === 0) throw badField('participants', 'name who the conversation is with');
      gate.requireUsers(others, 'participants');
      if (chat.settings.participantsOnly) {
        const outsider = others.find((user) => !chat.settings.participants.has(user) && !chat.settings.moderators.has(user) && !chat.settings.operators.has(user));
        if (outsider !== undefined) throw new AppError('FORBIDDEN', `${outsider} is not a participant of this chat`, { reason: 'unmet_criteria' });
      }
      if (others.length + 1 > config.chatMaxParticipants) throw new AppError('LIMIT_EXCEEDED', `a conversation has at most ${config.chatMaxParticipants} participants`);
    }
    this.spend(client, follower.subject, context.now);
    const instanceId = randomUUID();
    const itemId = chat.item.itemId;
    const result = await this.run(
      instanceId,
      () => ({ type: 'StartChat', instanceId, itemId, mode, participants: [follower.subject, ...others], startedBy: follower.subject, itemBans: this.itemBans(itemId), now: context.now }),
      context,
    );
    audiences.join(instanceId, chat.item, client, follower);
    return { position: result.events.at(-1)?.position, status: 201, response: { instance: this.instanceView(instanceId) } };
  }

  async remove(client: ClientConnection, data: ChatRemove, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate, directory } = this.deps;
    requirePoster(client.principal);
    const chat = gate.item(data.id);
    const message = directory.message(data.message);
    if (!message || message.itemId !== chat.item.itemId) throw notFound('message', 'unknown message');
    const by = subjectOf(client.principal, client.id);
    const byModerator = gate.isModerator(client.principal, chat);
    const result = await this.run(
      message.instanceId,
      () => ({ type: 'RemoveMessage', messageId: data.message, message: directory.known(data.message), by, byModerator, reason: data.reason ?? null, now: context.now }),
      context,
    );
    return { position: result.events.at(-1)?.position, response: { id: data.message, instance: message.instanceId, removed: true } };
  }

  async publish(client: ClientConnection, data: ChatPublish, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate, directory } = this.deps;
    const chat = gate.item(data.id);
    gate.requireModerator(client.principal, chat);
    const message = directory.message(data.message);
    if (!message || message.itemId !== chat.item.itemId) throw notFound('message', 'unknown message');
    const by = subjectOf(client.principal, client.id);
    const result = await this.run(message.instanceId, () => ({ type: 'PublishMessage', messageId: data.message, message: directory.known(data.message), by, now: context.now }), context);
    return { position: result.events.at(-1)?.position, response: { message: messageView(directory.message(data.message)!) } };
  }

  /** Leaving the item's own chat only stops this socket following it; leaving a conversation is recorded. */
  async leave(client: ClientConnection, data: ChatLeave, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate, audiences } = this.deps;
    const chat = gate.item(data.id);
    const instanceId = data.instance ?? chat.item.itemId;
    if (instanceId === chat.item.itemId) {
      audiences.leave(instanceId, client);
      return { position: undefined, response: { instance: instanceId, left: true } };
    }
    requirePoster(client.principal);
    const follower = gate.follower(client, chat);
    readableInstance(this.deps.directory, chat, instanceId, follower);
    const result = await this.run(instanceId, () => ({ type: 'LeaveChat', user: follower.subject, now: context.now }), context);
    audiences.leave(instanceId, client);
    return { position: result.events.at(-1)?.position, response: { instance: instanceId, left: true } };
  }

  async add(client: ClientConnection, data: ChatAdd, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate, config } = this.deps;
    requirePoster(client.principal);
    const chat = gate.item(data.id);
    if (data.instance === chat.item.itemId) throw badField('instance', "the item's chat is everyone who joins the item: add people to a conversation started with consumer_chat_start");
    const follower = this.admitted(client, chat);
    readableInstance(this.deps.directory, chat, data.instance, follower);
    gate.requireUsers(data.participants, 'participants');
    this.spend(client, follower.subject, context.now);
    const itemId = chat.item.itemId;
    const result = await this.run(
      data.instance,
      () => ({
        type: 'AddParticipants',
        users: data.participants,
        by: follower.subject,
        byModerator: follower.moderator,
        itemBans: this.itemBans(itemId),
        maxParticipants: config.chatMaxParticipants,
        now: context.now,
      }),
      context,
    );
    return { position: result.events.at(-1)?.position, response: { instance: this.instanceView(data.instance) } };
  }

  async ban(client: ClientConnection, data: ChatBan, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate } = this.deps;
    const chat = gate.item(data.id);
    gate.requireModerator(client.principal, chat);
    const itemId = chat.item.itemId;
    const by = subjectOf(client.principal, client.id);
    if (data.unban === true) {
      const result = await this.run(itemId, () => ({ type: 'UnbanUser', itemId, user: data.user, by, now: context.now }), context);
      return { position: result.events.at(-1)?.position, response: { user: data.user, banned: false, until: null } };
    }
    const targetIsModerator = data.user.startsWith('organisation:') || gate.userModerates(data.user, chat);
    if (!targetIsModerator && !gate.knowsUser(data.user)) throw notFound('user', 'unknown user');
    const until = data.until ?? (data.seconds === undefined ? null : context.now + data.seconds * 1000);
    const result = await this.run(
      itemId,
      () => ({ type: 'BanUser', itemId, user: data.user, until, reason: data.reason ?? null, by, targetIsModerator, now: context.now }),
      context,
    );
    return { position: result.events.at(-1)?.position, response: { user: data.user, banned: true, until: until === null ? null : new Date(until).toISOString() } };
  }

  /** `client_chat_activate`: an operator takes a waiting round-robin chat, and follows it. */
  async take(client: ClientConnection, data: ChatTake, context: ChatCommandContext): Promise<ChatOutcome> {
    const { gate, audiences } = this.deps;
    requirePoster(client.principal);
    const chat = gate.item(data.id);
    const follower = gate.follower(client, chat);
    if (!follower.operator) throw new AppError('FORBIDDEN', "this needs an operator of the item's chat", { reason: 'unauthorized' });
    const operator = follower.subject;
    readableInstance(this.deps.directory, chat, data.instance, follower);
    const result = await this.run(data.instance, () => ({ type: 'TakeChat', operator, now: context.now }), context);
    audiences.join(data.instance, chat.item, client, follower);
    return { position: result.events.at(-1)?.position, response: { instance: this.instanceView(data.instance) } };
  }

  /** A socket not following the chat yet: admitted to it now, and who it is there. */
  private admitted(client: ClientConnection, chat: ChatItem): ChatFollower {
    this.deps.gate.admit(client.principal, chat);
    return this.deps.gate.follower(client, chat);
  }

  /** Takes one token of the sender's bucket; RATE_LIMITED past it, and the socket closed (4029) past the strikes. */
  private spend(client: ClientConnection, subject: string, now: number): void {
    if (this.limiter.take(subject, now)) return;
    // An HTTP command's stand-in is closed from the start and has no socket to close.
    if (!client.closed) {
      const strikes = (this.strikes.get(client) ?? []).filter((time) => time > now - STRIKE_WINDOW_MS);
      strikes.push(now);
      this.strikes.set(client, strikes);
      if (strikes.length >= this.deps.config.chatRateLimitStrikes) client.close(DISCONNECT.rateLimited, 'chat rate limit exceeded');
    }
    const retryAfter = Math.max(1, this.limiter.secondsUntil(subject, now));
    throw new AppError('RATE_LIMITED', `too many chat messages; slow down (try again in ${retryAfter} s)`, { retryAfter });
  }

  /** The item's bans, from its own stream (loaded if it is not in memory). */
  private itemBans(itemId: string): ItemBans {
    return this.deps.runtime.read<ChatMachine>(streamId(CHAT_CATEGORY, itemId)).context.bans;
  }

  private participantsOf(instanceId: string): readonly string[] {
    return this.deps.runtime.read<ChatMachine>(streamId(CHAT_CATEGORY, instanceId)).context.participants;
  }

  private instanceView(instanceId: string) {
    const instance = this.deps.directory.instance(instanceId);
    return instance ? instanceView(instance) : null;
  }

  /** Runs a command on the conversation's stream, built inside its mailbox (so read-model lookups see every earlier command). */
  private run(instanceId: string, build: () => ChatCommand, context: ChatCommandContext): Promise<CommandResult<ChatSnapshot>> {
    return this.deps.runtime.executeWith<ChatSnapshot>(streamId(CHAT_CATEGORY, instanceId), build, context.metadata);
  }
}

type ChatMachine = typeof chatMachine;
