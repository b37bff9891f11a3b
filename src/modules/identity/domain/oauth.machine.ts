import { assign, setup } from 'xstate';
import type { OAuthFlowEvent, OAuthGrantEvent, OAuthRequestEvent } from './oauth.events.js';

export interface OAuthFlowContext {
  flowId: string;
  clientId: string;
  /** The user whose TOTP step is pending (state `mfa`), or who got the code. */
  userId: string | null;
  codeId: string | null;
  loginFailures: number;
}

/**
 * One authorization request on the login page: open -> mfa (password right, TOTP due) ->
 * completed (a code was issued) or denied (the user cancelled). Both ends are final: the
 * form that started the flow cannot produce a second code.
 */
export const oauthFlowMachine = setup({
  types: { context: {} as OAuthFlowContext, events: {} as OAuthFlowEvent },
}).createMachine({
  id: 'oauthflow',
  initial: 'open',
  context: { flowId: '', clientId: '', userId: null, codeId: null, loginFailures: 0 },
  on: {
    OAuthLoginFailed: {
      actions: assign(({ context, event }) => ({
        flowId: event.data.flowId,
        clientId: event.data.clientId,
        loginFailures: context.loginFailures + 1,
      })),
    },
  },
  states: {
    open: {
      on: {
        OAuthMfaChallenged: {
          target: 'mfa',
          actions: assign(({ event }) => ({ flowId: event.data.flowId, clientId: event.data.clientId, userId: event.data.userId })),
        },
        AuthorizationCodeIssued: {
          target: 'completed',
          actions: assign(({ event }) => ({
            flowId: event.data.flowId,
            clientId: event.data.clientId,
            userId: event.data.userId,
            codeId: event.data.codeId,
          })),
        },
        AuthorizationDenied: { target: 'denied', actions: assign(({ event }) => ({ flowId: event.data.flowId, clientId: event.data.clientId })) },
      },
    },
    mfa: {
      on: {
        // The form was submitted again (another user, or the same after going back).
        OAuthMfaChallenged: { actions: assign(({ event }) => ({ userId: event.data.userId })) },
        AuthorizationCodeIssued: { target: 'completed', actions: assign(({ event }) => ({ codeId: event.data.codeId })) },
        AuthorizationDenied: 'denied',
      },
    },
    completed: { type: 'final' },
    denied: { type: 'final' },
  },
});

export interface OAuthGrantContext {
  grantId: string;
  clientId: string;
  userId: string;
  organisationId: string | null;
  scope: string;
  /** The one refresh token of the grant that may still be exchanged. */
  refreshTokenId: string | null;
}

/**
 * What one authorization code grants: unredeemed (empty stream) -> active (redeemed; the
 * newest refresh token is live) -> revoked (the code or a refresh token was reused). Revoked
 * is not an XState final state on purpose: refusals of later requests are still appended to
 * the stream, and a stopped actor could not take them in.
 */
export const oauthGrantMachine = setup({
  types: { context: {} as OAuthGrantContext, events: {} as OAuthGrantEvent },
}).createMachine({
  id: 'oauthgrant',
  initial: 'unredeemed',
  context: { grantId: '', clientId: '', userId: '', organisationId: null, scope: '', refreshTokenId: null },
  states: {
    unredeemed: {
      on: {
        AuthorizationCodeRedeemed: {
          target: 'active',
          actions: assign(({ event }) => ({
            grantId: event.data.grantId,
            clientId: event.data.clientId,
            userId: event.data.userId,
            organisationId: event.data.organisationId,
            scope: event.data.scope,
            refreshTokenId: event.data.refreshTokenId,
          })),
        },
      },
    },
    active: {
      on: {
        RefreshTokenRotated: { actions: assign(({ event }) => ({ refreshTokenId: event.data.refreshTokenId })) },
        GrantRevoked: { target: 'revoked', actions: assign(() => ({ refreshTokenId: null })) },
      },
    },
    revoked: {},
  },
});

/** A single token request or refusal: one event, then done. */
export const oauthRequestMachine = setup({
  types: { context: {} as Record<string, never>, events: {} as OAuthRequestEvent },
}).createMachine({
  id: 'oauthrequest',
  initial: 'open',
  context: {},
  states: {
    open: { on: { OrganisationTokenIssued: 'done', OAuthRequestRefused: 'done' } },
    done: { type: 'final' },
  },
});
