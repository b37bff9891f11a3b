import type { AggregateDefinition } from '../../../core/index.js';
import type { ChatCommand } from './chat.commands.js';
import { decideChat } from './chat.decide.js';
import { CHAT_CATEGORY } from './chat.events.js';
import { chatMachine } from './chat.machine.js';

export * from './chat.events.js';
export * from './chat.commands.js';
export * from './visibility.js';
export { chatMachine, evolveChat, INITIAL_CHAT, type ChatContext } from './chat.machine.js';
export { decideChat, banOf, bannedError, type ChatSnapshot } from './chat.decide.js';

export const chatAggregate: AggregateDefinition<typeof chatMachine, ChatCommand> = {
  category: CHAT_CATEGORY,
  machine: chatMachine,
  decide: decideChat,
  // Loaded from its stream when a command or a read reaches it: most items' chats are quiet,
  // and the messages on a stream change nothing the fold keeps, so a load is a quick pass.
  rebuildAtStart: false,
  // Only a live conversation is worth an actor: one that never started (a send to a made-up
  // instance id, an item's chat nobody posted in yet) or has ended is reloaded from its
  // stream when a command reaches it, so refused commands leave nothing in memory.
  keepWhile: (snapshot) => snapshot.matches('open'),
};
