import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { CallsConfig } from './config.js';

export { callsConfigShape, type CallsConfig } from './config.js';

export interface CallsDependencies extends ItemModulePorts {
  config: CallsConfig;
}

export type CallsApi = object;

/** Calls on webrtc items (PROTOCOL.md section 8): instant, round-robin and group modes on the rooms of section 5. */
export const callsModule = defineModule<CallsDependencies, CallsApi, ClientConnection>({
  name: 'calls',
  aggregates: [],
  projections: [],
  create() {
    return { api: {} };
  },
});
