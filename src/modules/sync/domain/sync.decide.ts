import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/errors.js';
import type { SyncSessionCommand } from './sync.commands.js';
import type { SyncSessionEvent } from './sync.events.js';
import type { syncSessionMachine } from './sync.machine.js';

export type SyncSessionSnapshot = SnapshotFrom<typeof syncSessionMachine>;

/** Why an id does not work, in words a device's user can act on. */
export function syncSessionRefusal(snapshot: SyncSessionSnapshot, sessionId: string): AppError {
  if (snapshot.matches('verified')) return new AppError('CONFLICT', 'this sync session was already verified; a verification is accepted once');
  if (snapshot.matches('failed')) return new AppError('CONFLICT', 'this sync session failed after too many wrong passwords; start a new one');
  if (snapshot.matches('expired')) return new AppError('NOT_FOUND', 'this sync session has expired; start a new one');
  if (snapshot.matches('none')) return new AppError('NOT_FOUND', 'unknown sync session');
  return new AppError('NOT_FOUND', `sync session id ${sessionId} is no longer current (it rotated); scan the QR code shown now`);
}

/**
 * The next id after `from`, or the last rotation: after `changeLimit` URLs the page is done,
 * and the id it showed last is rotated away and the session expires in the same append.
 */
function rotate(snapshot: SyncSessionSnapshot, from: string, nextId: string, now: number): SyncSessionEvent[] {
  const { context } = snapshot;
  const rotation = context.rotation + 1;
  const rotated: SyncSessionEvent = { type: 'SyncSessionRotated', data: { syncId: context.syncId!, from, to: nextId, rotation, rotatedAt: now } };
  if (rotation < context.changeLimit) return [rotated];
  return [rotated, { type: 'SyncSessionExpired', data: { syncId: context.syncId!, sessionId: nextId, reason: 'changes used up', expiredAt: now } }];
}

/** Checks a command against the sync session's state and returns the events it causes. */
export function decideSyncSession(command: SyncSessionCommand, snapshot: SyncSessionSnapshot): SyncSessionEvent[] {
  const { context } = snapshot;
  switch (command.type) {
    case 'CreateSyncSession': {
      if (!snapshot.matches('none')) throw new AppError('CONFLICT', 'sync session exists already');
      if (command.changeLimit < 1) throw new AppError('BAD_REQUEST', 'a sync session offers at least one URL');
      return [
        {
          type: 'SyncSessionCreated',
          data: { syncId: command.syncId, userId: command.userId, sessionId: command.sessionId, changeLimit: command.changeLimit, createdAt: command.now },
        },
      ];
    }
    case 'RotateSyncSession': {
      // A timer set for an id that has since been replaced (paused, resumed) is stale.
      if (!snapshot.matches('rotating') || context.currentId !== command.expectedId) throw new AppError('CONFLICT', 'rotation timer is stale');
      return rotate(snapshot, command.expectedId, command.nextId, command.now);
    }
    case 'PauseSyncSession': {
      if (!snapshot.matches('rotating') || context.currentId !== command.sessionId) throw syncSessionRefusal(snapshot, command.sessionId);
      if (!command.pageConnected) throw new AppError('CONFLICT', 'no page is showing this sync session; open it first');
      return [
        {
          type: 'SyncSessionPaused',
          data: {
            syncId: context.syncId!,
            from: command.sessionId,
            sessionId: command.verificationId,
            devicePublicKey: command.devicePublicKey,
            deviceKeyFingerprint: command.deviceKeyFingerprint,
            remoteAddress: command.remoteAddress,
            pausedAt: command.now,
            resumeAt: command.resumeAt,
          },
        },
      ];
    }
    case 'ResumeSyncSession': {
      if (!snapshot.matches('paused') || context.currentId !== command.expectedId) throw new AppError('CONFLICT', 'resume timer is stale');
      const resumed: SyncSessionEvent = { type: 'SyncSessionResumed', data: { syncId: context.syncId!, sessionId: command.expectedId, resumedAt: command.now } };
      // The device's verification id dies with the pause; the page gets a fresh QR id.
      return [resumed, ...rotate(snapshot, command.expectedId, command.nextId, command.now)];
    }
    case 'VerifySyncSession': {
      if (!snapshot.matches('paused') || context.currentId !== command.sessionId) throw syncSessionRefusal(snapshot, command.sessionId);
      if (command.passwordMatched) {
        return [
          {
            type: 'SyncSessionVerified',
            data: {
              syncId: context.syncId!,
              sessionId: command.sessionId,
              sharedKeyFingerprint: command.sharedKeyFingerprint,
              remoteAddress: command.remoteAddress,
              verifiedAt: command.now,
            },
          },
        ];
      }
      const failures = context.failures + 1;
      const rejected: SyncSessionEvent = {
        type: 'SyncSessionPasswordRejected',
        data: { syncId: context.syncId!, sessionId: command.sessionId, failures, remoteAddress: command.remoteAddress, rejectedAt: command.now },
      };
      if (failures < command.maxFailures) return [rejected];
      return [
        rejected,
        { type: 'SyncSessionFailed', data: { syncId: context.syncId!, sessionId: command.sessionId, reason: 'too many wrong passwords', failures, failedAt: command.now } },
      ];
    }
    case 'ExpireSyncSession': {
      // Expiring an ended session is a no-op: the page's close and a timer can meet.
      if (!snapshot.matches('rotating') && !snapshot.matches('paused')) return [];
      return [{ type: 'SyncSessionExpired', data: { syncId: context.syncId!, sessionId: context.currentId!, reason: command.reason, expiredAt: command.now } }];
    }
  }
}
