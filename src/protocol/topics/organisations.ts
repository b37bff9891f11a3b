import { z } from 'zod';
import { byIdData, commandPayload, createData, extreamDescription, extreamId, extreamName, extreamWebsite, freeData, PERMISSIONS, updateData } from './extream.js';

/**
 * Organisations over Extream's admin commands (PROTOCOL.md section 8), and the grants of
 * permissions to an organisation's groups. Imports only zod: the client SDK imports this.
 */
export const ORGANISATION_TOPICS = {
  create: 'admin_organisation_create',
  read: 'admin_organisation_read',
  update: 'admin_organisation_update',
  delete: 'admin_organisation_delete',
  /** Not in Extream's table: how its groups get permissions without the CLI. */
  groupGrant: 'admin_group_grant',
  groupRevoke: 'admin_group_revoke',
  groupRead: 'admin_group_read',
} as const;

const organisationFields = {
  name: extreamName,
  website: extreamWebsite.nullable().optional(),
  description: extreamDescription.nullable().optional(),
  data: freeData.nullable().optional(),
};

export const organisationCreateData = createData(organisationFields);
export type OrganisationCreateData = z.infer<typeof organisationCreateData>;

export const organisationUpdateData = updateData(organisationFields);
export type OrganisationUpdateData = z.infer<typeof organisationUpdateData>;

/** `{id}` reads one organisation; `{}` lists those the caller belongs to. */
export const organisationReadData = z.object({ id: extreamId.optional(), payload: commandPayload });
export type OrganisationReadData = z.infer<typeof organisationReadData>;

export const organisationDeleteData = byIdData;

/** A group by its name (or id) within an organisation. */
const groupName = z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters');

export const groupGrantData = z.object({
  organisation: extreamId,
  group: groupName,
  permissions: z.array(z.enum(PERMISSIONS, { message: `must be one of ${PERMISSIONS.join(', ')}` })).min(1, 'must name at least one permission').max(PERMISSIONS.length * 2),
  payload: commandPayload,
});
export type GroupGrantData = z.infer<typeof groupGrantData>;

export const groupReadData = z.object({ organisation: extreamId, payload: commandPayload });
export type GroupReadData = z.infer<typeof groupReadData>;
