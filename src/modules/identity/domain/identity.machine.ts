import { assign, setup } from 'xstate';
import type { AppEvent, ClientRegistered, GroupCreated, OrganisationCreated, OrganisationEvent, OrganisationNameClaimed, UserEvent } from './identity.events.js';

export interface UserContext {
  userId: string;
  username: string;
  passwordHash: string;
  groups: { groupId: string; organisationId: string }[];
  sealedMfaSecret: string | null;
  /** Newest TOTP time step accepted: a code of this step or older is a replay. */
  lastTotpStep: number | null;
  consecutiveMfaFailures: number;
  mfaLockedUntil: number | null;
}

/** A user's evolve: registered users are active or disabled; MFA state lives in context. */
export const userMachine = setup({
  types: { context: {} as UserContext, events: {} as UserEvent },
}).createMachine({
  id: 'user',
  initial: 'unregistered',
  context: {
    userId: '',
    username: '',
    passwordHash: '',
    groups: [],
    sealedMfaSecret: null,
    lastTotpStep: null,
    consecutiveMfaFailures: 0,
    mfaLockedUntil: null,
  },
  on: {
    UserAddedToGroup: {
      actions: assign(({ context, event }) => ({
        groups: [...context.groups, { groupId: event.data.groupId, organisationId: event.data.organisationId }],
      })),
    },
    MfaEnrolled: {
      actions: assign(({ event }) => ({ sealedMfaSecret: event.data.sealedSecret, lastTotpStep: null, consecutiveMfaFailures: 0 })),
    },
    // Codes are only checked (accepted, or rejected as invalid) when no lock is in force, so
    // these events also retire a lock that has run out: a stale `mfaLockedUntil` made decide
    // restart the count at 1 on every failure, and MFA never locked again after its first lock.
    MfaCodeAccepted: {
      actions: assign(({ event }) => ({ lastTotpStep: event.data.timeStep, consecutiveMfaFailures: 0, mfaLockedUntil: null })),
    },
    MfaCodeRejected: {
      actions: assign(({ context, event }) => ({
        consecutiveMfaFailures: event.data.consecutiveFailures,
        mfaLockedUntil: event.data.reason === 'invalid' ? null : context.mfaLockedUntil,
      })),
    },
    MfaLocked: { actions: assign(({ event }) => ({ mfaLockedUntil: event.data.until })) },
    MfaUnlocked: { actions: assign(() => ({ mfaLockedUntil: null, consecutiveMfaFailures: 0 })) },
  },
  states: {
    unregistered: {
      on: {
        UserRegistered: {
          target: 'active',
          actions: assign(({ event }) => ({
            userId: event.data.userId,
            username: event.data.username,
            passwordHash: event.data.passwordHash,
          })),
        },
      },
    },
    active: { on: { UserDisabled: 'disabled' } },
    disabled: { on: { UserEnabled: 'active' } },
  },
});

/** Name claims, groups and OAuth2 clients are created once and never change (yet). */
function createdOnce<Event extends { type: string; data: object }>(id: string, created: Event['type']) {
  return setup({ types: { context: {} as { data: Event['data'] | null }, events: {} as Event } }).createMachine({
    id,
    initial: 'absent',
    context: { data: null },
    states: {
      absent: {
        // A computed key loses XState's event inference; the transition is typed by `Event` above.
        on: { [created]: { target: 'present', actions: assign(({ event }: { event: Event }) => ({ data: event.data })) } } as never,
      },
      present: {},
    },
  });
}

/** An organisation: its name and profile as they stand, until it is deleted (soft, for good). */
export const organisationMachine = setup({
  types: { context: {} as { data: OrganisationCreated['data'] | null }, events: {} as OrganisationEvent },
}).createMachine({
  id: 'organisation',
  initial: 'absent',
  context: { data: null },
  states: {
    absent: { on: { OrganisationCreated: { target: 'present', actions: assign(({ event }) => ({ data: event.data })) } } },
    present: {
      on: {
        OrganisationUpdated: {
          actions: assign(({ context, event }) => {
            const { name, ...profile } = event.data.changes;
            const previous = context.data!;
            const merged = { website: null, description: null, data: null, ...previous.profile, ...profile };
            return { data: { ...previous, name: name ?? previous.name, profile: merged } };
          }),
        },
        OrganisationDeleted: 'deleted',
      },
    },
    deleted: {},
  },
});
export const organisationNameMachine = createdOnce<OrganisationNameClaimed>('organisationName', 'OrganisationNameClaimed');
export const groupMachine = createdOnce<GroupCreated>('group', 'GroupCreated');
export const clientMachine = createdOnce<ClientRegistered>('client', 'ClientRegistered');

/** An app's tokens: which are live (issued, not revoked). */
export const appMachine = setup({ types: { context: {} as { live: string[] }, events: {} as AppEvent } }).createMachine({
  id: 'app',
  context: { live: [] },
  on: {
    AppTokenIssued: { actions: assign(({ context, event }) => ({ live: [...context.live, event.data.jti] })) },
    AppTokenRevoked: { actions: assign(({ context, event }) => ({ live: context.live.filter((jti) => jti !== event.data.jti) })) },
  },
});
