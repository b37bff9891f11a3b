import { describe, expect, it } from 'vitest';
import { AppError, type Principal } from '../../src/core/index.js';
import { extreamErrorData } from '../../src/edge/replies.js';
import { accessAggregate, type AccessEvent } from '../../src/modules/organisations/domain/index.js';
import { GroupAccess, type GrantedPermissions, type GroupMembership } from '../../src/modules/organisations/access.js';
import { organisationAggregate, type OrganisationEvent } from '../../src/modules/identity/domain/index.js';
import type { Permission } from '../../src/protocol/topics/extream.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * Permissions granted to groups (stream `organisation_access-<organisationId>`), the check
 * every live-events command makes with them, and the organisation's update and soft delete.
 */

const ORG = '6f1c0a52-3d4e-4f6a-9b7c-1d2e3f4a5b6c';
const OTHER = '0b9f8e7d-6c5b-4a39-8271-605f4e3d2c1b';
const T0 = Date.UTC(2026, 4, 4, 9, 0, 0);

describe('organisation access policy (decide)', () => {
  const spec = deciderSpec(accessAggregate);
  const granted = (permissions: Permission[], groupId = 'g1'): AccessEvent => ({
    type: 'PermissionsGranted',
    data: { organisationId: ORG, groupId, permissions, grantedAt: T0, by: 'operator' },
  });
  const grant = (permissions: Permission[], groupId = 'g1') => ({ type: 'GrantPermissions' as const, organisationId: ORG, groupId, permissions, by: 'operator', now: T0 });
  const revoke = (permissions: Permission[], groupId = 'g1') => ({ type: 'RevokePermissions' as const, organisationId: ORG, groupId, permissions, by: 'operator', now: T0 });

  it('grants only what the group does not hold yet, once each', () => {
    spec.given([granted(['view_event'])]).when(grant(['view_event', 'edit_event', 'edit_event'])).then([granted(['edit_event'])]);
  });

  it('granting what is held, or revoking what is not, appends nothing', () => {
    spec.given([granted(['view_event'])]).when(grant(['view_event'])).then([]);
    spec.given([granted(['view_event'])]).when(revoke(['edit_event'])).then([]);
  });

  it('revokes what is held and the state forgets it', () => {
    const after = spec
      .given([granted(['view_event', 'edit_event'])])
      .when(revoke(['edit_event', 'delete_event']))
      .then([{ type: 'PermissionsRevoked', data: { organisationId: ORG, groupId: 'g1', permissions: ['edit_event'], revokedAt: T0, by: 'operator' } }]);
    expect(after.state.context.grants).toEqual({ g1: ['view_event'] });
  });

  it('refuses an empty list naming the field', () => {
    const error = spec.given([]).when(grant([])).thenThrows('BAD_REQUEST');
    expect(error.details).toMatchObject({ errors: [{ path: 'permissions' }] });
  });
});

describe('organisation update and delete (decide)', () => {
  const spec = deciderSpec(organisationAggregate);
  const created: OrganisationEvent = { type: 'OrganisationCreated', data: { organisationId: ORG, name: 'Acme', createdAt: T0 } };

  it('an update merges the changed fields into the profile', () => {
    const after = spec
      .given([created])
      .when({ type: 'UpdateOrganisation', changes: { website: 'https://acme.example' }, by: 'user:u1', now: T0 + 1 })
      .then([{ type: 'OrganisationUpdated', data: { organisationId: ORG, changes: { website: 'https://acme.example' }, updatedAt: T0 + 1, by: 'user:u1' } }]);
    expect(after.state.context.data).toMatchObject({ name: 'Acme', profile: { website: 'https://acme.example', description: null, data: null } });
  });

  it('a deleted organisation takes no more commands', () => {
    const deleted = spec.given([created]).when({ type: 'DeleteOrganisation', by: 'user:u1', now: T0 + 2 }).after;
    expect(deleted.state.value).toBe('deleted');
    deleted.when({ type: 'UpdateOrganisation', changes: { name: 'Acme 2' }, by: 'user:u1', now: T0 + 3 }).thenThrows('NOT_FOUND', /was deleted/);
    deleted.when({ type: 'DeleteOrganisation', by: 'user:u1', now: T0 + 3 }).thenThrows('NOT_FOUND');
  });

  it('an unknown organisation cannot be updated, and one cannot be created twice', () => {
    spec.given([]).when({ type: 'DeleteOrganisation', by: 'operator', now: T0 }).thenThrows('NOT_FOUND', 'unknown organisation');
    spec.given([created]).when({ type: 'CreateOrganisation', organisationId: ORG, name: 'Acme', now: T0 }).thenThrows('CONFLICT');
  });
});

describe('GroupAccess', () => {
  // u1 is in g-editors of ORG; g-editors holds edit_event; u2 is in no group.
  const membership: GroupMembership = {
    groupIdsOf: (userId, organisationId) => (userId === 'u1' && organisationId === ORG ? ['g-editors', 'g-members'] : []),
    groupByName: (organisationId, name) => (organisationId === ORG && name === 'editors' ? { group_id: 'g-editors' } : undefined),
    groupsOf: (userId, organisationId) => (userId === 'u1' && organisationId === ORG ? ['editors', 'members'] : []),
    usernameOf: (userId) => (userId === 'u1' ? 'u1@acme.example' : undefined),
  };
  const grants: GrantedPermissions = {
    permissionsOf: (organisationId, groupIds) => new Set<Permission>(organisationId === ORG && groupIds.includes('g-editors') ? ['edit_event', 'view_event'] : []),
  };
  const access = new GroupAccess(membership, grants);
  const user = (userId: string, external = false, groups: string[] = []): Principal => ({ kind: 'user', userId, organisationId: ORG, groups, external });
  const refusal = (run: () => void): AppError => {
    try {
      run();
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
    throw new Error('expected a refusal');
  };

  it("a user holds its groups' permissions in their organisation only", () => {
    expect(access.can(user('u1'), ORG, 'edit_event')).toBe(true);
    expect(access.can(user('u1'), ORG, 'delete_event')).toBe(false);
    expect(access.can(user('u1'), OTHER, 'edit_event')).toBe(false);
    expect(access.isMember(user('u1'), ORG)).toBe(true);
    expect(access.isMember(user('u2'), ORG)).toBe(false);
  });

  it("an external provider's user counts by the group names of its token", () => {
    expect(access.can(user('idp|x', true, ['editors']), ORG, 'edit_event')).toBe(true);
    expect(access.can(user('idp|x', true, ['nobody']), ORG, 'edit_event')).toBe(false);
  });

  it('the organisation credential holds every permission in its own organisation and none elsewhere', () => {
    const organisation: Principal = { kind: 'organisation', organisationId: ORG, clientId: 'c1' };
    expect(access.can(organisation, ORG, 'delete_item')).toBe(true);
    expect(access.can(organisation, OTHER, 'view_event')).toBe(false);
    expect(access.isMember(organisation, ORG)).toBe(true);
  });

  it("refusals carry Extream's reasons: unauthorized without a login, locked while MFA is pending, forbidden without the permission", () => {
    const anonymous = refusal(() => access.require({ kind: 'anonymous' }, ORG, 'view_event'));
    expect(anonymous.code).toBe('UNAUTHORIZED');
    expect(extreamErrorData(anonymous)).toEqual({ status: 401, error: anonymous.message, meta: { permitted: false, reason: 'unauthorized', requiresLogin: true } });
    const pending = refusal(() => access.require({ kind: 'mfa-pending', userId: 'u1', organisationId: ORG }, ORG, 'view_event'));
    expect(extreamErrorData(pending)).toMatchObject({ status: 401, meta: { permitted: false, reason: 'locked' } });
    const forbidden = refusal(() => access.require(user('u2'), ORG, 'edit_event'));
    expect(extreamErrorData(forbidden)).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
    expect(forbidden.message).toContain('edit_event');
  });
});
