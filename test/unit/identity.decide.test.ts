import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { decideUser, mfaLocked, userMachine, type UserCommand, type UserEvent } from '../../src/modules/identity/domain/index.js';

/**
 * decideUser against snapshots folded purely by the user machine: given past events, when a
 * command, then the events (or the refusal). The TOTP secret itself is the edge's business;
 * here a code is "the time step it matched" or null.
 */

type UserSnapshot = SnapshotFrom<typeof userMachine>;

const T0 = Date.UTC(2025, 5, 1, 12, 0, 15);
const STEP = Math.floor(T0 / 30_000);
const LOCK_SECONDS = 900;

function given(...history: UserEvent[]): UserSnapshot {
  let [snapshot] = initialTransition(userMachine);
  for (const event of history) [snapshot] = transition(userMachine, snapshot, event);
  return snapshot;
}

/** Applies decide's events to the snapshot, like the runtime does after the append. */
function then(snapshot: UserSnapshot, events: UserEvent[]): UserSnapshot {
  let next = snapshot;
  for (const event of events) [next] = transition(userMachine, next, event);
  return next;
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

const registered: UserEvent = { type: 'UserRegistered', data: { userId: 'u1', username: 'ada', passwordHash: 'scrypt$...', registeredAt: T0 } };
const enrolled: UserEvent = { type: 'MfaEnrolled', data: { userId: 'u1', sealedSecret: 'v1.sealed', enrolledAt: T0 } };

const check = (matchedTimeStep: number | null, now = T0, maxFailures = 10): Extract<UserCommand, { type: 'CheckMfaCode' }> => ({
  type: 'CheckMfaCode',
  matchedTimeStep,
  now,
  maxFailures,
  lockSeconds: LOCK_SECONDS,
  connectionId: 'c1',
  remoteAddress: '192.0.2.7',
});

/** Runs `count` wrong codes through decide -> evolve; returns the final snapshot and the last events. */
function failTimes(snapshot: UserSnapshot, count: number, now = T0): { snapshot: UserSnapshot; last: UserEvent[] } {
  let current = snapshot;
  let last: UserEvent[] = [];
  for (let attempt = 0; attempt < count; attempt++) {
    last = decideUser(check(null, now), current);
    current = then(current, last);
  }
  return { snapshot: current, last };
}

describe('user evolve (the machine)', () => {
  it('registers, enrolls, counts failures, locks, unlocks, disables and enables', () => {
    expect(given().value).toBe('unregistered');
    const user = given(registered, enrolled);
    expect(user.value).toBe('active');
    expect(user.context).toMatchObject({ userId: 'u1', username: 'ada', sealedMfaSecret: 'v1.sealed', lastTotpStep: null, consecutiveMfaFailures: 0 });
    const locked = given(
      registered,
      enrolled,
      { type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'invalid', consecutiveFailures: 1, connectionId: null, remoteAddress: null } },
      { type: 'MfaLocked', data: { userId: 'u1', until: T0 + 1000, consecutiveFailures: 1 } },
    );
    expect(locked.context).toMatchObject({ consecutiveMfaFailures: 1, mfaLockedUntil: T0 + 1000 });
    expect(then(locked, [{ type: 'MfaUnlocked', data: { userId: 'u1', by: 'operator' } }]).context).toMatchObject({
      consecutiveMfaFailures: 0,
      mfaLockedUntil: null,
    });
    const disabled = given(registered, { type: 'UserDisabled', data: { userId: 'u1', by: 'operator', reason: 'left', disabledAt: T0 } });
    expect(disabled.value).toBe('disabled');
    expect(then(disabled, [{ type: 'UserEnabled', data: { userId: 'u1', by: 'operator' } }]).value).toBe('active');
  });
});

describe('decideUser', () => {
  it('refuses every command but RegisterUser before registration, and a second registration', () => {
    expect(refusal(() => decideUser(check(STEP), given())).code).toBe('NOT_FOUND');
    expect(refusal(() => decideUser({ type: 'UnlockMfa', by: 'operator' }, given())).code).toBe('NOT_FOUND');
    const register: UserCommand = { type: 'RegisterUser', userId: 'u1', username: 'ada', passwordHash: 'h', now: T0 };
    expect(decideUser(register, given())).toEqual([{ type: 'UserRegistered', data: { userId: 'u1', username: 'ada', passwordHash: 'h', registeredAt: T0 } }]);
    expect(refusal(() => decideUser(register, given(registered))).code).toBe('CONFLICT');
  });

  it('adds a user to a group once', () => {
    const add: UserCommand = { type: 'AddUserToGroup', groupId: 'g1', organisationId: 'o1' };
    const events = decideUser(add, given(registered));
    expect(events).toEqual([{ type: 'UserAddedToGroup', data: { userId: 'u1', groupId: 'g1', organisationId: 'o1' } }]);
    expect(decideUser(add, then(given(registered), events))).toEqual([]);
  });

  describe('MFA', () => {
    it('given an enrolled user, when a code matches a step, then it is accepted with who and where', () => {
      const events = decideUser(check(STEP), given(registered, enrolled));
      expect(events).toEqual([{ type: 'MfaCodeAccepted', data: { userId: 'u1', timeStep: STEP, connectionId: 'c1', remoteAddress: '192.0.2.7' } }]);
      expect(then(given(registered, enrolled), events).context.lastTotpStep).toBe(STEP);
    });

    it('refuses a replay of the step already used, and an older step, but takes a newer one', () => {
      const used = then(given(registered, enrolled), decideUser(check(STEP), given(registered, enrolled)));
      for (const step of [STEP, STEP - 1]) {
        expect(decideUser(check(step), used)).toEqual([
          { type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'invalid', consecutiveFailures: 1, connectionId: 'c1', remoteAddress: '192.0.2.7' } },
        ]);
      }
      expect(decideUser(check(STEP + 1), used)[0]!.type).toBe('MfaCodeAccepted');
    });

    it('counts consecutive failures and an accepted code resets the count', () => {
      const { snapshot } = failTimes(given(registered, enrolled), 9);
      expect(snapshot.context.consecutiveMfaFailures).toBe(9);
      expect(mfaLocked(snapshot, T0)).toBe(false);
      const accepted = then(snapshot, decideUser(check(STEP), snapshot));
      expect(accepted.context.consecutiveMfaFailures).toBe(0);
      expect(failTimes(accepted, 9).snapshot.context.consecutiveMfaFailures).toBe(9);
    });

    it('locks on the 10th consecutive failure for lockSeconds', () => {
      const { snapshot, last } = failTimes(given(registered, enrolled), 10);
      expect(last).toEqual([
        { type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'invalid', consecutiveFailures: 10, connectionId: 'c1', remoteAddress: '192.0.2.7' } },
        { type: 'MfaLocked', data: { userId: 'u1', until: T0 + LOCK_SECONDS * 1000, consecutiveFailures: 10 } },
      ]);
      expect(mfaLocked(snapshot, T0)).toBe(true);
      expect(mfaLocked(snapshot, T0 + LOCK_SECONDS * 1000 - 1)).toBe(true);
      expect(mfaLocked(snapshot, T0 + LOCK_SECONDS * 1000)).toBe(false);
    });

    it('while locked, even a matching code is rejected as locked and the count does not move', () => {
      const { snapshot } = failTimes(given(registered, enrolled), 10);
      const events = decideUser(check(STEP + 1, T0 + 1000), snapshot);
      expect(events).toEqual([
        { type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'locked', consecutiveFailures: 10, connectionId: 'c1', remoteAddress: '192.0.2.7' } },
      ]);
      expect(then(snapshot, events).context.consecutiveMfaFailures).toBe(10);
    });

    it('when the lock has run out, a code is decided again and a failure starts a fresh count', () => {
      const { snapshot } = failTimes(given(registered, enrolled), 10);
      const later = T0 + LOCK_SECONDS * 1000;
      expect(decideUser(check(STEP + 31, later), snapshot)[0]!.type).toBe('MfaCodeAccepted');
      const [rejected] = decideUser(check(null, later), snapshot);
      expect(rejected).toMatchObject({ type: 'MfaCodeRejected', data: { reason: 'invalid', consecutiveFailures: 1 } });
    });

    it('locks again after 10 more failures once an expired lock has reset the count', () => {
      const first = failTimes(given(registered, enrolled), 10).snapshot;
      const later = T0 + LOCK_SECONDS * 1000;
      const { snapshot, last } = failTimes(first, 10, later);
      expect(last.map((event) => event.type)).toEqual(['MfaCodeRejected', 'MfaLocked']);
      expect(mfaLocked(snapshot, later)).toBe(true);
      expect(snapshot.context.mfaLockedUntil).toBe(later + LOCK_SECONDS * 1000);
    });

    it('an operator unlock lifts the lock and resets the count; unlocking a clean user is a no-op', () => {
      const { snapshot } = failTimes(given(registered, enrolled), 10);
      const events = decideUser({ type: 'UnlockMfa', by: 'operator' }, snapshot);
      expect(events).toEqual([{ type: 'MfaUnlocked', data: { userId: 'u1', by: 'operator' } }]);
      const unlocked = then(snapshot, events);
      expect(mfaLocked(unlocked, T0)).toBe(false);
      expect(unlocked.context.consecutiveMfaFailures).toBe(0);
      expect(decideUser(check(STEP), unlocked)[0]!.type).toBe('MfaCodeAccepted');
      expect(decideUser({ type: 'UnlockMfa', by: 'operator' }, given(registered, enrolled))).toEqual([]);
    });

    it('re-enrolling resets the last used step and the count', () => {
      const used = then(given(registered, enrolled), decideUser(check(STEP), given(registered, enrolled)));
      const events = decideUser({ type: 'EnrollMfa', sealedSecret: 'v1.other', now: T0 }, used);
      const fresh = then(used, events);
      expect(fresh.context).toMatchObject({ sealedMfaSecret: 'v1.other', lastTotpStep: null, consecutiveMfaFailures: 0 });
    });
  });

  describe('disable and enable', () => {
    it('disables an active user once and enables a disabled one once', () => {
      const disable: UserCommand = { type: 'DisableUser', by: 'operator', reason: 'left the company', now: T0 };
      const events = decideUser(disable, given(registered));
      expect(events).toEqual([{ type: 'UserDisabled', data: { userId: 'u1', by: 'operator', reason: 'left the company', disabledAt: T0 } }]);
      const disabled = then(given(registered), events);
      expect(decideUser(disable, disabled)).toEqual([]);
      expect(decideUser({ type: 'EnableUser', by: 'operator' }, disabled)).toEqual([{ type: 'UserEnabled', data: { userId: 'u1', by: 'operator' } }]);
      expect(decideUser({ type: 'EnableUser', by: 'operator' }, given(registered))).toEqual([]);
    });
  });
});
