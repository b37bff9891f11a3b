import { SecretBox } from '../../auth/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import { EventAudiences } from '../event-listings/index.js';
import type { ItemModulePorts, JoinExtensions } from '../itineraries/index.js';
import type { StreamsConfig } from './config.js';
import { streamAggregate, zoomCredentialsAggregate } from './domain/index.js';
import { rtmpJoinExtension } from './join.js';
import { StreamTimers, streamPushProcessor, streamScheduleProcessor } from './processors.js';
import { StreamDirectory, streamsProjection } from './projection.js';
import { StreamRoles } from './roles.js';
import { Streams } from './service.js';
import { streamTopics } from './topics.js';
import { ZoomSignatures } from './zoom.js';

export { streamsConfigShape, zoomSdkKey, zoomSdkSecret, type StreamsConfig } from './config.js';
export { streamsProjection, StreamDirectory, type StreamRecord } from './projection.js';
export { Streams, streamKeyHash, type StreamCommandContext } from './service.js';
export { ZoomSignatures, type ZoomCredentials, type ZoomSignatureAnswer } from './zoom.js';
export {
  STREAM_CATEGORY,
  STREAM_EVENT_TYPES,
  ZOOM_CREDENTIALS_CATEGORY,
  ZOOM_CREDENTIALS_EVENT_TYPES,
  isStreamEvent,
  isZoomCredentialsEvent,
  streamAggregate,
  zoomCredentialsAggregate,
  type StreamEvent,
  type ZoomCredentialsEvent,
} from './domain/index.js';

export interface StreamsDependencies extends ItemModulePorts {
  config: StreamsConfig;
}

export interface StreamsApi {
  streams: Streams;
  zoom: ZoomSignatures;
  directory: StreamDirectory;
  /** `consumer_rtmp_get`: the stream's real status and URL, and the joiner in the item's audience. */
  joinExtensions: JoinExtensions;
}

/**
 * Live streams on rtmp items and Zoom meeting signatures (PROTOCOL.md section 8): one stream
 * per rtmp item (`stream-<itemId>`: key, activation, completion, status changes) and per
 * organisation's Zoom credentials (`zoom_credentials-<organisationId>`); status changes by
 * the clock from scheduler timers, pushed from the log as `consumer_rtmp_status` to the
 * connections that joined the item.
 */
export const streamsModule = defineModule<StreamsDependencies, StreamsApi, ClientConnection>({
  name: 'streams',
  aggregates: [streamAggregate, zoomCredentialsAggregate],
  projections: [streamsProjection],
  create({ runtime, store, clock, scheduler, logger, connections, access, events, items, config }) {
    const directory = new StreamDirectory(store.readModels);
    // The key every sealed secret of the gateway is under (MFA seeds too): stream keys and Zoom secrets are never in the log in clear.
    const { box: secrets } = SecretBox.open(config.dataDir);
    const streams = new Streams({ runtime, directory, secrets, config });
    const zoom = new ZoomSignatures({ runtime, directory, secrets, config });
    const roles = new StreamRoles({ access, events });
    // Who joined which rtmp item, for its status pushes: the event audiences' bookkeeping
    // (bounded per connection, left on close), keyed by item instead of event.
    const audiences = new EventAudiences(connections, config.streamSubscriptionsPerConnection);
    const timers = new StreamTimers({ streams, directory, items, scheduler, clock, config, logger });
    return {
      api: { streams, zoom, directory, joinExtensions: { rtmp: rtmpJoinExtension({ streams, roles, audiences }) } },
      topics: streamTopics({ streams, zoom, roles, access, events, items, config }),
      processors: [streamPushProcessor({ streams, roles, items, audiences }), streamScheduleProcessor({ timers, directory, audiences })],
      start: () => ({ streamTimers: timers.resume() }),
      stop: () => timers.stop(),
    };
  },
});
