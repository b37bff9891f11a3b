import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts, JoinExtensions } from '../itineraries/index.js';
import { ChatAudiences } from './audiences.js';
import type { ChatConfig } from './config.js';
import { chatAggregate } from './domain/index.js';
import { ChatGate } from './gate.js';
import { chatProcessors } from './processors.js';
import { ChatDirectory, chatProjection } from './projection.js';
import { ChatReads } from './reads.js';
import { ChatCommands } from './service.js';
import { chatTopics } from './topics.js';
import { chatJoin } from '../../protocol/topics/chat.js';

export { chatConfigShape, type ChatConfig } from './config.js';
export { chatProjection, ChatDirectory, type MessageRecord, type InstanceRecord } from './projection.js';
export { ChatAudiences, type ChatFollower } from './audiences.js';
export { CHAT_CATEGORY, CHAT_EVENT_TYPES, chatAggregate, isChatEvent, type ChatEvent } from './domain/index.js';

export interface ChatDependencies extends ItemModulePorts {
  config: ChatConfig;
}

export interface ChatApi {
  directory: ChatDirectory;
  audiences: ChatAudiences;
  /** `consumer_chat_get` and `consumer_forum_get`: what the chat adds to the item join. */
  joinExtensions: JoinExtensions;
}

/**
 * Chat and forum items (PROTOCOL.md section 8): one stream per conversation
 * (`chat-<instanceId>`; the item's own chat is named by the item's id), messages with who may
 * read them, moderation (pre-moderation, private chats, removal, bans), threads, direct and
 * round-robin conversations; history from the read model, pushes from the log to the sockets
 * following each conversation.
 */
export const chatModule = defineModule<ChatDependencies, ChatApi, ClientConnection>({
  name: 'chat',
  aggregates: [chatAggregate],
  projections: [chatProjection],
  create({ runtime, store, config, connections, items, events, access, users, audiences: eventAudiences, logger }) {
    const directory = new ChatDirectory(store.readModels);
    const audiences = new ChatAudiences(connections, config.chatInstancesPerConnection);
    const gate = new ChatGate({ items, events, access, users }, config.chatItemCacheSize);
    const commands = new ChatCommands({ runtime, directory, audiences, gate, config });
    const reads = new ChatReads({ directory, audiences, gate, config });
    const join: JoinExtensions[string] = ({ client, item, data }) => reads.join(client, item, chatJoin.parse(data));
    return {
      api: { directory, audiences, joinExtensions: { chat: join, forum: join } },
      topics: chatTopics({ commands, reads }),
      processors: chatProcessors({ audiences, directory, gate, eventAudiences, logger }),
    };
  },
});
