import { assign, setup } from 'xstate';
import type { NoticeEvent, NoticeReadsEvent } from './notice.events.js';

export interface NoticeContext {
  noticeId: string | null;
  eventId: string | null;
}

/** The `evolve` of one notice: none -> sent. Nothing changes a sent notice yet. */
export const noticeMachine = setup({
  types: { context: {} as NoticeContext, events: {} as NoticeEvent },
}).createMachine({
  id: 'notice',
  initial: 'none',
  context: { noticeId: null, eventId: null },
  states: {
    none: {
      on: { NoticeSent: { target: 'sent', actions: assign(({ event }) => ({ noticeId: event.data.noticeId, eventId: event.data.eventId })) } },
    },
    sent: {},
  },
});

export interface NoticeReadsContext {
  /** The notices this user has read: a notice is read once. */
  read: Record<string, true>;
}

/** The `evolve` of one reader's stream: the set of notices read. */
export const noticeReadsMachine = setup({
  types: { context: {} as NoticeReadsContext, events: {} as NoticeReadsEvent },
}).createMachine({
  id: 'notice-reads',
  context: { read: {} },
  on: {
    NoticeRead: { actions: assign(({ context, event }) => ({ read: { ...context.read, [event.data.noticeId]: true as const } })) },
  },
});
