import { describe, expect, it } from 'vitest';
import {
  oauthFlowAggregate,
  oauthGrantAggregate,
  oauthRequestAggregate,
  type OAuthFlowCommand,
  type OAuthFlowEvent,
  type OAuthGrantCommand,
  type OAuthGrantEvent,
  type OAuthRequestCommand,
} from '../../src/modules/identity/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/** Given past events (folded purely by the machine), when a command, then events or an error. */

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const ADDRESS = '192.0.2.7';

const flow = deciderSpec(oauthFlowAggregate);
const grant = deciderSpec(oauthGrantAggregate);
const request = deciderSpec(oauthRequestAggregate);

describe('oauth flow (one login form)', () => {
  const issue: Extract<OAuthFlowCommand, { type: 'IssueAuthorizationCode' }> = {
    type: 'IssueAuthorizationCode',
    flowId: 'f1',
    clientId: 'c1',
    userId: 'u1',
    organisationId: 'o1',
    codeId: 'code1',
    redirectUri: 'https://app.example/cb',
    scope: 'rooms',
    pkce: true,
    method: 'password',
    mfaRequired: false,
    expiresAt: T0 + 60_000,
    remoteAddress: ADDRESS,
  };
  const challenged: OAuthFlowEvent = { type: 'OAuthMfaChallenged', data: { flowId: 'f1', clientId: 'c1', userId: 'u1', remoteAddress: ADDRESS } };
  const issued: OAuthFlowEvent = {
    type: 'AuthorizationCodeIssued',
    data: {
      flowId: 'f1',
      clientId: 'c1',
      userId: 'u1',
      organisationId: 'o1',
      codeId: 'code1',
      redirectUri: 'https://app.example/cb',
      scope: 'rooms',
      pkce: true,
      method: 'password',
      expiresAt: T0 + 60_000,
      remoteAddress: ADDRESS,
    },
  };

  it('given an open form, issues a code after the password alone for a user without MFA', () => {
    flow.given().when(issue).then([issued]);
  });

  it('refuses a code after the password alone when the user has MFA', () => {
    flow.given().when({ ...issue, mfaRequired: true }).thenThrows('FORBIDDEN');
  });

  it('issues a code after the TOTP step only for the user challenged on this flow', () => {
    const mfa = { ...issue, method: 'mfa' as const, mfaRequired: true };
    flow.given().when(mfa).thenThrows('FORBIDDEN');
    flow.given([challenged]).when({ ...mfa, userId: 'u2' }).thenThrows('FORBIDDEN');
    flow.given([challenged]).when(mfa).then([{ ...issued, data: { ...issued.data, method: 'mfa' } }]);
  });

  it('is finished once a code was issued or the user cancelled: one form, one code', () => {
    const done = flow.given([issued]);
    expect(done.state.status).toBe('done');
    done.when(issue).thenThrows('CONFLICT');
    const denied = flow.given([{ type: 'AuthorizationDenied', data: { flowId: 'f1', clientId: 'c1', userId: null, remoteAddress: ADDRESS } }]);
    denied.when({ type: 'ChallengeOAuthMfa', flowId: 'f1', clientId: 'c1', userId: 'u1', remoteAddress: ADDRESS }).thenThrows('CONFLICT');
  });

  it('records login failures and keeps the form open', () => {
    const failure: OAuthFlowCommand = { type: 'RecordOAuthLoginFailure', flowId: 'f1', clientId: 'c1', username: 'eve', reason: 'unknown_user_or_password', remoteAddress: ADDRESS };
    const { events, after } = flow.given().when(failure);
    expect(events[0]).toEqual({ type: 'OAuthLoginFailed', data: { flowId: 'f1', clientId: 'c1', username: 'eve', reason: 'unknown_user_or_password', remoteAddress: ADDRESS } });
    expect(after.state.value).toBe('open');
    expect(after.state.context.loginFailures).toBe(1);
  });

  it('names the challenged user on a cancel after the password step', () => {
    const [event] = flow.given([challenged]).when({ type: 'DenyAuthorization', flowId: 'f1', clientId: 'c1', remoteAddress: ADDRESS }).events;
    expect(event).toEqual({ type: 'AuthorizationDenied', data: { flowId: 'f1', clientId: 'c1', userId: 'u1', remoteAddress: ADDRESS } });
  });
});

describe('oauth grant (one authorization code)', () => {
  const redeem: Extract<OAuthGrantCommand, { type: 'RedeemAuthorizationCode' }> = {
    type: 'RedeemAuthorizationCode',
    grantId: 'g1',
    clientId: 'c1',
    userId: 'u1',
    organisationId: 'o1',
    scope: 'rooms',
    accessTokenId: 'a1',
    accessExpiresAt: T0 + 3_600_000,
    refreshTokenId: 'r1',
    refreshExpiresAt: T0 + 86_400_000,
    remoteAddress: ADDRESS,
    now: T0,
  };
  const redeemed: OAuthGrantEvent = {
    type: 'AuthorizationCodeRedeemed',
    data: {
      grantId: 'g1',
      clientId: 'c1',
      userId: 'u1',
      organisationId: 'o1',
      scope: 'rooms',
      accessTokenId: 'a1',
      accessExpiresAt: T0 + 3_600_000,
      refreshTokenId: 'r1',
      refreshExpiresAt: T0 + 86_400_000,
      remoteAddress: ADDRESS,
      redeemedAt: T0,
    },
  };
  const rotate: Extract<OAuthGrantCommand, { type: 'RotateRefreshToken' }> = {
    type: 'RotateRefreshToken',
    clientId: 'c1',
    presentedRefreshTokenId: 'r1',
    userActive: true,
    accessTokenId: 'a2',
    accessExpiresAt: T0 + 7_200_000,
    refreshTokenId: 'r2',
    refreshExpiresAt: T0 + 90_000_000,
    remoteAddress: ADDRESS,
    now: T0 + 3_600_000,
  };
  const revoked = (reason: 'code_reuse' | 'refresh_token_reuse', at: number): OAuthGrantEvent => ({
    type: 'GrantRevoked',
    data: { grantId: 'g1', reason, revokedAt: at },
  });

  it('given nothing, redeems the code', () => {
    grant.given().when(redeem).then([redeemed]);
  });

  it('given a redemption, refuses a second one and revokes the grant', () => {
    grant
      .given([redeemed])
      .when({ ...redeem, accessTokenId: 'a9', refreshTokenId: 'r9' })
      .then([{ type: 'AuthorizationCodeReuseRefused', data: { grantId: 'g1', clientId: 'c1', remoteAddress: ADDRESS } }, revoked('code_reuse', T0)]);
  });

  it('given a revoked grant, refuses again without revoking twice', () => {
    const { events } = grant.given([redeemed, revoked('code_reuse', T0)]).when(redeem);
    expect(events.map((event) => event.type)).toEqual(['AuthorizationCodeReuseRefused']);
  });

  it('rotates the newest refresh token', () => {
    const { events, after } = grant.given([redeemed]).when(rotate);
    expect(events[0]).toMatchObject({ type: 'RefreshTokenRotated', data: { previousRefreshTokenId: 'r1', refreshTokenId: 'r2', userId: 'u1' } });
    expect(after.state.context.refreshTokenId).toBe('r2');
  });

  it('treats an older refresh token as a replay: refused, and the grant revoked', () => {
    const rotated = grant.given([redeemed]).when(rotate).after;
    const after = rotated
      .when({ ...rotate, refreshTokenId: 'r3' })
      .then([
        { type: 'RefreshTokenRefused', data: { grantId: 'g1', clientId: 'c1', refreshTokenId: 'r1', reason: 'reused', remoteAddress: ADDRESS } },
        revoked('refresh_token_reuse', T0 + 3_600_000),
      ]);
    expect(after.state.value).toBe('revoked');
    // The newest token is dead as well.
    after
      .when({ ...rotate, presentedRefreshTokenId: 'r2' })
      .then([{ type: 'RefreshTokenRefused', data: { grantId: 'g1', clientId: 'c1', refreshTokenId: 'r2', reason: 'revoked', remoteAddress: ADDRESS } }]);
  });

  it('refuses the refresh of a disabled user without revoking, and of another client', () => {
    grant
      .given([redeemed])
      .when({ ...rotate, userActive: false })
      .then([{ type: 'RefreshTokenRefused', data: { grantId: 'g1', clientId: 'c1', refreshTokenId: 'r1', reason: 'user_disabled', remoteAddress: ADDRESS } }]);
    const [other] = grant.given([redeemed]).when({ ...rotate, clientId: 'c2' }).events;
    expect(other).toMatchObject({ type: 'RefreshTokenRefused', data: { reason: 'wrong_client', clientId: 'c2' } });
  });

  it('has nothing to rotate before the code is redeemed', () => {
    grant.given().when(rotate).thenThrows('NOT_FOUND');
  });
});

describe('oauth request (one token request or refusal)', () => {
  const refuse: OAuthRequestCommand = {
    type: 'RefuseOAuthRequest',
    requestId: 'q1',
    endpoint: 'token',
    grantType: 'authorization_code',
    clientId: 'c1',
    error: 'invalid_grant',
    reason: 'pkce_mismatch',
    grantId: 'g1',
    remoteAddress: ADDRESS,
  };

  it('records one event and is done', () => {
    const { events, after } = request.given().when(refuse);
    expect(events[0]).toEqual({
      type: 'OAuthRequestRefused',
      data: { requestId: 'q1', endpoint: 'token', grantType: 'authorization_code', clientId: 'c1', error: 'invalid_grant', reason: 'pkce_mismatch', grantId: 'g1', remoteAddress: ADDRESS },
    });
    after.when(refuse).thenThrows('CONFLICT');
  });
});
