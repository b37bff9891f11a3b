import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { PollsConfig } from './config.js';

export { pollsConfigShape, type PollsConfig } from './config.js';

export interface PollsDependencies extends ItemModulePorts {
  config: PollsConfig;
}

export type PollsApi = object;

/** Poll items (PROTOCOL.md section 8): live questions, answers, quiz scores, results. */
export const pollsModule = defineModule<PollsDependencies, PollsApi, ClientConnection>({
  name: 'polls',
  aggregates: [],
  projections: [],
  create() {
    return { api: {} };
  },
});
