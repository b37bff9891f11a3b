import type { Permission } from '../../../protocol/topics/extream.js';

/**
 * Events of an organisation's access policy, stream `organisation_access-<organisationId>`:
 * which of its groups hold which permissions (PROTOCOL.md section 8). Each lists only the
 * permissions it changed, so the audit trail reads as what an operator did.
 */
export type AccessEvent =
  | { type: 'PermissionsGranted'; data: { organisationId: string; groupId: string; permissions: Permission[]; grantedAt: number; by: string } }
  | { type: 'PermissionsRevoked'; data: { organisationId: string; groupId: string; permissions: Permission[]; revokedAt: number; by: string } };

export const ACCESS_CATEGORY = 'organisation_access';

export const ACCESS_EVENT_TYPES = Object.keys({
  PermissionsGranted: true,
  PermissionsRevoked: true,
} satisfies Record<AccessEvent['type'], true>) as readonly AccessEvent['type'][];
