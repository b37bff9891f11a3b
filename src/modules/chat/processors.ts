import type { RecordedEvent } from '../../core/index.js';
import { sendToAll, type ClientConnection } from '../../edge/index.js';
import { CHAT_PUSHES } from '../../protocol/topics/chat.js';
import type { Processor } from '../../runtime/index.js';
import { isEventListingEvent } from '../event-listings/index.js';
import { isItineraryEvent, type ItemModulePorts } from '../itineraries/index.js';
import { ACCESS_CATEGORY } from '../organisations/index.js';
import { mayReadInstance } from './readers.js';
import type { ChatAudiences, FollowedItem } from './audiences.js';
import { isChatEvent, mayRead, type RecordedChatEvent } from './domain/index.js';
import type { ChatGate, ChatItem } from './gate.js';
import type { ChatDirectory } from './projection.js';
import { instanceView, messageView } from './views.js';

export interface ChatProcessorDependencies {
  audiences: ChatAudiences;
  directory: ChatDirectory;
  gate: ChatGate;
  /** Who is on the item's event: where a participant of a new conversation is looked for. */
  eventAudiences: Pick<ItemModulePorts['audiences'], 'members'>;
  logger: Pick<ItemModulePorts['logger'], 'warn'>;
}

/**
 * The chat's reactions to the log, live (`startFrom: 'now'`: followers are sockets, which a
 * restart does not keep):
 *
 * - `chat.pushes`: every push of PROTOCOL.md section 8's chat, with the event's log position
 *   as `seq`. A message everyone may read is one sendToAll to the instance's followers (one
 *   encoding per wire format); a restricted or held one goes only to the followers the
 *   visibility rule admits, filtered by the properties worked out when they joined.
 * - `chat.followers`: keeps what followers are allowed in step with the item and the grants:
 *   a changed item (moderators, privacy, participants_only), a grant or revocation in its
 *   organisation, or a user joining one of its groups re-works out every follower of its chats;
 *   a removed item or a deleted event ends its chats' followings.
 */
export function chatProcessors(deps: ChatProcessorDependencies): Processor[] {
  const pushes = new ChatPushes(deps);
  return [
    { name: 'chat.pushes', startFrom: 'now', canHandle: isChatEvent, handle: (events) => pushes.handle(events) },
    { name: 'chat.followers', startFrom: 'now', canHandle: followersChanged, handle: (events) => refreshFollowers(deps, events) },
  ];
}

const ACCESS_PREFIX = `${ACCESS_CATEGORY}-`;

/** A user joining a group of an organisation may gain moderate_chat there (the identity module's event, read by its name). */
const GROUP_JOINED = 'UserAddedToGroup';

function followersChanged(event: RecordedEvent): boolean {
  if (isItineraryEvent(event)) return event.type === 'ItemUpdated' || event.type === 'ItemRemoved';
  if (isEventListingEvent(event)) return event.type === 'EventDeleted';
  if (event.type === GROUP_JOINED) return typeof (event.data as { organisationId?: unknown }).organisationId === 'string';
  return event.streamId.startsWith(ACCESS_PREFIX) && (event.type === 'PermissionsGranted' || event.type === 'PermissionsRevoked');
}

class ChatPushes {
  constructor(private readonly deps: ChatProcessorDependencies) {}

  handle(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      if (!isChatEvent(event)) continue;
      try {
        this.push(event);
      } catch (error) {
        // One event that cannot be pushed (its item went meanwhile) must not hold back the rest.
        this.deps.logger.warn({ err: error, position: event.position, type: event.type }, 'chat push failed');
      }
    }
  }

  private push(event: RecordedChatEvent): void {
    const { audiences, directory } = this.deps;
    const seq = event.position;
    switch (event.type) {
      case 'ChatMessagePosted': {
        const { data } = event;
        const frame = { event: CHAT_PUSHES.receive, data: { item: data.itemId, instance: data.instanceId, message: messageView({ ...data, position: seq }) }, seq };
        audiences.push(data.instanceId, frame, data.visibility === 'everyone' ? undefined : (follower) => mayRead(follower, data));
        return;
      }
      case 'ChatMessagePublished': {
        const message = directory.message(event.data.messageId);
        if (!message || message.removed) return;
        audiences.push(event.data.instanceId, { event: CHAT_PUSHES.receive, data: { item: message.itemId, instance: message.instanceId, message: messageView(message) }, seq });
        return;
      }
      case 'ChatMessageRemoved': {
        const { data } = event;
        const frame = { event: CHAT_PUSHES.remove, data: { item: data.itemId, instance: data.instanceId, message: data.messageId, by: data.by, reason: data.reason }, seq };
        // Only to those who could read it: a removed private question stays unknown to the rest.
        audiences.push(data.instanceId, frame, data.visibility === 'everyone' ? undefined : (follower) => mayRead(follower, data));
        return;
      }
      case 'ChatInstanceStarted': {
        const { data } = event;
        if (data.main) return;
        const instance = directory.instance(data.instanceId);
        if (!instance) return;
        const payload = { item: data.itemId, instance: instanceView(instance) };
        if (data.mode === 'round-robin') {
          audiences.push(data.itemId, { event: CHAT_PUSHES.operatorIncoming, data: payload, seq }, (follower) => follower.operator);
          return;
        }
        this.bringIn(data.itemId, data.instanceId, data.participants.filter((user) => user !== data.startedBy), { event: CHAT_PUSHES.incoming, data: payload, seq });
        return;
      }
      case 'ChatParticipantsAdded': {
        const instance = directory.instance(event.data.instanceId);
        if (!instance) return;
        this.bringIn(event.data.itemId, event.data.instanceId, event.data.users, { event: CHAT_PUSHES.incoming, data: { item: event.data.itemId, instance: instanceView(instance) }, seq });
        return;
      }
      case 'ChatParticipantLeft': {
        const { data } = event;
        audiences.push(data.instanceId, { event: CHAT_PUSHES.leave, data: { item: data.itemId, instance: data.instanceId, user: data.user }, seq });
        for (const [connection, follower] of audiences.followers(data.instanceId)) {
          if (follower.subject === data.user && !follower.moderator) audiences.leave(data.instanceId, connection);
        }
        return;
      }
      case 'ChatInstanceActivated': {
        const { data } = event;
        const instance = directory.instance(data.instanceId);
        if (!instance) return;
        audiences.push(data.itemId, { event: CHAT_PUSHES.activated, data: { item: data.itemId, instance: instanceView(instance) }, seq }, (follower) => follower.operator);
        // The operator's other sockets follow the chat it took, as the one that took it does.
        this.bringIn(data.itemId, data.instanceId, [data.operator], undefined);
        return;
      }
      case 'ChatInstanceClosed':
        audiences.drop(event.data.instanceId);
        return;
      case 'ChatUserBanned':
      case 'ChatUserUnbanned':
        return;
    }
  }

  /**
   * The sockets of these users that are on the item's chat or its event follow the
   * conversation from now on, and get `frame` (one encoding for all of them).
   */
  private bringIn(itemId: string, instanceId: string, users: readonly string[], frame: { event: string; data: unknown; seq: number } | undefined): void {
    if (users.length === 0) return;
    const { audiences, gate, eventAudiences } = this.deps;
    const chat = gate.item(itemId);
    const wanted = new Set(users);
    const reached = new Set<ClientConnection>();
    const consider = (connection: ClientConnection) => {
      const { principal } = connection;
      if (principal.kind === 'user' && wanted.has(principal.userId) && !reached.has(connection)) reached.add(connection);
    };
    for (const connection of audiences.followers(itemId).keys()) consider(connection);
    for (const connection of eventAudiences.members(chat.item.eventId)) consider(connection);
    for (const connection of reached) audiences.join(instanceId, chat.item, connection, gate.follower(connection, chat));
    if (frame && reached.size > 0) sendToAll(reached, frame);
  }
}

/** Re-works out (or ends) the followings the changed items, events and grants touch. */
function refreshFollowers(deps: ChatProcessorDependencies, events: readonly RecordedEvent[]): void {
  const { audiences, gate } = deps;
  const items = new Set<string>();
  const organisations = new Set<string>();
  const dropWhere = (match: (entry: FollowedItem) => boolean) => {
    for (const instanceId of audiences.instancesWhere(match)) audiences.drop(instanceId);
  };
  for (const event of events) {
    if (isItineraryEvent(event)) {
      if (event.type !== 'ItemUpdated' && event.type !== 'ItemRemoved') continue;
      const { itemId } = event.data;
      gate.forget(itemId);
      if (event.type === 'ItemRemoved') dropWhere((entry) => entry.itemId === itemId);
      else items.add(itemId);
    } else if (isEventListingEvent(event)) {
      const { eventId } = event.data;
      dropWhere((entry) => entry.eventId === eventId);
    } else {
      organisations.add((event.data as { organisationId: string }).organisationId);
    }
  }
  if (items.size === 0 && organisations.size === 0) return;
  for (const instanceId of audiences.instancesWhere((entry) => items.has(entry.itemId) || organisations.has(entry.organisationId))) {
    const itemId = audiences.itemOf(instanceId);
    if (itemId === undefined) continue;
    let chat: ChatItem;
    try {
      chat = gate.item(itemId);
    } catch {
      // No longer a chat (gone, or another type): nothing to follow.
      audiences.drop(instanceId);
      continue;
    }
    const instance = instanceId === itemId ? undefined : deps.directory.instance(instanceId);
    for (const [connection, was] of [...audiences.followers(instanceId)]) {
      const follower = gate.follower(connection, chat, was);
      if (instance ? mayReadInstance(instance, follower) : admitted(gate, connection, chat)) audiences.join(instanceId, chat.item, connection, follower);
      else audiences.leave(instanceId, connection);
    }
  }
}

function admitted(gate: ChatGate, connection: ClientConnection, chat: ChatItem): boolean {
  try {
    gate.admit(connection.principal, chat, true);
    return true;
  } catch {
    return false;
  }
}
