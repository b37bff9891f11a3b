import type { Permission } from '../../../protocol/topics/extream.js';

export type AccessCommand =
  | { type: 'GrantPermissions'; organisationId: string; groupId: string; permissions: Permission[]; by: string; now: number }
  | { type: 'RevokePermissions'; organisationId: string; groupId: string; permissions: Permission[]; by: string; now: number };
