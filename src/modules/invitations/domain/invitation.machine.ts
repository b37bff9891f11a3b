import { assign, setup } from 'xstate';
import { mailKey, type InvitationEvent } from './invitation.events.js';

export interface InvitationContext {
  invitationId: string | null;
  itemId: string | null;
  email: string | null;
  ticketJti: string | null;
  sequence: number;
  /** Mails sent, by mailKey: a mail is recorded sent once. */
  mailsSent: Record<string, true>;
  /** Failed attempts by mailKey, for the next attempt's number. */
  attempts: Record<string, number>;
}

/**
 * The `evolve` of an invitation: none -> issued -> exchanged (its ticket used), and from either
 * -> revoked. Revoked is not final: the CANCEL mail's sends and failures are still recorded on
 * the stream.
 */
export const invitationMachine = setup({
  types: { context: {} as InvitationContext, events: {} as InvitationEvent },
}).createMachine({
  id: 'invitation',
  initial: 'none',
  context: { invitationId: null, itemId: null, email: null, ticketJti: null, sequence: 0, mailsSent: {}, attempts: {} },
  states: {
    none: {
      on: {
        InvitationIssued: {
          target: 'issued',
          actions: assign(({ event }) => ({
            invitationId: event.data.invitationId,
            itemId: event.data.itemId,
            email: event.data.email,
            ticketJti: event.data.ticketJti,
            sequence: event.data.sequence,
          })),
        },
      },
    },
    issued: {
      on: {
        TicketExchanged: { target: 'exchanged' },
        InvitationUpdated: { actions: assign(({ event }) => ({ sequence: event.data.sequence })) },
        InvitationRevoked: { target: 'revoked' },
        InvitationMailSent: {
          actions: assign(({ context, event }) => ({ mailsSent: { ...context.mailsSent, [mailKey(event.data.sequence, event.data.method)]: true as const } })),
        },
        InvitationMailFailed: {
          actions: assign(({ context, event }) => ({ attempts: { ...context.attempts, [mailKey(event.data.sequence, event.data.method)]: event.data.attempt } })),
        },
      },
    },
    exchanged: {
      on: {
        InvitationUpdated: { actions: assign(({ event }) => ({ sequence: event.data.sequence })) },
        InvitationRevoked: { target: 'revoked' },
        InvitationMailSent: {
          actions: assign(({ context, event }) => ({ mailsSent: { ...context.mailsSent, [mailKey(event.data.sequence, event.data.method)]: true as const } })),
        },
        InvitationMailFailed: {
          actions: assign(({ context, event }) => ({ attempts: { ...context.attempts, [mailKey(event.data.sequence, event.data.method)]: event.data.attempt } })),
        },
      },
    },
    revoked: {
      on: {
        InvitationMailSent: {
          actions: assign(({ context, event }) => ({ mailsSent: { ...context.mailsSent, [mailKey(event.data.sequence, event.data.method)]: true as const } })),
        },
        InvitationMailFailed: {
          actions: assign(({ context, event }) => ({ attempts: { ...context.attempts, [mailKey(event.data.sequence, event.data.method)]: event.data.attempt } })),
        },
      },
    },
  },
});
