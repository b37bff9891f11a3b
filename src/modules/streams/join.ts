import type { ClientConnection } from '../../edge/index.js';
import type { JoinExtension } from '../itineraries/index.js';
import type { StreamRoles } from './roles.js';
import type { Streams } from './service.js';

export interface RtmpJoinDependencies {
  streams: Streams;
  roles: StreamRoles;
  /** The item's audience: who hears `consumer_rtmp_status`. */
  audiences: { join(itemId: string, connection: ClientConnection): boolean };
}

/**
 * What `consumer_rtmp_get {id}` answers beyond the itineraries module's clock-only
 * `{stream_url, status}`: the stream's real status at `now` (activated, completed, recorded
 * URL) and the URL for that status and this viewer. The joiner is put in the item's audience.
 */
export function rtmpJoinExtension({ streams, roles, audiences }: RtmpJoinDependencies): JoinExtension {
  return ({ client, item, now }) => {
    const { status, record } = streams.view(item, now);
    const mayPreview = status === 'rehearsing' && roles.mayPreview(client.principal, item);
    audiences.join(item.itemId, client);
    return { status, stream_url: streams.streamUrl(item.itemId, status, record.recordingUrl, mayPreview) };
  };
}
