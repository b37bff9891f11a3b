import { initialTransition, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { decideSession, sessionMachine, type SessionCommand, type SessionEvent, type SessionSnapshot } from '../../src/modules/identity/domain/index.js';

/**
 * A connection's session: given its past events (folded purely by the machine), when a
 * command carrying what the edge verified, then the audit events and the next state.
 */

const ADDRESS = '198.51.100.4';

function given(...history: SessionEvent[]): SessionSnapshot {
  let [snapshot] = initialTransition(sessionMachine);
  for (const event of history) [snapshot] = transition(sessionMachine, snapshot, event);
  return snapshot;
}

/** decide, then evolve with the decided events: the state the runtime would hold. */
function run(snapshot: SessionSnapshot, command: SessionCommand): { events: SessionEvent[]; after: SessionSnapshot } {
  const events = decideSession(command, snapshot);
  let after = snapshot;
  for (const event of events) [after] = transition(sessionMachine, after, event);
  return { events, after };
}

function refusal(runIt: () => unknown): AppError {
  try {
    runIt();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected decide to refuse the command');
}

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
    const { events, after } = run(given(), { type: 'AuthenticateOrganisation', organisationId: 'org1', clientId: 'cl1', remoteAddress: ADDRESS });
    expect(events).toEqual([orgAuthenticated]);
    expect(after.value).toBe('organisation');
    expect(after.context.organisationId).toBe('org1');
  });

  it('a password login without MFA records the login and authorizes at once', () => {
    const { events, after } = run(given(), login(false));
    expect(events).toEqual([
      { type: 'LoginSucceeded', data: { userId: 'u1', username: 'ada', mfaRequired: false, remoteAddress: ADDRESS } },
      { type: 'SessionAuthorized', data: { userId: 'u1', organisationId: 'org1', groups: ['members'], method: 'password', remoteAddress: ADDRESS } },
    ]);
    expect(after.value).toBe('authorized');
    expect(after.context).toMatchObject({ userId: 'u1', username: 'ada', organisationId: 'org1', groups: ['members'], mfaUserId: null });
  });

  it('a password login with MFA challenges and waits in mfaPending', () => {
    const { events, after } = run(given(), login(true));
    expect(events).toEqual([
      { type: 'LoginSucceeded', data: { userId: 'u1', username: 'ada', mfaRequired: true, remoteAddress: ADDRESS } },
      { type: 'MfaChallenged', data: { userId: 'u1' } },
    ]);
    expect(after.value).toBe('mfaPending');
    expect(after.context).toMatchObject({ mfaUserId: 'u1', userId: null });
  });

  it('mfaPending: a failed code stays pending, a passed code authorizes', () => {
    const pending = run(given(), login(true)).after;
    const failed = run(pending, mfa(false, 'invalid'));
    expect(failed.events).toEqual([{ type: 'MfaFailed', data: { userId: 'u1', reason: 'invalid' } }]);
    expect(failed.after.value).toBe('mfaPending');
    expect(run(pending, mfa(false, 'locked')).events).toEqual([{ type: 'MfaFailed', data: { userId: 'u1', reason: 'locked' } }]);
    const passed = run(failed.after, mfa(true));
    expect(passed.events).toEqual([
      { type: 'MfaPassed', data: { userId: 'u1' } },
      { type: 'SessionAuthorized', data: { userId: 'u1', organisationId: 'org1', groups: ['members'], method: 'mfa', remoteAddress: ADDRESS } },
    ]);
    expect(passed.after.value).toBe('authorized');
    expect(passed.after.context).toMatchObject({ userId: 'u1', mfaUserId: null });
  });

  it('refuses an MFA result with no challenge pending', () => {
    expect(refusal(() => decideSession(mfa(true), given())).code).toBe('UNAUTHORIZED');
    const authorized = run(given(), login(false)).after;
    expect(refusal(() => decideSession(mfa(true), authorized)).code).toBe('UNAUTHORIZED');
  });

  it('records login failures without changing state', () => {
    const { events, after } = run(given(), { type: 'RecordLoginFailure', username: 'ada', reason: 'unknown_user_or_password', remoteAddress: ADDRESS });
    expect(events).toEqual([{ type: 'LoginFailed', data: { username: 'ada', reason: 'unknown_user_or_password', remoteAddress: ADDRESS } }]);
    expect(after.value).toBe('anonymous');
  });

  it('a token authorizes; the organisation of the session is kept when the token names none', () => {
    const inOrg = run(given(), { type: 'AuthenticateOrganisation', organisationId: 'org1', clientId: null, remoteAddress: ADDRESS }).after;
    const { events, after } = run(inOrg, { type: 'Authorize', userId: 'u1', organisationId: null, groups: [], method: 'token', remoteAddress: ADDRESS });
    expect(events[0]).toEqual({
      type: 'SessionAuthorized',
      data: { userId: 'u1', organisationId: 'org1', groups: [], method: 'token', remoteAddress: ADDRESS },
    });
    expect(after.value).toBe('authorized');
  });

  it('an app token starts an app session', () => {
    const { events, after } = run(given(), { type: 'StartAppSession', app: 'chat', appTokenId: 'j1', remoteAddress: ADDRESS });
    expect(events).toEqual([{ type: 'AppSessionStarted', data: { app: 'chat', appTokenId: 'j1', remoteAddress: ADDRESS } }]);
    expect(after.value).toBe('authorized');
    expect(after.context.app).toBe('chat');
  });

  it('token issues and refusals are audit events that change nothing', () => {
    const anonymous = given();
    const issued = run(anonymous, { type: 'RecordTokenIssued', kind: 'access', jti: 'j1', subject: 'u1', expiresAt: 5 });
    expect(issued.events).toEqual([{ type: 'TokenIssued', data: { kind: 'access', jti: 'j1', subject: 'u1', expiresAt: 5 } }]);
    expect(issued.after.value).toBe('anonymous');
    const refused = run(anonymous, { type: 'RecordTokenRefused', kind: 'access', reason: 'invalid token', remoteAddress: ADDRESS });
    expect(refused.events).toEqual([{ type: 'TokenRefused', data: { kind: 'access', reason: 'invalid token', remoteAddress: ADDRESS } }]);
    expect(refused.after.value).toBe('anonymous');
  });

  it('logout returns a user session to anonymous, or to its organisation', () => {
    const user = run(given(), login(false, null)).after;
    const out = run(user, { type: 'Logout' });
    expect(out.events).toEqual([{ type: 'LoggedOut', data: { userId: 'u1' } }]);
    expect(out.after.value).toBe('anonymous');
    expect(out.after.context).toMatchObject({ userId: null, groups: [], organisationId: null });

    const orgUser = run(given(orgAuthenticated), login(false)).after;
    const back = run(orgUser, { type: 'Logout' }).after;
    expect(back.value).toBe('organisation');
    expect(back.context).toMatchObject({ organisationId: 'org1', userId: null });
  });

  it('an ended session takes no more commands', () => {
    const { events, after } = run(run(given(), login(false)).after, { type: 'EndSession', by: 'operator', reason: 'kicked' });
    expect(events).toEqual([{ type: 'SessionEnded', data: { by: 'operator', reason: 'kicked' } }]);
    expect(after.status).toBe('done');
    expect(refusal(() => decideSession({ type: 'Logout' }, after)).code).toBe('UNAUTHORIZED');
    expect(refusal(() => decideSession(login(false), after)).code).toBe('UNAUTHORIZED');
  });
});
