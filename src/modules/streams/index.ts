import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { StreamsConfig } from './config.js';

export { streamsConfigShape, type StreamsConfig } from './config.js';

export interface StreamsDependencies extends ItemModulePorts {
  config: StreamsConfig;
}

export type StreamsApi = object;

/** Live streams on rtmp items and Zoom meeting signatures (PROTOCOL.md section 8). */
export const streamsModule = defineModule<StreamsDependencies, StreamsApi, ClientConnection>({
  name: 'streams',
  aggregates: [],
  projections: [],
  create() {
    return { api: {} };
  },
});
