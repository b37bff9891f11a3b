import type { ClientConnection } from '../../edge/index.js';
import {
  CHAT_TOPICS,
  chatAdd,
  chatBan,
  chatLeave,
  chatModeratorGet,
  chatOpen,
  chatPublish,
  chatRemove,
  chatSend,
  chatStart,
  chatTake,
} from '../../protocol/topics/chat.js';
import { SERVICE_TOPICS } from '../../protocol/topics/extream.js';
import { commandMetadata, defineCommandTopic, type AnyTopic, type TopicRequest, type TopicSchema } from '../../runtime/index.js';
import type { ChatCommandContext, ChatOutcome } from './readers.js';
import type { ChatReads } from './reads.js';
import type { ChatCommands } from './service.js';

export interface ChatTopicDependencies {
  commands: ChatCommands;
  reads: ChatReads;
}

/**
 * The chat topics of PROTOCOL.md section 8 (`ex-discussion`), answered the Extream way: the
 * receipt once the change is in the log (its position), then the result. Reads answer the
 * result only. Guests are refused by the pipeline (none of these admits them): a guest token
 * is for its call. Consumer reads need login only for a private event; posting, starting and
 * every client command need a signed-in user (or the organisation's credential).
 */
export function chatTopics({ commands, reads }: ChatTopicDependencies): AnyTopic<ClientConnection>[] {
  const command = <Data>(
    name: string,
    schema: TopicSchema<Data>,
    requiresLogin: boolean,
    run: (client: ClientConnection, data: Data, context: ChatCommandContext) => Promise<ChatOutcome> | ChatOutcome,
  ) =>
    defineCommandTopic<Data, ClientConnection>({
      name,
      schema,
      serviceTopic: SERVICE_TOPICS.discussion,
      requiresLogin,
      execute: async (request: TopicRequest<Data, ClientConnection>) => {
        const outcome = await run(request.client, request.data, { metadata: commandMetadata(request), now: request.now });
        return { position: outcome.position, status: outcome.status ?? 200, response: outcome.response, ...(outcome.meta ? { meta: outcome.meta } : {}) };
      },
    });

  return [
    command(CHAT_TOPICS.start, chatStart, true, (client, data, context) => commands.start(client, data, context)),
    command(CHAT_TOPICS.open, chatOpen, false, (client, data) => reads.open(client, data)),
    command(CHAT_TOPICS.send, chatSend, true, (client, data, context) => commands.send(client, data, context)),
    command(CHAT_TOPICS.remove, chatRemove, true, (client, data, context) => commands.remove(client, data, context)),
    command(CHAT_TOPICS.leave, chatLeave, false, (client, data, context) => commands.leave(client, data, context)),
    command(CHAT_TOPICS.add, chatAdd, true, (client, data, context) => commands.add(client, data, context)),
    command(CHAT_TOPICS.ban, chatBan, true, (client, data, context) => commands.ban(client, data, context)),
    command(CHAT_TOPICS.publish, chatPublish, true, (client, data, context) => commands.publish(client, data, context)),
    command(CHAT_TOPICS.moderatorGet, chatModeratorGet, true, (client, data) => reads.moderatorView(client, data)),
    command(CHAT_TOPICS.take, chatTake, true, (client, data, context) => commands.take(client, data, context)),
  ];
}
