import { AppError, RateLimiter, type Principal } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { SERVICE_TOPICS } from '../../protocol/topics/extream.js';
import {
  DEFAULT_NOTICE_LEVEL,
  DEFAULT_NOTICE_PAGE,
  NOTICE_TOPICS,
  clientNoticeSend,
  consumerNoticeGet,
  consumerNoticeRead,
  type ClientNoticeSend,
  type ConsumerNoticeGet,
  type ConsumerNoticeRead,
} from '../../protocol/topics/notices.js';
import { commandMetadata, defineCommandTopic, type AnyTopic } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import { loginRequired } from '../organisations/access.js';
import type { NoticesConfig } from './config.js';
import { noticeView, type Notices } from './service.js';

export interface NoticeTopicDependencies extends Pick<ItemModulePorts, 'access' | 'events' | 'audiences'> {
  notices: Notices;
  config: NoticesConfig;
}

type Event = NonNullable<ReturnType<ItemModulePorts['events']['get']>>;

const notFound = (path: string, message: string): AppError => new AppError('NOT_FOUND', message, { errors: [{ path, message }] });

const signedIn = (principal: Principal): boolean => principal.kind === 'user' || principal.kind === 'organisation';

/**
 * The notice topics (PROTOCOL.md section 8). `client_notice_send` needs `send_notice` in the
 * event's organisation, and someone signed in before anything is looked up (an anonymous socket
 * learns nothing of which events exist); its receipt names `ex-notification`. Reading notices
 * needs what reading the event needs (login for a private one); marking them read needs a user.
 */
export function noticeTopics({ notices, access, events, audiences, config }: NoticeTopicDependencies): AnyTopic<ClientConnection>[] {
  const { board } = notices;
  // Per sender: a user, or an organisation's credential (who the log names as the actor).
  const sends = new RateLimiter(config.noticeSendsPerMinute, config.noticeSendsPerMinute / 60);

  const requireEvent = (eventId: string, path: string): Event => {
    const event = events.get(eventId);
    if (!event) throw notFound(path, 'unknown event');
    return event;
  };

  /** A private event is for its organisation's members; a public one for anyone (as the other consumer topics). */
  const admit = (principal: Principal, event: Event): void => {
    if (event.public || access.isMember(principal, event.organisationId)) return;
    if (!signedIn(principal)) throw loginRequired(principal);
    throw new AppError('FORBIDDEN', "this event is for its organisation's members", { reason: 'unauthorized' });
  };

  const send = defineCommandTopic<ClientNoticeSend, ClientConnection>({
    name: NOTICE_TOPICS.send,
    schema: clientNoticeSend,
    serviceTopic: SERVICE_TOPICS.notification,
    requiresLogin: true,
    authorize: (client) => {
      if (!signedIn(client.principal)) throw loginRequired(client.principal);
    },
    execute: async (request) => {
      const { client, data, now } = request;
      const event = requireEvent(data.event, 'event');
      access.require(client.principal, event.organisationId, 'send_notice');
      const bytes = Buffer.byteLength(data.message, 'utf8');
      if (bytes > config.noticeMaxBytes) {
        const message = `must be at most ${config.noticeMaxBytes} bytes (is ${bytes})`;
        throw new AppError('PAYLOAD_TOO_LARGE', `message: ${message}`, { errors: [{ path: 'message', message }] });
      }
      const metadata = commandMetadata(request);
      // Last of the checks, so a refused command spends nothing of the sender's budget.
      if (!sends.take(metadata.actor, now)) {
        const retryAfterSeconds = sends.secondsUntil(metadata.actor, now);
        throw new AppError('RATE_LIMITED', `at most ${config.noticeSendsPerMinute} notices a minute; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
      }
      const { position, notice } = await notices.send(
        {
          eventId: event.eventId,
          organisationId: event.organisationId,
          title: data.title ?? null,
          message: data.message,
          level: data.level ?? DEFAULT_NOTICE_LEVEL,
          data: data.data ?? null,
        },
        metadata,
        now,
      );
      return { position, status: 201, response: noticeView(notice, position) };
    },
  });

  const get = defineCommandTopic<ConsumerNoticeGet, ClientConnection>({
    name: NOTICE_TOPICS.get,
    schema: consumerNoticeGet,
    serviceTopic: SERVICE_TOPICS.notification,
    // Per event: the answer's meta says whether this one needs login.
    requiresLogin: false,
    execute: async ({ client, data }) => {
      const event = requireEvent(data.event, 'event');
      admit(client.principal, event);
      // Whoever reads an event's notices hears of new ones (consumer_notice_receive).
      audiences.join(event.eventId, client);
      const limit = data.limit ?? DEFAULT_NOTICE_PAGE;
      const page = board.page(event.eventId, data.before, limit);
      const { principal } = client;
      const read = principal.kind === 'user' ? board.readBy(principal.userId, page.notices.map((notice) => notice.noticeId)) : new Set<string>();
      const response = page.notices.map((notice) => ({ ...noticeView(notice, notice.position), read: read.has(notice.noticeId) }));
      const next = page.more ? (page.notices[0]?.position ?? null) : null;
      return { response, meta: { requiresLogin: !event.public, items: response.length, page: { limit, before: data.before ?? null, next } } };
    },
  });

  const read = defineCommandTopic<ConsumerNoticeRead, ClientConnection>({
    name: NOTICE_TOPICS.read,
    schema: consumerNoticeRead,
    serviceTopic: SERVICE_TOPICS.notification,
    requiresLogin: true,
    authorize: (client) => {
      const { principal } = client;
      if (principal.kind === 'organisation') throw new AppError('FORBIDDEN', 'notices are marked read by a signed-in user', { reason: 'unauthorized' });
      if (principal.kind !== 'user') throw loginRequired(principal);
    },
    execute: async (request) => {
      const { client, data, now } = request;
      const { principal } = client;
      if (principal.kind !== 'user') throw loginRequired(principal);
      // Every notice checked before the append: a refused command marks none of them.
      const named = data.ids.map((noticeId, index) => {
        const path = data.field === 'id' ? 'id' : `ids.${index}`;
        const notice = board.get(noticeId);
        // A notice of a deleted event went with it.
        const event = notice && events.get(notice.eventId);
        if (!notice || !event) throw notFound(path, 'unknown notice');
        admit(principal, event);
        return { noticeId, eventId: notice.eventId };
      });
      const position = await notices.read(principal.userId, named, commandMetadata(request), now);
      // Read already: 200 without a receipt, nothing appended.
      return { position, response: { read: data.ids } };
    },
  });

  return [send, get, read];
}
