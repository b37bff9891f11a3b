import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { ChatConfig } from './config.js';

export { chatConfigShape, type ChatConfig } from './config.js';

export interface ChatDependencies extends ItemModulePorts {
  config: ChatConfig;
}

export type ChatApi = object;

/** Chat and forum items (PROTOCOL.md section 8): messages, moderation, threads, private and direct chats, bans, history. */
export const chatModule = defineModule<ChatDependencies, ChatApi, ClientConnection>({
  name: 'chat',
  aggregates: [],
  projections: [],
  create() {
    return { api: {} };
  },
});
