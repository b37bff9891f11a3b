import { AppError, type Principal } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { SERVICE_TOPICS, formatExtreamDateTime } from '../../protocol/topics/extream.js';
import { STREAM_TOPICS, rtmpActivate, rtmpComplete, rtmpGet, zoomSign, type RtmpActivate, type RtmpComplete, type RtmpGet, type ZoomSign } from '../../protocol/topics/streams.js';
import { commandMetadata, defineCommandTopic, type AnyTopic, type TopicRequest } from '../../runtime/index.js';
import { requireCriteria, type ItemModulePorts, type JoinedItem } from '../itineraries/index.js';
import { loginRequired } from '../organisations/access.js';
import type { StreamRoles } from './roles.js';
import type { StreamCommandContext, Streams } from './service.js';
import type { ZoomSignatures } from './zoom.js';

export interface StreamTopicDependencies extends Pick<ItemModulePorts, 'access' | 'events' | 'items'> {
  streams: Streams;
  zoom: ZoomSignatures;
  roles: StreamRoles;
  config: { rtmpIngestBaseUrl: string };
}

const notFound = (message: string): AppError => new AppError('NOT_FOUND', message, { errors: [{ path: 'id', message }] });
const wrongType = (item: JoinedItem, type: string): AppError => {
  const message = `item ${item.itemId} is of type ${item.type}, not ${type}`;
  return new AppError('BAD_REQUEST', `id: ${message}`, { errors: [{ path: 'id', message }] });
};

/** A command that needs a credential: someone signed in (a user or the organisation's own token). */
function requireSignedIn(principal: Principal): void {
  if (principal.kind !== 'user' && principal.kind !== 'organisation') throw loginRequired(principal);
}

const contextOf = (request: TopicRequest<unknown, ClientConnection>): StreamCommandContext => ({ ...commandMetadata(request), now: request.now });

/**
 * `client_rtmp_get` / `_activate` / `_complete` (the broadcaster and the streaming service) and
 * `consumer_zoom_sign` (PROTOCOL.md section 8), answered the Extream way.
 *
 * - `client_rtmp_get`: the designated actor (`configuration.actor`) or a credential holding
 *   `stream_rtmp` in the item's organisation; anyone else FORBIDDEN, nobody signed in UNAUTHORIZED.
 * - `_activate` / `_complete`: the stream key itself, or (without one) a credential holding
 *   `stream_rtmp`. A wrong key is UNAUTHORIZED even from a credential that could do without:
 *   a streaming service configured with a stale key should hear of it.
 * - `consumer_zoom_sign`: whoever may join the item (its event admitted, its criteria met; an
 *   invited guest for its own item); host (role 1) only for those StreamRoles.mayHost says.
 */
export function streamTopics({ streams, zoom, roles, access, events, items, config }: StreamTopicDependencies): AnyTopic<ClientConnection>[] {
  const requireItem = (itemId: string): JoinedItem => {
    const item = items.get(itemId);
    if (!item) throw notFound('unknown item');
    return item;
  };
  const requireRtmpItem = (itemId: string): JoinedItem => {
    const item = requireItem(itemId);
    if (item.type !== 'rtmp') throw wrongType(item, 'rtmp');
    return item;
  };

  const rtmpGetTopic = defineCommandTopic<RtmpGet, ClientConnection>({
    name: STREAM_TOPICS.rtmpGet,
    schema: rtmpGet,
    serviceTopic: SERVICE_TOPICS.streamer,
    requiresLogin: true,
    authorize: (client) => requireSignedIn(client.principal),
    execute: async (request) => {
      const { id, rotate } = request.data;
      const item = requireRtmpItem(id);
      if (!roles.mayStream(request.client.principal, item)) {
        throw new AppError('FORBIDDEN', "this needs the stream_rtmp permission in the item's organisation, or to be its actor", { reason: 'unauthorized' });
      }
      const issued = await streams.credentials(item, rotate === true, contextOf(request));
      const { status, record } = streams.view(item, request.now);
      const ingestUrl = config.rtmpIngestBaseUrl.replace(/\/+$/, '');
      return {
        position: issued.position,
        status: issued.position === undefined ? 200 : 201,
        response: {
          id,
          ingest_url: ingestUrl,
          stream_key: issued.streamKey,
          publish_url: `${ingestUrl}/${issued.streamKey}`,
          key_generation: issued.generation,
          key_issued_at: formatExtreamDateTime(issued.issuedAt),
          status,
          // The broadcaster sees its stream in every status, the rehearsal included.
          stream_url: streams.streamUrl(id, status, record.recordingUrl, true),
        },
      };
    },
  });

  /** Who the streaming service is: the key it sent, else a credential holding stream_rtmp (checked here). */
  const streamingService = (principal: Principal, key: string | undefined, itemId: string): { item: JoinedItem; key: string | null } => {
    if (key !== undefined) return { item: requireRtmpItem(itemId), key };
    requireSignedIn(principal);
    const item = requireRtmpItem(itemId);
    access.require(principal, item.organisationId, 'stream_rtmp');
    return { item, key: null };
  };

  const rtmpActivateTopic = defineCommandTopic<RtmpActivate, ClientConnection>({
    name: STREAM_TOPICS.rtmpActivate,
    schema: rtmpActivate,
    serviceTopic: SERVICE_TOPICS.streamer,
    // A stream key alone will do: no login is asked for before the key is looked at.
    requiresLogin: false,
    execute: async (request) => {
      const { item, key } = streamingService(request.client.principal, request.data.key, request.data.id);
      const { position, view } = await streams.activate(item, key, contextOf(request));
      return { position, response: { id: item.itemId, status: view.status, activated_at: formatExtreamDateTime(view.record.activatedAt) } };
    },
  });

  const rtmpCompleteTopic = defineCommandTopic<RtmpComplete, ClientConnection>({
    name: STREAM_TOPICS.rtmpComplete,
    schema: rtmpComplete,
    serviceTopic: SERVICE_TOPICS.streamer,
    requiresLogin: false,
    execute: async (request) => {
      const { item, key } = streamingService(request.client.principal, request.data.key, request.data.id);
      const { position, view } = await streams.complete(item, key, request.data.recording_url ?? null, contextOf(request));
      return {
        position,
        response: { id: item.itemId, status: view.status, completed_at: formatExtreamDateTime(view.record.completedAt), recording_url: view.record.recordingUrl },
      };
    },
  });

  const zoomSignTopic = defineCommandTopic<ZoomSign, ClientConnection>({
    name: STREAM_TOPICS.zoomSign,
    schema: zoomSign,
    serviceTopic: SERVICE_TOPICS.collab,
    // Per event: the answer's meta says whether this one needs login.
    requiresLogin: false,
    // Guests are invited to calls, zoom items among them: their own item, nothing else.
    admitGuest: (principal, { id }) => id === principal.itemId,
    execute: async ({ client, data, now }) => {
      const item = requireItem(data.id);
      const event = events.get(item.eventId);
      if (!event) throw notFound('unknown item');
      const { principal } = client;
      // A guest's invitation admits it to its item, private event or not (as the item join does).
      if (principal.kind !== 'guest' && !event.public && !access.isMember(principal, event.organisationId)) {
        if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw loginRequired(principal);
        throw new AppError('FORBIDDEN', "this event is for its organisation's members", { reason: 'unauthorized' });
      }
      if (item.type !== 'zoom') throw wrongType(item, 'zoom');
      requireCriteria(principal, { type: 'zoom', organisationId: item.organisationId, configuration: item.configuration }, access);
      const meetingNumber = item.configuration.meeting_number;
      if (typeof meetingNumber !== 'string' && typeof meetingNumber !== 'number') throw notFound('this zoom item has no meeting number yet');
      const role = data.role ?? 0;
      if (role === 1 && !roles.mayHost(principal, item)) {
        throw new AppError('FORBIDDEN', "signing as host needs edit_item or operate_webrtc in the item's organisation, or to be crew or chief of its event", {
          reason: 'unauthorized',
        });
      }
      return { response: zoom.sign(item.organisationId, String(meetingNumber), role, now), meta: { requiresLogin: !event.public } };
    },
  });

  return [rtmpGetTopic, rtmpActivateTopic, rtmpCompleteTopic, zoomSignTopic];
}
