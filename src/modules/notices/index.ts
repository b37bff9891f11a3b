import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { NoticesConfig } from './config.js';

export { noticesConfigShape, type NoticesConfig } from './config.js';

export interface NoticesDependencies extends ItemModulePorts {
  config: NoticesConfig;
}

export type NoticesApi = object;

/** Notices to an event (PROTOCOL.md section 8): sent by operators, read state per user. */
export const noticesModule = defineModule<NoticesDependencies, NoticesApi, ClientConnection>({
  name: 'notices',
  aggregates: [],
  projections: [],
  create() {
    return { api: {} };
  },
});
