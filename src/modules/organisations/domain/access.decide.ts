import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { AccessCommand } from './access.commands.js';
import type { AccessEvent } from './access.events.js';
import type { accessMachine } from './access.machine.js';

/**
 * Grants and revocations change only what they must: granting a held permission, or revoking
 * one not held, is no event at all (asking twice is not an error, and leaves no noise).
 */
export function decideAccess(command: AccessCommand, snapshot: SnapshotFrom<typeof accessMachine>): AccessEvent[] {
  if (command.permissions.length === 0) throw new AppError('BAD_REQUEST', 'name at least one permission', { errors: [{ path: 'permissions', message: 'must not be empty' }] });
  const held = snapshot.context.grants[command.groupId] ?? [];
  const { organisationId, groupId, by, now } = command;
  if (command.type === 'GrantPermissions') {
    const permissions = [...new Set(command.permissions)].filter((permission) => !held.includes(permission));
    return permissions.length === 0 ? [] : [{ type: 'PermissionsGranted', data: { organisationId, groupId, permissions, grantedAt: now, by } }];
  }
  const permissions = [...new Set(command.permissions)].filter((permission) => held.includes(permission));
  return permissions.length === 0 ? [] : [{ type: 'PermissionsRevoked', data: { organisationId, groupId, permissions, revokedAt: now, by } }];
}
