import { describe, expect, it } from 'vitest';
import { mfaLocked, userAggregate, type UserCommand, type UserEvent } from '../../src/modules/identity/domain/index.js';
import { deciderSpec, type ScenarioOf } from '../helpers/spec.js';

/**
 * decideUser against snapshots folded purely by the user machine: given past events, when a
 * command, then the events (or the refusal). The TOTP secret itself is the edge's business;
 * here a code is "the time step it matched" or null.
 */

const spec = deciderSpec(userAggregate);
type User = ScenarioOf<typeof userAggregate>;

const T0 = Date.UTC(2025, 5, 1, 12, 0, 15);
const STEP = Math.floor(T0 / 30_000);
const LOCK_SECONDS = 900;

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

/** Runs `count` wrong codes through decide -> evolve; returns the final state and the last events. */
function failTimes(user: User, count: number, now = T0): { user: User; snapshot: User['state']; last: UserEvent[] } {
  let current = user;
  let last: UserEvent[] = [];
  for (let attempt = 0; attempt < count; attempt++) {
    const outcome = current.when(check(null, now));
    last = outcome.events;
    current = outcome.after;
  }
  return { user: current, snapshot: current.state, last };
}

const enrolledUser = () => spec.given([registered, enrolled]);

describe('user evolve (the machine)', () => {
  it('registers, enrolls, counts failures, locks, unlocks, disables and enables', () => {
    expect(spec.given().state.value).toBe('unregistered');
    const user = enrolledUser().state;
    expect(user.value).toBe('active');
    expect(user.context).toMatchObject({ userId: 'u1', username: 'ada', sealedMfaSecret: 'v1.sealed', lastTotpStep: null, consecutiveMfaFailures: 0 });
    const locked = spec.given([
      registered,
      enrolled,
      { type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'invalid', consecutiveFailures: 1, connectionId: null, remoteAddress: null } },
      { type: 'MfaLocked', data: { userId: 'u1', until: T0 + 1000, consecutiveFailures: 1 } },
    ]);
    expect(locked.state.context).toMatchObject({ consecutiveMfaFailures: 1, mfaLockedUntil: T0 + 1000 });
    expect(locked.and([{ type: 'MfaUnlocked', data: { userId: 'u1', by: 'operator' } }]).state.context).toMatchObject({
      consecutiveMfaFailures: 0,
      mfaLockedUntil: null,
    });
    const disabled = spec.given([registered, { type: 'UserDisabled', data: { userId: 'u1', by: 'operator', reason: 'left', disabledAt: T0 } }]);
    expect(disabled.state.value).toBe('disabled');
    expect(disabled.and([{ type: 'UserEnabled', data: { userId: 'u1', by: 'operator' } }]).state.value).toBe('active');
  });
});

describe('decideUser', () => {
  it('refuses every command but RegisterUser before registration, and a second registration', () => {
    spec.given().when(check(STEP)).thenThrows('NOT_FOUND');
    spec.given().when({ type: 'UnlockMfa', by: 'operator' }).thenThrows('NOT_FOUND');
    const register: UserCommand = { type: 'RegisterUser', userId: 'u1', username: 'ada', passwordHash: 'h', now: T0 };
    spec.given().when(register).then([{ type: 'UserRegistered', data: { userId: 'u1', username: 'ada', passwordHash: 'h', registeredAt: T0 } }]);
    spec.given([registered]).when(register).thenThrows('CONFLICT');
  });

  it('adds a user to a group once', () => {
    const add: UserCommand = { type: 'AddUserToGroup', groupId: 'g1', organisationId: 'o1' };
    spec
      .given([registered])
      .when(add)
      .then([{ type: 'UserAddedToGroup', data: { userId: 'u1', groupId: 'g1', organisationId: 'o1' } }])
      .when(add)
      .then([]);
  });

  describe('MFA', () => {
    it('given an enrolled user, when a code matches a step, then it is accepted with who and where', () => {
      const after = enrolledUser()
        .when(check(STEP))
        .then([{ type: 'MfaCodeAccepted', data: { userId: 'u1', timeStep: STEP, connectionId: 'c1', remoteAddress: '192.0.2.7' } }]);
      expect(after.state.context.lastTotpStep).toBe(STEP);
    });

    it('refuses a replay of the step already used, and an older step, but takes a newer one', () => {
      const used = enrolledUser().when(check(STEP)).after;
      for (const step of [STEP, STEP - 1]) {
        used
          .when(check(step))
          .then([{ type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'invalid', consecutiveFailures: 1, connectionId: 'c1', remoteAddress: '192.0.2.7' } }]);
      }
      expect(used.when(check(STEP + 1)).events[0]!.type).toBe('MfaCodeAccepted');
    });

    it('counts consecutive failures and an accepted code resets the count', () => {
      const { user, snapshot } = failTimes(enrolledUser(), 9);
      expect(snapshot.context.consecutiveMfaFailures).toBe(9);
      expect(mfaLocked(snapshot, T0)).toBe(false);
      const accepted = user.when(check(STEP)).after;
      expect(accepted.state.context.consecutiveMfaFailures).toBe(0);
      expect(failTimes(accepted, 9).snapshot.context.consecutiveMfaFailures).toBe(9);
    });

    it('locks on the 10th consecutive failure for lockSeconds', () => {
      const { snapshot, last } = failTimes(enrolledUser(), 10);
      expect(last).toEqual([
        { type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'invalid', consecutiveFailures: 10, connectionId: 'c1', remoteAddress: '192.0.2.7' } },
        { type: 'MfaLocked', data: { userId: 'u1', until: T0 + LOCK_SECONDS * 1000, consecutiveFailures: 10 } },
      ]);
      expect(mfaLocked(snapshot, T0)).toBe(true);
      expect(mfaLocked(snapshot, T0 + LOCK_SECONDS * 1000 - 1)).toBe(true);
      expect(mfaLocked(snapshot, T0 + LOCK_SECONDS * 1000)).toBe(false);
    });

    it('while locked, even a matching code is rejected as locked and the count does not move', () => {
      const { user } = failTimes(enrolledUser(), 10);
      const after = user
        .when(check(STEP + 1, T0 + 1000))
        .then([{ type: 'MfaCodeRejected', data: { userId: 'u1', reason: 'locked', consecutiveFailures: 10, connectionId: 'c1', remoteAddress: '192.0.2.7' } }]);
      expect(after.state.context.consecutiveMfaFailures).toBe(10);
    });

    it('when the lock has run out, a code is decided again and a failure starts a fresh count', () => {
      const { user } = failTimes(enrolledUser(), 10);
      const later = T0 + LOCK_SECONDS * 1000;
      expect(user.when(check(STEP + 31, later)).events[0]!.type).toBe('MfaCodeAccepted');
      const [rejected] = user.when(check(null, later)).events;
      expect(rejected).toMatchObject({ type: 'MfaCodeRejected', data: { reason: 'invalid', consecutiveFailures: 1 } });
    });

    it('locks again after 10 more failures once an expired lock has reset the count', () => {
      const first = failTimes(enrolledUser(), 10).user;
      const later = T0 + LOCK_SECONDS * 1000;
      const { snapshot, last } = failTimes(first, 10, later);
      expect(last.map((event) => event.type)).toEqual(['MfaCodeRejected', 'MfaLocked']);
      expect(mfaLocked(snapshot, later)).toBe(true);
      expect(snapshot.context.mfaLockedUntil).toBe(later + LOCK_SECONDS * 1000);
    });

    it('an operator unlock lifts the lock and resets the count; unlocking a clean user is a no-op', () => {
      const { user } = failTimes(enrolledUser(), 10);
      const unlocked = user.when({ type: 'UnlockMfa', by: 'operator' }).then([{ type: 'MfaUnlocked', data: { userId: 'u1', by: 'operator' } }]);
      expect(mfaLocked(unlocked.state, T0)).toBe(false);
      expect(unlocked.state.context.consecutiveMfaFailures).toBe(0);
      expect(unlocked.when(check(STEP)).events[0]!.type).toBe('MfaCodeAccepted');
      enrolledUser().when({ type: 'UnlockMfa', by: 'operator' }).then([]);
    });

    it('re-enrolling resets the last used step and the count', () => {
      const used = enrolledUser().when(check(STEP)).after;
      const fresh = used.when({ type: 'EnrollMfa', sealedSecret: 'v1.other', now: T0 }).after;
      expect(fresh.state.context).toMatchObject({ sealedMfaSecret: 'v1.other', lastTotpStep: null, consecutiveMfaFailures: 0 });
    });
  });

  describe('disable and enable', () => {
    it('disables an active user once and enables a disabled one once', () => {
      const disable: UserCommand = { type: 'DisableUser', by: 'operator', reason: 'left the company', now: T0 };
      const disabled = spec
        .given([registered])
        .when(disable)
        .then([{ type: 'UserDisabled', data: { userId: 'u1', by: 'operator', reason: 'left the company', disabledAt: T0 } }]);
      disabled.when(disable).then([]);
      disabled.when({ type: 'EnableUser', by: 'operator' }).then([{ type: 'UserEnabled', data: { userId: 'u1', by: 'operator' } }]);
      spec.given([registered]).when({ type: 'EnableUser', by: 'operator' }).then([]);
    });
  });
});
