import { describe, expect, it } from 'vitest';
import { sessionAggregate, type SessionCommand, type SessionEvent } from '../../src/modules/identity/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * A connection's session: given its past events (folded purely by the machine), when a
 * command carrying what the edge verified, then the audit events and the next state.
 */

const ADDRESS = '198.51.100.4';

const spec = deciderSpec(sessionAggregate);

const login = (mfaRequired: boolean, organisationId: string | null = 'org1'): SessionCommand => ({
  type: 'RecordLogin',
  userId: 'u1',
  username: 'ada',
  mfaRequired,
  organisationId,
  groups: ['members'],
  remoteAddress: ADDRESS,
});

const mfa = (passed: boolean, reason?: 'invalid' | 'locked'): SessionCommand => ({
  type: 'RecordMfa',
  passed,
  ...(reason ? { reason } : {}),
  organisationId: 'org1',
  groups: ['members'],
  remoteAddress: ADDRESS,
});

const orgAuthenticated: SessionEvent = { type: 'OrganisationAuthenticated', data: { organisationId: 'org1', clientId: 'cl1', remoteAddress: ADDRESS } };

describe('decideSession', () => {
  it('anonymous -> organisation on a client token', () => {
    const { state } = spec
      .given()
      .when({ type: 'AuthenticateOrganisation', organisationId: 'org1', clientId: 'cl1', remoteAddress: ADDRESS })
      .then([orgAuthenticated]);
    expect(state.value).toBe('organisation');
    expect(state.context.organisationId).toBe('org1');
  });

  it('a password login without MFA records the login and authorizes at once', () => {
    const { state } = spec
      .given()
      .when(login(false))
      .then([
        { type: 'LoginSucceeded', data: { userId: 'u1', username: 'ada', mfaRequired: false, remoteAddress: ADDRESS } },
        { type: 'SessionAuthorized', data: { userId: 'u1', organisationId: 'org1', groups: ['members'], method: 'password', remoteAddress: ADDRESS } },
      ]);
    expect(state.value).toBe('authorized');
    expect(state.context).toMatchObject({ userId: 'u1', username: 'ada', organisationId: 'org1', groups: ['members'], mfaUserId: null });
  });

  it('a password login with MFA challenges and waits in mfaPending', () => {
    const { state } = spec
      .given()
      .when(login(true))
      .then([
        { type: 'LoginSucceeded', data: { userId: 'u1', username: 'ada', mfaRequired: true, remoteAddress: ADDRESS } },
        { type: 'MfaChallenged', data: { userId: 'u1' } },
      ]);
    expect(state.value).toBe('mfaPending');
    expect(state.context).toMatchObject({ mfaUserId: 'u1', userId: null });
  });

  it('mfaPending: a failed code stays pending, a passed code authorizes', () => {
    const pending = spec.given().when(login(true)).after;
    const failed = pending.when(mfa(false, 'invalid')).then([{ type: 'MfaFailed', data: { userId: 'u1', reason: 'invalid' } }]);
    expect(failed.state.value).toBe('mfaPending');
    pending.when(mfa(false, 'locked')).then([{ type: 'MfaFailed', data: { userId: 'u1', reason: 'locked' } }]);
    const passed = failed.when(mfa(true)).then([
      { type: 'MfaPassed', data: { userId: 'u1' } },
      { type: 'SessionAuthorized', data: { userId: 'u1', organisationId: 'org1', groups: ['members'], method: 'mfa', remoteAddress: ADDRESS } },
    ]);
    expect(passed.state.value).toBe('authorized');
    expect(passed.state.context).toMatchObject({ userId: 'u1', mfaUserId: null });
  });

  it('refuses an MFA result with no challenge pending', () => {
    spec.given().when(mfa(true)).thenThrows('UNAUTHORIZED');
    const authorized = spec.given().when(login(false)).after;
    authorized.when(mfa(true)).thenThrows('UNAUTHORIZED');
  });

  it('records login failures without changing state', () => {
    const { state } = spec
      .given()
      .when({ type: 'RecordLoginFailure', username: 'ada', reason: 'unknown_user_or_password', remoteAddress: ADDRESS })
      .then([{ type: 'LoginFailed', data: { username: 'ada', reason: 'unknown_user_or_password', remoteAddress: ADDRESS } }]);
    expect(state.value).toBe('anonymous');
  });

  it('a token authorizes; the organisation of the session is kept when the token names none', () => {
    const inOrg = spec.given().when({ type: 'AuthenticateOrganisation', organisationId: 'org1', clientId: null, remoteAddress: ADDRESS }).after;
    const { events, after } = inOrg.when({ type: 'Authorize', userId: 'u1', organisationId: null, groups: [], method: 'token', remoteAddress: ADDRESS });
    expect(events[0]).toEqual({
      type: 'SessionAuthorized',
      data: { userId: 'u1', organisationId: 'org1', groups: [], method: 'token', remoteAddress: ADDRESS },
    });
    expect(after.state.value).toBe('authorized');
  });

  it('an app token starts an app session', () => {
    const { state } = spec
      .given()
      .when({ type: 'StartAppSession', app: 'chat', appTokenId: 'j1', remoteAddress: ADDRESS })
      .then([{ type: 'AppSessionStarted', data: { app: 'chat', appTokenId: 'j1', remoteAddress: ADDRESS } }]);
    expect(state.value).toBe('authorized');
    expect(state.context.app).toBe('chat');
  });

  it('token issues and refusals are audit events that change nothing', () => {
    const anonymous = spec.given();
    const issued = anonymous
      .when({ type: 'RecordTokenIssued', kind: 'access', jti: 'j1', subject: 'u1', expiresAt: 5 })
      .then([{ type: 'TokenIssued', data: { kind: 'access', jti: 'j1', subject: 'u1', expiresAt: 5 } }]);
    expect(issued.state.value).toBe('anonymous');
    const refused = anonymous
      .when({ type: 'RecordTokenRefused', kind: 'access', reason: 'invalid token', remoteAddress: ADDRESS })
      .then([{ type: 'TokenRefused', data: { kind: 'access', reason: 'invalid token', remoteAddress: ADDRESS } }]);
    expect(refused.state.value).toBe('anonymous');
  });

  it('logout returns a user session to anonymous, or to its organisation', () => {
    const user = spec.given().when(login(false, null)).after;
    const out = user.when({ type: 'Logout' }).then([{ type: 'LoggedOut', data: { userId: 'u1' } }]);
    expect(out.state.value).toBe('anonymous');
    expect(out.state.context).toMatchObject({ userId: null, groups: [], organisationId: null });

    const orgUser = spec.given([orgAuthenticated]).when(login(false)).after;
    const back = orgUser.when({ type: 'Logout' }).after.state;
    expect(back.value).toBe('organisation');
    expect(back.context).toMatchObject({ organisationId: 'org1', userId: null });
  });

  it('an ended session takes no more commands', () => {
    const authorized = spec.given().when(login(false)).after;
    const ended = authorized
      .when({ type: 'EndSession', by: 'operator', reason: 'kicked' })
      .then([{ type: 'SessionEnded', data: { by: 'operator', reason: 'kicked' } }]);
    expect(ended.state.status).toBe('done');
    ended.when({ type: 'Logout' }).thenThrows('UNAUTHORIZED');
    ended.when(login(false)).thenThrows('UNAUTHORIZED');
  });
});
