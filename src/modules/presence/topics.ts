import { AppError, streamId } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { SERVICE_TOPICS } from '../../protocol/topics/extream.js';
import { PRESENCE_TOPICS, consumerOnlineUsers, consumerOnlineVisibility, type ConsumerOnlineUsers, type ConsumerOnlineVisibility } from '../../protocol/topics/presence.js';
import { commandMetadata, defineCommandTopic, type AnyTopic } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import { loginRequired } from '../organisations/access.js';
import { PRESENCE_CATEGORY, type PresenceCommand } from './domain/index.js';
import type { PresenceRoster } from './roster.js';

export interface PresenceTopicDependencies extends Pick<ItemModulePorts, 'runtime' | 'access' | 'events' | 'audiences'> {
  roster: PresenceRoster;
  onlineUsersMax: number;
}

type Event = NonNullable<ReturnType<ItemModulePorts['events']['get']>>;

const invalid = (path: string, message: string): AppError => new AppError('BAD_REQUEST', `${path}: ${message}`, { errors: [{ path, message }] });
const notFound = (path: string, message: string): AppError => new AppError('NOT_FOUND', message, { errors: [{ path, message }] });

/**
 * `consumer_online_users` and `consumer_online_visibility` (PROTOCOL.md section 8). The list is
 * a computed read (no receipt); a visibility change is an event on the user's stream
 * (`presence-<userId>`), committed before the receipt (`ex-collab`: presence is part of the
 * collaboration service, beside calls) and the result.
 */
export function presenceTopics({ runtime, access, events, audiences, roster, onlineUsersMax }: PresenceTopicDependencies): AnyTopic<ClientConnection>[] {
  /** A private event is for its organisation's members; a public one for anyone (as the other consumer topics). */
  const admit = (client: ClientConnection, event: Event): void => {
    if (event.public || access.isMember(client.principal, event.organisationId)) return;
    if (client.principal.kind === 'anonymous' || client.principal.kind === 'mfa-pending') throw loginRequired(client.principal);
    throw new AppError('FORBIDDEN', "this event is for its organisation's members", { reason: 'unauthorized' });
  };

  const onlineUsers = defineCommandTopic<ConsumerOnlineUsers, ClientConnection>({
    name: PRESENCE_TOPICS.onlineUsers,
    schema: consumerOnlineUsers,
    serviceTopic: SERVICE_TOPICS.collab,
    // Per event: the answer's meta says whether this one needs login.
    requiresLogin: false,
    execute: async ({ client, data }) => {
      // A socket that signed in after joining is counted as the user it is now, before the list is made.
      roster.reconcile(client);
      const eventId = data.event ?? audiences.eventsOf(client).at(-1);
      if (eventId === undefined) throw invalid('event', 'name an event: this connection is on none');
      const event = events.get(eventId);
      if (!event) throw notFound('event', 'unknown event');
      admit(client, event);
      // Whoever asks who is online hears who comes and goes from now on (and is online there itself).
      audiences.join(eventId, client);
      const { users, total } = roster.list(eventId, client, data.type, onlineUsersMax);
      return { response: users, meta: { requiresLogin: !event.public, items: users.length, total } };
    },
  });

  const onlineVisibility = defineCommandTopic<ConsumerOnlineVisibility, ClientConnection>({
    name: PRESENCE_TOPICS.onlineVisibility,
    schema: consumerOnlineVisibility,
    serviceTopic: SERVICE_TOPICS.collab,
    requiresLogin: true,
    execute: async (request) => {
      const { client, data, now } = request;
      const { principal } = client;
      if (principal.kind === 'organisation') throw new AppError('FORBIDDEN', 'only a signed-in user is ever online', { reason: 'unauthorized' });
      if (principal.kind !== 'user') throw loginRequired(principal);
      roster.reconcile(client);
      const command: PresenceCommand = { type: 'SetVisibility', userId: principal.userId, visible: data.visible, now };
      const result = await runtime.execute(streamId(PRESENCE_CATEGORY, principal.userId), command, commandMetadata(request));
      return { position: result.events.at(-1)?.position, response: { visibility: data.visible ? 'visible' : 'hidden', visible: data.visible } };
    },
  });

  return [onlineUsers, onlineVisibility];
}
