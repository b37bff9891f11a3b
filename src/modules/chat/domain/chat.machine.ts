import { assign, setup } from 'xstate';
import type { ChatMode } from '../../../protocol/topics/chat.js';
import type { ChatEvent } from './chat.events.js';

/**
 * What decide needs of a conversation: who is in it, who took it (round-robin), and the
 * item's bans (on the item's own stream). Messages are not kept here: a chat of ten thousand
 * attendees would hold every message in memory; the few commands that need one (a reply's
 * parent, a removal, a publication) read it from the read model inside the stream's mailbox.
 */
export interface ChatContext {
  instanceId: string | null;
  itemId: string | null;
  main: boolean;
  mode: ChatMode;
  startedBy: string | null;
  /** Current participants of a started conversation, in the order they came. */
  participants: readonly string[];
  /** Round-robin: the operator who took it; null while it waits. */
  operator: string | null;
  /** The item's bans (its own stream only): user -> until (epoch ms), null for no end. */
  bans: Readonly<Record<string, number | null>>;
}

export const INITIAL_CHAT: ChatContext = { instanceId: null, itemId: null, main: false, mode: 'group', startedBy: null, participants: [], operator: null, bans: {} };

/** The pure fold of a conversation's events; the machine below is this, with its lifecycle as states. */
export function evolveChat(context: ChatContext, event: ChatEvent): ChatContext {
  switch (event.type) {
    case 'ChatInstanceStarted': {
      const { instanceId, itemId, main, mode, participants, startedBy } = event.data;
      return { ...context, instanceId, itemId, main, mode, participants: [...participants], startedBy };
    }
    case 'ChatParticipantsAdded':
      return { ...context, participants: [...context.participants, ...event.data.users.filter((user) => !context.participants.includes(user))] };
    case 'ChatParticipantLeft':
      return { ...context, participants: context.participants.filter((user) => user !== event.data.user) };
    case 'ChatInstanceActivated':
      return {
        ...context,
        operator: event.data.operator,
        participants: context.participants.includes(event.data.operator) ? context.participants : [...context.participants, event.data.operator],
      };
    case 'ChatUserBanned':
      return { ...context, bans: { ...context.bans, [event.data.user]: event.data.until } };
    case 'ChatUserUnbanned': {
      const { [event.data.user]: _lifted, ...bans } = context.bans;
      return { ...context, bans };
    }
    // Messages and closing change nothing decide reads (closing is the machine's final state).
    case 'ChatMessagePosted':
    case 'ChatMessagePublished':
    case 'ChatMessageRemoved':
    case 'ChatInstanceClosed':
      return context;
  }
}

/**
 * The `evolve` of a conversation: none -> open (its first event) -> closed (its last
 * participant left). The item's own chat never closes: it is whoever joins the item.
 */
export const chatMachine = setup({
  types: { context: {} as ChatContext, events: {} as ChatEvent },
  actions: { fold: assign(({ context, event }) => evolveChat(context, event)) },
}).createMachine({
  id: 'chat',
  initial: 'none',
  context: INITIAL_CHAT,
  states: {
    none: {
      on: { ChatInstanceStarted: { target: 'open', actions: 'fold' } },
    },
    open: {
      on: {
        ChatMessagePosted: { actions: 'fold' },
        ChatMessagePublished: { actions: 'fold' },
        ChatMessageRemoved: { actions: 'fold' },
        ChatParticipantsAdded: { actions: 'fold' },
        ChatParticipantLeft: { actions: 'fold' },
        ChatInstanceActivated: { actions: 'fold' },
        ChatUserBanned: { actions: 'fold' },
        ChatUserUnbanned: { actions: 'fold' },
        ChatInstanceClosed: { target: 'closed' },
      },
    },
    // Not final: a moderator may still remove a message of an ended conversation.
    closed: {
      on: { ChatMessageRemoved: { actions: 'fold' } },
    },
  },
});
