import { assign, setup } from 'xstate';
import type { AuthMethod, SessionEvent } from './session.events.js';

export interface SessionContext {
  organisationId: string | null;
  /** The OAuth client whose token named the organisation. */
  clientId?: string | null;
  /** How the user was authorized (SessionAuthorized), for a principal rebuilt on another node. */
  method?: AuthMethod | null;
  /** The digest of the app session's token (TokenIssued), likewise. */
  sessionTokenDigest?: string | null;
  userId: string | null;
  username: string | null;
  groups: string[];
  app: string | null;
  /** The user whose TOTP step is pending after a password login. */
  mfaUserId: string | null;
}

const signedOut = { userId: null, username: null, groups: [], app: null, mfaUserId: null, method: null, sessionTokenDigest: null };

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
      actions: assign(({ event }) => ({ organisationId: event.data.organisationId, clientId: event.data.clientId, ...signedOut })),
    },
    SessionAuthorized: {
      target: '.authorized',
      actions: assign(({ context, event }) => ({
        userId: event.data.userId,
        groups: event.data.groups,
        organisationId: event.data.organisationId ?? context.organisationId,
        mfaUserId: null,
        method: event.data.method,
      })),
    },
    TokenIssued: {
      actions: assign(({ context, event }) =>
        event.data.kind === 'session' && event.data.digest !== undefined ? { sessionTokenDigest: event.data.digest } : { sessionTokenDigest: context.sessionTokenDigest ?? null },
      ),
    },
    AppSessionStarted: { target: '.authorized', actions: assign(({ event }) => ({ app: event.data.app, method: null })) },
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
