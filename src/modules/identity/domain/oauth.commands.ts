import type { OAuthErrorCode, OAuthLoginFailureReason } from './oauth.events.js';

/**
 * Commands carry what the edge verified (signatures, password, TOTP code, PKCE verifier,
 * whether the user is active): the domain decides what follows from the stream's history
 * (one code per form, one redemption per code, only the newest refresh token) and never
 * checks secrets itself.
 */
export type OAuthFlowCommand =
  | { type: 'RecordOAuthLoginFailure'; flowId: string; clientId: string; username: string; reason: OAuthLoginFailureReason; remoteAddress: string }
  | { type: 'ChallengeOAuthMfa'; flowId: string; clientId: string; userId: string; remoteAddress: string }
  | { type: 'RecordOAuthMfaFailure'; flowId: string; clientId: string; userId: string; reason: 'invalid' | 'locked'; remoteAddress: string }
  | {
      type: 'IssueAuthorizationCode';
      flowId: string;
      clientId: string;
      userId: string;
      organisationId: string | null;
      codeId: string;
      redirectUri: string;
      scope: string;
      pkce: boolean;
      /** `password`: the password alone (the user has no MFA); `mfa`: after a TOTP code. */
      method: 'password' | 'mfa';
      mfaRequired: boolean;
      expiresAt: number;
      remoteAddress: string;
    }
  | { type: 'DenyAuthorization'; flowId: string; clientId: string; remoteAddress: string };

export type OAuthGrantCommand =
  | {
      type: 'RedeemAuthorizationCode';
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
      now: number;
    }
  | {
      type: 'RotateRefreshToken';
      clientId: string;
      /** The `jti` of the refresh token presented. */
      presentedRefreshTokenId: string;
      userActive: boolean;
      accessTokenId: string;
      accessExpiresAt: number;
      refreshTokenId: string;
      refreshExpiresAt: number;
      remoteAddress: string;
      now: number;
    };

export type OAuthRequestCommand =
  | {
      type: 'IssueOrganisationToken';
      requestId: string;
      clientId: string;
      organisationId: string;
      tokenId: string;
      expiresAt: number;
      remoteAddress: string;
    }
  | {
      type: 'RefuseOAuthRequest';
      requestId: string;
      endpoint: 'authorize' | 'token';
      grantType: string | null;
      clientId: string | null;
      error: OAuthErrorCode;
      reason: string;
      flowId?: string;
      grantId?: string;
      remoteAddress: string;
    };
