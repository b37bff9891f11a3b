import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { OAuthFlowCommand, OAuthGrantCommand, OAuthRequestCommand } from './oauth.commands.js';
import type { OAuthFlowEvent, OAuthGrantEvent, OAuthRequestEvent } from './oauth.events.js';
import type { oauthFlowMachine, oauthGrantMachine, oauthRequestMachine } from './oauth.machine.js';

export type OAuthFlowSnapshot = SnapshotFrom<typeof oauthFlowMachine>;
export type OAuthGrantSnapshot = SnapshotFrom<typeof oauthGrantMachine>;
export type OAuthRequestSnapshot = SnapshotFrom<typeof oauthRequestMachine>;

/** Refusals that end a login page's flow; the page shows the message. */
const flowFinished = () => new AppError('CONFLICT', 'this sign-in is already finished; return to the application and start again');

export function decideOAuthFlow(command: OAuthFlowCommand, snapshot: OAuthFlowSnapshot): OAuthFlowEvent[] {
  if (snapshot.status === 'done') throw flowFinished();
  const { context } = snapshot;
  switch (command.type) {
    case 'RecordOAuthLoginFailure': {
      const { flowId, clientId, username, reason, remoteAddress } = command;
      return [{ type: 'OAuthLoginFailed', data: { flowId, clientId, username, reason, remoteAddress } }];
    }
    case 'ChallengeOAuthMfa': {
      const { flowId, clientId, userId, remoteAddress } = command;
      return [{ type: 'OAuthMfaChallenged', data: { flowId, clientId, userId, remoteAddress } }];
    }
    case 'RecordOAuthMfaFailure': {
      if (!snapshot.matches('mfa') || context.userId !== command.userId) throw new AppError('FORBIDDEN', 'no MFA step is pending for this user');
      const { flowId, clientId, userId, reason, remoteAddress } = command;
      return [{ type: 'OAuthMfaFailed', data: { flowId, clientId, userId, reason, remoteAddress } }];
    }
    case 'IssueAuthorizationCode': {
      // A code after the TOTP step only for the user challenged on this flow; a code after the
      // password alone only for a user without MFA. The edge checked the factors themselves.
      if (command.method === 'mfa' && (!snapshot.matches('mfa') || context.userId !== command.userId)) {
        throw new AppError('FORBIDDEN', 'no MFA step is pending for this user');
      }
      if (command.method === 'password' && command.mfaRequired) throw new AppError('FORBIDDEN', 'this user must pass the MFA step first');
      const { type: _type, mfaRequired: _mfaRequired, ...data } = command;
      return [{ type: 'AuthorizationCodeIssued', data }];
    }
    case 'DenyAuthorization':
      return [
        {
          type: 'AuthorizationDenied',
          data: { flowId: command.flowId, clientId: command.clientId, userId: context.userId, remoteAddress: command.remoteAddress },
        },
      ];
  }
}

/**
 * A code's grant. A second redemption is refused and revokes the grant; a refresh token that
 * is not the newest one is a replay (one of the two holders is not the client) and revokes it
 * too, so the refresh token the rightful client holds stops working and it has to sign in again.
 */
export function decideOAuthGrant(command: OAuthGrantCommand, snapshot: OAuthGrantSnapshot): OAuthGrantEvent[] {
  const { context } = snapshot;
  switch (command.type) {
    case 'RedeemAuthorizationCode': {
      if (snapshot.matches('unredeemed')) {
        const { type: _type, now, ...data } = command;
        return [{ type: 'AuthorizationCodeRedeemed', data: { ...data, redeemedAt: now } }];
      }
      const refused: OAuthGrantEvent = {
        type: 'AuthorizationCodeReuseRefused',
        data: { grantId: context.grantId, clientId: command.clientId, remoteAddress: command.remoteAddress },
      };
      if (snapshot.matches('revoked')) return [refused];
      return [refused, { type: 'GrantRevoked', data: { grantId: context.grantId, reason: 'code_reuse', revokedAt: command.now } }];
    }
    case 'RotateRefreshToken': {
      if (snapshot.matches('unredeemed')) throw new AppError('NOT_FOUND', 'no such grant');
      const refuse = (reason: 'reused' | 'revoked' | 'user_disabled' | 'wrong_client'): OAuthGrantEvent => ({
        type: 'RefreshTokenRefused',
        data: {
          grantId: context.grantId,
          clientId: command.clientId,
          refreshTokenId: command.presentedRefreshTokenId,
          reason,
          remoteAddress: command.remoteAddress,
        },
      });
      if (snapshot.matches('revoked')) return [refuse('revoked')];
      if (command.clientId !== context.clientId) return [refuse('wrong_client')];
      if (command.presentedRefreshTokenId !== context.refreshTokenId) {
        return [refuse('reused'), { type: 'GrantRevoked', data: { grantId: context.grantId, reason: 'refresh_token_reuse', revokedAt: command.now } }];
      }
      if (!command.userActive) return [refuse('user_disabled')];
      return [
        {
          type: 'RefreshTokenRotated',
          data: {
            grantId: context.grantId,
            clientId: context.clientId,
            userId: context.userId,
            previousRefreshTokenId: command.presentedRefreshTokenId,
            accessTokenId: command.accessTokenId,
            accessExpiresAt: command.accessExpiresAt,
            refreshTokenId: command.refreshTokenId,
            refreshExpiresAt: command.refreshExpiresAt,
            remoteAddress: command.remoteAddress,
            rotatedAt: command.now,
          },
        },
      ];
    }
  }
}

export function decideOAuthRequest(command: OAuthRequestCommand, snapshot: OAuthRequestSnapshot): OAuthRequestEvent[] {
  if (snapshot.status === 'done') throw new AppError('CONFLICT', 'request already recorded');
  switch (command.type) {
    case 'IssueOrganisationToken': {
      const { type: _type, ...data } = command;
      return [{ type: 'OrganisationTokenIssued', data }];
    }
    case 'RefuseOAuthRequest': {
      const { type: _type, ...data } = command;
      return [{ type: 'OAuthRequestRefused', data }];
    }
  }
}
