import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { SessionCommand } from './session.commands.js';
import type { SessionEvent } from './session.events.js';
import type { sessionMachine } from './session.machine.js';

export type SessionSnapshot = SnapshotFrom<typeof sessionMachine>;

export function decideSession(command: SessionCommand, snapshot: SessionSnapshot): SessionEvent[] {
  if (snapshot.status === 'done') throw new AppError('UNAUTHORIZED', 'session ended');
  const { context } = snapshot;
  switch (command.type) {
    case 'AuthenticateOrganisation':
      return [{ type: 'OrganisationAuthenticated', data: { organisationId: command.organisationId, clientId: command.clientId, remoteAddress: command.remoteAddress } }];
    case 'RecordLogin': {
      const events: SessionEvent[] = [
        {
          type: 'LoginSucceeded',
          data: { userId: command.userId, username: command.username, mfaRequired: command.mfaRequired, remoteAddress: command.remoteAddress },
        },
      ];
      if (command.mfaRequired) {
        events.push({ type: 'MfaChallenged', data: { userId: command.userId } });
      } else {
        events.push({
          type: 'SessionAuthorized',
          data: {
            userId: command.userId,
            organisationId: command.organisationId ?? context.organisationId,
            groups: command.groups,
            method: 'password',
            remoteAddress: command.remoteAddress,
          },
        });
      }
      return events;
    }
    case 'RecordLoginFailure':
      return [{ type: 'LoginFailed', data: { username: command.username, reason: command.reason, remoteAddress: command.remoteAddress } }];
    case 'RecordMfa': {
      const userId = context.mfaUserId;
      if (!snapshot.matches('mfaPending') || userId === null) {
        throw new AppError('UNAUTHORIZED', 'no MFA challenge is pending on this connection');
      }
      if (!command.passed) return [{ type: 'MfaFailed', data: { userId, reason: command.reason ?? 'invalid' } }];
      return [
        { type: 'MfaPassed', data: { userId } },
        {
          type: 'SessionAuthorized',
          data: { userId, organisationId: command.organisationId ?? context.organisationId, groups: command.groups, method: 'mfa', remoteAddress: command.remoteAddress },
        },
      ];
    }
    case 'Authorize':
      return [
        {
          type: 'SessionAuthorized',
          data: {
            userId: command.userId,
            organisationId: command.organisationId ?? context.organisationId,
            groups: command.groups,
            method: command.method,
            remoteAddress: command.remoteAddress,
          },
        },
      ];
    case 'StartAppSession':
      return [{ type: 'AppSessionStarted', data: { app: command.app, appTokenId: command.appTokenId, remoteAddress: command.remoteAddress } }];
    case 'RecordTokenIssued':
      return [
        {
          type: 'TokenIssued',
          data: { kind: command.kind, jti: command.jti, subject: command.subject, expiresAt: command.expiresAt, ...(command.digest === undefined ? {} : { digest: command.digest }) },
        },
      ];
    case 'RecordTokenRefused':
      return [{ type: 'TokenRefused', data: { kind: command.kind, reason: command.reason, remoteAddress: command.remoteAddress } }];
    case 'Logout':
      return [{ type: 'LoggedOut', data: { userId: context.userId } }];
    case 'EndSession':
      return [{ type: 'SessionEnded', data: { by: command.by, reason: command.reason } }];
  }
}
