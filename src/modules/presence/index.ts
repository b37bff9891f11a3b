import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { PresenceConfig } from './config.js';

export { presenceConfigShape, type PresenceConfig } from './config.js';

export interface PresenceDependencies extends ItemModulePorts {
  config: PresenceConfig;
}

export type PresenceApi = object;

/** Who is online at an event (PROTOCOL.md section 8): online users, visibility, join and leave pushes. */
export const presenceModule = defineModule<PresenceDependencies, PresenceApi, ClientConnection>({
  name: 'presence',
  aggregates: [],
  projections: [],
  create() {
    return { api: {} };
  },
});
