/**
 * Events of the OAuth2 authorization server (PROTOCOL.md section 1: `/auth/oauth2/*`): the
 * audit trail of every code, token issue and refusal. Three kinds of stream:
 *
 * - `oauthflow-<flowId>`: one authorization request on the login page, from its form to its
 *   code. The flow id is the `jti` of the signed form token, so one form yields one code.
 * - `oauthgrant-<codeId>`: what one authorization code grants. Its first event is the code's
 *   redemption, appended to an empty stream (expected version 0, the store's `no_stream`), so
 *   exactly one redemption of a code can ever commit, across processes and restarts. Refresh
 *   token rotations follow on the same stream: only the newest refresh token is live.
 * - `oauthrequest-<requestId>`: one token or authorization request that belongs to neither
 *   (client credentials, and refusals before a flow or grant is known). One event each.
 *
 * Secrets never appear here: tokens are named by their `jti`, never by their text.
 */

export const OAUTH_CATEGORIES = {
  flow: 'oauthflow',
  grant: 'oauthgrant',
  request: 'oauthrequest',
} as const;

/** RFC 6749 error codes (sections 4.1.2.1 and 5.2), as sent to clients. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  // RFC 8628 section 3.5's "slow down", here for client-secret guesses past their budget (429).
  | 'slow_down';

export type OAuthLoginFailureReason = 'unknown_user_or_password' | 'disabled' | 'rate_limited' | 'browser_mismatch';

export type OAuthFlowEvent =
  | {
      type: 'OAuthLoginFailed';
      data: { flowId: string; clientId: string; username: string; reason: OAuthLoginFailureReason; remoteAddress: string };
    }
  /** The password was right and the user has TOTP enrolled: the code waits for the second factor. */
  | { type: 'OAuthMfaChallenged'; data: { flowId: string; clientId: string; userId: string; remoteAddress: string } }
  | { type: 'OAuthMfaFailed'; data: { flowId: string; clientId: string; userId: string; reason: 'invalid' | 'locked'; remoteAddress: string } }
  | {
      type: 'AuthorizationCodeIssued';
      data: {
        flowId: string;
        clientId: string;
        userId: string;
        organisationId: string | null;
        /** The code's `jti`; its redemption is the first event of `oauthgrant-<codeId>`. */
        codeId: string;
        redirectUri: string;
        scope: string;
        /** Whether the code is bound to a PKCE (S256) challenge. */
        pkce: boolean;
        method: 'password' | 'mfa';
        expiresAt: number;
        remoteAddress: string;
      };
    }
  /** The user cancelled on the login page; the client gets `access_denied`. */
  | { type: 'AuthorizationDenied'; data: { flowId: string; clientId: string; userId: string | null; remoteAddress: string } };

export type OAuthGrantRevocationReason = 'code_reuse' | 'refresh_token_reuse';

export type OAuthGrantEvent =
  | {
      type: 'AuthorizationCodeRedeemed';
      data: {
        grantId: string;
        clientId: string;
        userId: string;
        organisationId: string | null;
        scope: string;
        accessTokenId: string;
        accessExpiresAt: number;
        refreshTokenId: string;
        refreshExpiresAt: number;
        remoteAddress: string;
        redeemedAt: number;
      };
    }
  /** A second redemption of the code; the grant is revoked with it (RFC 6749 section 4.1.2). */
  | { type: 'AuthorizationCodeReuseRefused'; data: { grantId: string; clientId: string; remoteAddress: string } }
  | {
      type: 'RefreshTokenRotated';
      data: {
        grantId: string;
        clientId: string;
        userId: string;
        previousRefreshTokenId: string;
        accessTokenId: string;
        accessExpiresAt: number;
        refreshTokenId: string;
        refreshExpiresAt: number;
        remoteAddress: string;
        rotatedAt: number;
      };
    }
  | {
      type: 'RefreshTokenRefused';
      data: {
        grantId: string;
        clientId: string;
        refreshTokenId: string;
        reason: 'reused' | 'revoked' | 'user_disabled' | 'wrong_client';
        remoteAddress: string;
      };
    }
  /** No refresh token of the grant works any more (access tokens run out on their own). */
  | { type: 'GrantRevoked'; data: { grantId: string; reason: OAuthGrantRevocationReason; revokedAt: number } };

export type OAuthRequestEvent =
  | {
      type: 'OrganisationTokenIssued';
      data: { requestId: string; clientId: string; organisationId: string; tokenId: string; expiresAt: number; remoteAddress: string };
    }
  | {
      type: 'OAuthRequestRefused';
      data: {
        requestId: string;
        endpoint: 'authorize' | 'token';
        grantType: string | null;
        /** As the request named it (truncated): it may not be a registered client. */
        clientId: string | null;
        error: OAuthErrorCode;
        /** Why, for operators; a fixed vocabulary, never the request's own text. */
        reason: string;
        /** The flow or grant the request pointed at, when its token verified. */
        flowId?: string;
        grantId?: string;
        remoteAddress: string;
      };
    };

export type OAuthEvent = OAuthFlowEvent | OAuthGrantEvent | OAuthRequestEvent;

/**
 * Every OAuth event type by the category of stream it is written to (the event catalogue);
 * `satisfies` fails to compile when a union gains a type not listed here.
 */
export const OAUTH_FLOW_EVENT_TYPES = Object.keys({
  OAuthLoginFailed: true,
  OAuthMfaChallenged: true,
  OAuthMfaFailed: true,
  AuthorizationCodeIssued: true,
  AuthorizationDenied: true,
} satisfies Record<OAuthFlowEvent['type'], true>) as readonly OAuthFlowEvent['type'][];
export const OAUTH_GRANT_EVENT_TYPES = Object.keys({
  AuthorizationCodeRedeemed: true,
  AuthorizationCodeReuseRefused: true,
  RefreshTokenRotated: true,
  RefreshTokenRefused: true,
  GrantRevoked: true,
} satisfies Record<OAuthGrantEvent['type'], true>) as readonly OAuthGrantEvent['type'][];
export const OAUTH_REQUEST_EVENT_TYPES = Object.keys({
  OrganisationTokenIssued: true,
  OAuthRequestRefused: true,
} satisfies Record<OAuthRequestEvent['type'], true>) as readonly OAuthRequestEvent['type'][];
