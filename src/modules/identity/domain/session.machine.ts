import { assign, setup } from 'xstate';
import type { SessionEvent } from './session.events.js';

export interface SessionContext {
  organisationId: string | null;
  userId: string | null;
  username: string | null;
  groups: string[];
  app: string | null;
  /** The user whose TOTP step is pending after a password login. */
  mfaUserId: string | null;
}

const signedOut = { userId: null, username: null, groups: [], app: null, mfaUserId: null };

/**
 * A connection's session: anonymous -> organisation (a client token named the organisation)
 * -> mfaPending (password accepted, TOTP outstanding) -> authorized; logout returns to where
 * the organisation left it; an operator ends it for good.
 */
export const sessionMachine = setup({
  types: { context: {} as SessionContext, events: {} as SessionEvent },
}).createMachine({
  id: 'session',
  initial: 'anonymous',
  context: { organisationId: null, ...signedOut },
  on: {
    SessionEnded: '.ended',
    OrganisationAuthenticated: {
      target: '.organisation',
      actions: assign(({ event }) => ({ organisationId: event.data.organisationId, ...signedOut })),
    },
    SessionAuthorized: {
      target: '.authorized',
      actions: assign(({ context, event }) => ({
        userId: event.data.userId,
        groups: event.data.groups,
        organisationId: event.data.organisationId ?? context.organisationId,
        mfaUserId: null,
      })),
    },
    AppSessionStarted: { target: '.authorized', actions: assign(({ event }) => ({ app: event.data.app })) },
    LoginSucceeded: [
      {
        guard: ({ event }) => event.data.mfaRequired,
        target: '.mfaPending',
        actions: assign(({ event }) => ({ mfaUserId: event.data.userId, username: event.data.username })),
      },
      { actions: assign(({ event }) => ({ username: event.data.username })) },
    ],
    LoggedOut: [
      { guard: ({ context }) => context.organisationId !== null, target: '.organisation', actions: assign(() => signedOut) },
      { target: '.anonymous', actions: assign(() => signedOut) },
    ],
  },
  states: {
    anonymous: {},
    organisation: {},
    mfaPending: {
      on: {
        MfaPassed: {},
        MfaFailed: {},
      },
    },
    authorized: {},
    ended: { type: 'final' },
  },
});
