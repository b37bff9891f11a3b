import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { AppCommand, ClientCommand, GroupCommand, OrganisationCommand, OrganisationNameCommand, UserCommand } from './identity.commands.js';
import { organisationNameSlug, type AppEvent, type ClientRegistered, type GroupCreated, type OrganisationEvent, type OrganisationNameClaimed, type UserEvent } from './identity.events.js';
import type { appMachine, clientMachine, groupMachine, organisationMachine, organisationNameMachine, userMachine } from './identity.machine.js';

type UserSnapshot = SnapshotFrom<typeof userMachine>;

export function mfaLocked(snapshot: UserSnapshot, now: number): boolean {
  const until = snapshot.context.mfaLockedUntil;
  return until !== null && now < until;
}

export function decideUser(command: UserCommand, snapshot: UserSnapshot): UserEvent[] {
  const { context } = snapshot;
  const registered = !snapshot.matches('unregistered');
  if (command.type !== 'RegisterUser' && !registered) throw new AppError('NOT_FOUND', 'no such user');
  switch (command.type) {
    case 'RegisterUser':
      if (registered) throw new AppError('CONFLICT', 'user already registered');
      return [
        {
          type: 'UserRegistered',
          data: { userId: command.userId, username: command.username, passwordHash: command.passwordHash, registeredAt: command.now },
        },
      ];
    case 'AddUserToGroup':
      if (context.groups.some((group) => group.groupId === command.groupId)) return [];
      return [{ type: 'UserAddedToGroup', data: { userId: context.userId, groupId: command.groupId, organisationId: command.organisationId } }];
    case 'EnrollMfa':
      return [{ type: 'MfaEnrolled', data: { userId: context.userId, sealedSecret: command.sealedSecret, enrolledAt: command.now } }];
    case 'CheckMfaCode': {
      const who = { userId: context.userId, connectionId: command.connectionId, remoteAddress: command.remoteAddress };
      if (mfaLocked(snapshot, command.now)) {
        return [{ type: 'MfaCodeRejected', data: { ...who, reason: 'locked', consecutiveFailures: context.consecutiveMfaFailures } }];
      }
      // A lock that has run out starts a fresh count.
      const failuresSoFar = context.mfaLockedUntil !== null ? 0 : context.consecutiveMfaFailures;
      const step = command.matchedTimeStep;
      if (step !== null && (context.lastTotpStep === null || step > context.lastTotpStep)) {
        return [{ type: 'MfaCodeAccepted', data: { userId: context.userId, timeStep: step, connectionId: command.connectionId, remoteAddress: command.remoteAddress } }];
      }
      const consecutiveFailures = failuresSoFar + 1;
      const events: UserEvent[] = [{ type: 'MfaCodeRejected', data: { ...who, reason: 'invalid', consecutiveFailures } }];
      if (consecutiveFailures >= command.maxFailures) {
        events.push({ type: 'MfaLocked', data: { userId: context.userId, until: command.now + command.lockSeconds * 1000, consecutiveFailures } });
      }
      return events;
    }
    case 'UnlockMfa':
      if (context.mfaLockedUntil === null && context.consecutiveMfaFailures === 0) return [];
      return [{ type: 'MfaUnlocked', data: { userId: context.userId, by: command.by } }];
    case 'DisableUser':
      if (snapshot.matches('disabled')) return [];
      return [{ type: 'UserDisabled', data: { userId: context.userId, by: command.by, reason: command.reason, disabledAt: command.now } }];
    case 'EnableUser':
      if (snapshot.matches('active')) return [];
      return [{ type: 'UserEnabled', data: { userId: context.userId, by: command.by } }];
  }
}

export function decideOrganisation(command: OrganisationCommand, snapshot: SnapshotFrom<typeof organisationMachine>): OrganisationEvent[] {
  const organisationId = snapshot.context.data?.organisationId;
  if (command.type === 'CreateOrganisation') {
    if (!snapshot.matches('absent')) throw new AppError('CONFLICT', 'organisation already exists');
    const profile = command.profile ? { profile: command.profile } : {};
    return [{ type: 'OrganisationCreated', data: { organisationId: command.organisationId, name: command.name, createdAt: command.now, ...profile } }];
  }
  if (snapshot.matches('absent')) throw new AppError('NOT_FOUND', 'unknown organisation');
  if (snapshot.matches('deleted')) throw new AppError('NOT_FOUND', `organisation ${organisationId} was deleted`);
  if (command.type === 'DeleteOrganisation') return [{ type: 'OrganisationDeleted', data: { organisationId: organisationId!, deletedAt: command.now, by: command.by } }];
  return [{ type: 'OrganisationUpdated', data: { organisationId: organisationId!, changes: command.changes, updatedAt: command.now, by: command.by } }];
}

/**
 * A name is claimed once, for ever (organisations are never renamed or deleted yet). The
 * refusal names the organisation that holds it, so the operator can use that one instead.
 */
export function decideOrganisationName(
  command: OrganisationNameCommand,
  snapshot: SnapshotFrom<typeof organisationNameMachine>,
): OrganisationNameClaimed[] {
  const held = snapshot.context.data;
  if (held) throw new AppError('CONFLICT', `organisation name "${held.name}" is taken by organisation ${held.organisationId}`);
  return [
    {
      type: 'OrganisationNameClaimed',
      data: { slug: organisationNameSlug(command.name), name: command.name, organisationId: command.organisationId, claimedAt: command.now },
    },
  ];
}

export function decideGroup(command: GroupCommand, snapshot: SnapshotFrom<typeof groupMachine>): GroupCreated[] {
  if (snapshot.context.data) throw new AppError('CONFLICT', 'group already exists');
  return [
    { type: 'GroupCreated', data: { groupId: command.groupId, organisationId: command.organisationId, name: command.name, createdAt: command.now } },
  ];
}

export function decideClient(command: ClientCommand, snapshot: SnapshotFrom<typeof clientMachine>): ClientRegistered[] {
  if (snapshot.context.data) throw new AppError('CONFLICT', 'client already registered');
  const { type: _type, now, ...data } = command;
  return [{ type: 'ClientRegistered', data: { ...data, registeredAt: now } }];
}

export function decideApp(command: AppCommand, snapshot: SnapshotFrom<typeof appMachine>): AppEvent[] {
  switch (command.type) {
    case 'IssueAppToken':
      return [{ type: 'AppTokenIssued', data: { app: command.app, jti: command.jti, issuedAt: command.now } }];
    case 'RevokeAppToken':
      if (!snapshot.context.live.includes(command.jti)) return [];
      return [{ type: 'AppTokenRevoked', data: { app: '', jti: command.jti, by: command.by } }];
  }
}
