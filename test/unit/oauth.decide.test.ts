import { initialTransition, transition, type AnyStateMachine, type SnapshotFrom } from 'xstate';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  decideOAuthFlow,
  decideOAuthGrant,
  decideOAuthRequest,
  oauthFlowMachine,
  oauthGrantMachine,
  oauthRequestMachine,
  type OAuthFlowCommand,
  type OAuthFlowEvent,
  type OAuthGrantCommand,
  type OAuthGrantEvent,
  type OAuthRequestCommand,
} from '../../src/modules/identity/domain/index.js';

/** Given past events (folded purely by the machine), when a command, then events or an error. */

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const ADDRESS = '192.0.2.7';

function given<Machine extends AnyStateMachine>(machine: Machine, ...history: { type: string; data: unknown }[]): SnapshotFrom<Machine> {
  const pure = machine as AnyStateMachine;
  let [snapshot] = initialTransition(pure);
  for (const event of history) [snapshot] = transition(pure, snapshot, event);
  return snapshot as SnapshotFrom<Machine>;
}

function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected decide to refuse the command');
}

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
    expect(decideOAuthFlow(issue, given(oauthFlowMachine))).toEqual([issued]);
  });

  it('refuses a code after the password alone when the user has MFA', () => {
    expect(refusal(() => decideOAuthFlow({ ...issue, mfaRequired: true }, given(oauthFlowMachine))).code).toBe('FORBIDDEN');
  });

  it('issues a code after the TOTP step only for the user challenged on this flow', () => {
    const mfa = { ...issue, method: 'mfa' as const, mfaRequired: true };
    expect(refusal(() => decideOAuthFlow(mfa, given(oauthFlowMachine))).code).toBe('FORBIDDEN');
    expect(refusal(() => decideOAuthFlow({ ...mfa, userId: 'u2' }, given(oauthFlowMachine, challenged))).code).toBe('FORBIDDEN');
    expect(decideOAuthFlow(mfa, given(oauthFlowMachine, challenged))).toEqual([{ ...issued, data: { ...issued.data, method: 'mfa' } }]);
  });

  it('is finished once a code was issued or the user cancelled: one form, one code', () => {
    const done = given(oauthFlowMachine, issued);
    expect(done.status).toBe('done');
    expect(refusal(() => decideOAuthFlow(issue, done)).code).toBe('CONFLICT');
    const denied = given(oauthFlowMachine, { type: 'AuthorizationDenied', data: { flowId: 'f1', clientId: 'c1', userId: null, remoteAddress: ADDRESS } });
    expect(refusal(() => decideOAuthFlow({ type: 'ChallengeOAuthMfa', flowId: 'f1', clientId: 'c1', userId: 'u1', remoteAddress: ADDRESS }, denied)).code).toBe(
      'CONFLICT',
    );
  });

  it('records login failures and keeps the form open', () => {
    const failure: OAuthFlowCommand = { type: 'RecordOAuthLoginFailure', flowId: 'f1', clientId: 'c1', username: 'eve', reason: 'unknown_user_or_password', remoteAddress: ADDRESS };
    const [event] = decideOAuthFlow(failure, given(oauthFlowMachine));
    expect(event).toEqual({ type: 'OAuthLoginFailed', data: { flowId: 'f1', clientId: 'c1', username: 'eve', reason: 'unknown_user_or_password', remoteAddress: ADDRESS } });
    const after = given(oauthFlowMachine, event!);
    expect(after.value).toBe('open');
    expect(after.context.loginFailures).toBe(1);
  });

  it('names the challenged user on a cancel after the password step', () => {
    const [event] = decideOAuthFlow({ type: 'DenyAuthorization', flowId: 'f1', clientId: 'c1', remoteAddress: ADDRESS }, given(oauthFlowMachine, challenged));
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
    expect(decideOAuthGrant(redeem, given(oauthGrantMachine))).toEqual([redeemed]);
  });

  it('given a redemption, refuses a second one and revokes the grant', () => {
    expect(decideOAuthGrant({ ...redeem, accessTokenId: 'a9', refreshTokenId: 'r9' }, given(oauthGrantMachine, redeemed))).toEqual([
      { type: 'AuthorizationCodeReuseRefused', data: { grantId: 'g1', clientId: 'c1', remoteAddress: ADDRESS } },
      revoked('code_reuse', T0),
    ]);
  });

  it('given a revoked grant, refuses again without revoking twice', () => {
    const events = decideOAuthGrant(redeem, given(oauthGrantMachine, redeemed, revoked('code_reuse', T0)));
    expect(events.map((event) => event.type)).toEqual(['AuthorizationCodeReuseRefused']);
  });

  it('rotates the newest refresh token', () => {
    const [event] = decideOAuthGrant(rotate, given(oauthGrantMachine, redeemed));
    expect(event).toMatchObject({ type: 'RefreshTokenRotated', data: { previousRefreshTokenId: 'r1', refreshTokenId: 'r2', userId: 'u1' } });
    expect(given(oauthGrantMachine, redeemed, event!).context.refreshTokenId).toBe('r2');
  });

  it('treats an older refresh token as a replay: refused, and the grant revoked', () => {
    const rotated = decideOAuthGrant(rotate, given(oauthGrantMachine, redeemed))[0]!;
    const events = decideOAuthGrant({ ...rotate, refreshTokenId: 'r3' }, given(oauthGrantMachine, redeemed, rotated));
    expect(events).toEqual([
      { type: 'RefreshTokenRefused', data: { grantId: 'g1', clientId: 'c1', refreshTokenId: 'r1', reason: 'reused', remoteAddress: ADDRESS } },
      revoked('refresh_token_reuse', T0 + 3_600_000),
    ]);
    const after = given(oauthGrantMachine, redeemed, rotated, ...events);
    expect(after.value).toBe('revoked');
    // The newest token is dead as well.
    expect(decideOAuthGrant({ ...rotate, presentedRefreshTokenId: 'r2' }, after)).toEqual([
      { type: 'RefreshTokenRefused', data: { grantId: 'g1', clientId: 'c1', refreshTokenId: 'r2', reason: 'revoked', remoteAddress: ADDRESS } },
    ]);
  });

  it('refuses the refresh of a disabled user without revoking, and of another client', () => {
    expect(decideOAuthGrant({ ...rotate, userActive: false }, given(oauthGrantMachine, redeemed))).toEqual([
      { type: 'RefreshTokenRefused', data: { grantId: 'g1', clientId: 'c1', refreshTokenId: 'r1', reason: 'user_disabled', remoteAddress: ADDRESS } },
    ]);
    const [other] = decideOAuthGrant({ ...rotate, clientId: 'c2' }, given(oauthGrantMachine, redeemed));
    expect(other).toMatchObject({ type: 'RefreshTokenRefused', data: { reason: 'wrong_client', clientId: 'c2' } });
  });

  it('has nothing to rotate before the code is redeemed', () => {
    expect(refusal(() => decideOAuthGrant(rotate, given(oauthGrantMachine))).code).toBe('NOT_FOUND');
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
    const [event] = decideOAuthRequest(refuse, given(oauthRequestMachine));
    expect(event).toEqual({
      type: 'OAuthRequestRefused',
      data: { requestId: 'q1', endpoint: 'token', grantType: 'authorization_code', clientId: 'c1', error: 'invalid_grant', reason: 'pkce_mismatch', grantId: 'g1', remoteAddress: ADDRESS },
    });
    expect(refusal(() => decideOAuthRequest(refuse, given(oauthRequestMachine, event!))).code).toBe('CONFLICT');
  });
});
