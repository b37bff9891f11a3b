import { AppError, type Principal } from '../../core/index.js';
import { PERMISSIONS, type Permission } from '../../protocol/topics/extream.js';

/**
 * Who may do what in an organisation (PROTOCOL.md section 8): permissions are granted to
 * groups; a user holds those of the groups it belongs to in that organisation, live from the
 * read models (a grant or a membership takes effect on the next command). The organisation's
 * own credential (an OAuth2 client-credentials token) holds every permission in it.
 */
export interface OrganisationAccess {
  /**
   * Throws unless the principal holds `permission` in the organisation: UNAUTHORIZED
   * (`reason: unauthorized`) without a signed-in user, UNAUTHORIZED (`reason: locked`) while
   * its MFA is pending, FORBIDDEN (`reason: unauthorized`) for a user without the permission.
   */
  require(principal: Principal, organisationId: string, permission: Permission): void;
  can(principal: Principal, organisationId: string, permission: Permission): boolean;
  /** Signed in as a user of the organisation, or as the organisation: what private events need. */
  isMember(principal: Principal, organisationId: string): boolean;
  /** Throws UNAUTHORIZED (`reason: unauthorized` or `locked`, `requiresLogin: true`) unless a user is signed in. */
  requireLogin(principal: Principal): void;
  /**
   * What participant criteria (PROTOCOL.md section 9) are matched against: a signed-in user's
   * group names in the organisation and username; undefined for anyone who is not a user.
   */
  participant(principal: Principal, organisationId: string): { groups: string[]; username: string | null } | undefined;
}

/** The refusal of a command that needs a signed-in user; `meta.requiresLogin` is true on it. */
export function loginRequired(principal: Principal): AppError {
  if (principal.kind === 'mfa-pending') return new AppError('UNAUTHORIZED', 'finish signing in (MFA) first', { reason: 'locked', requiresLogin: true });
  return new AppError('UNAUTHORIZED', 'this command needs a signed-in user', { reason: 'unauthorized', requiresLogin: true });
}

/** What access needs of the identity read models: a user's groups in an organisation. */
export interface GroupMembership {
  groupIdsOf(userId: string, organisationId: string): string[];
  /** Group names of a user in one organisation. */
  groupsOf(userId: string, organisationId: string): string[];
  usernameOf(userId: string): string | undefined;
  groupByName(organisationId: string, name: string): { group_id: string } | undefined;
}

/** What access needs of the organisations read model. */
export interface GrantedPermissions {
  permissionsOf(organisationId: string, groupIds: readonly string[]): Set<Permission>;
}

const EVERY_PERMISSION: ReadonlySet<Permission> = new Set(PERMISSIONS);
const NO_PERMISSION: ReadonlySet<Permission> = new Set();

/** OrganisationAccess over the read models: group memberships (identity) and grants (this module). */
export class GroupAccess implements OrganisationAccess {
  constructor(
    private readonly membership: GroupMembership,
    private readonly grants: GrantedPermissions,
  ) {}

  require(principal: Principal, organisationId: string, permission: Permission): void {
    if (principal.kind !== 'user' && principal.kind !== 'organisation') throw loginRequired(principal);
    if (!this.permissions(principal, organisationId).has(permission)) {
      throw new AppError('FORBIDDEN', `this needs the ${permission} permission in the organisation`, { reason: 'unauthorized' });
    }
  }

  can(principal: Principal, organisationId: string, permission: Permission): boolean {
    return this.permissions(principal, organisationId).has(permission);
  }

  isMember(principal: Principal, organisationId: string): boolean {
    if (principal.kind === 'organisation') return principal.organisationId === organisationId;
    return principal.kind === 'user' && this.groupIds(principal, organisationId).length > 0;
  }

  requireLogin(principal: Principal): void {
    if (principal.kind !== 'user') throw loginRequired(principal);
  }

  participant(principal: Principal, organisationId: string): { groups: string[]; username: string | null } | undefined {
    if (principal.kind !== 'user') return undefined;
    // An external provider's user: its token's groups count in its organisation; its subject is
    // the provider's, not an address we know, so it never matches emails or domains.
    if (principal.external) return { groups: principal.organisationId === organisationId ? principal.groups : [], username: null };
    return { groups: this.membership.groupsOf(principal.userId, organisationId), username: this.membership.usernameOf(principal.userId) ?? null };
  }

  private permissions(principal: Principal, organisationId: string): ReadonlySet<Permission> {
    // The organisation's own credential acts for all of it, and for nothing else.
    if (principal.kind === 'organisation') return principal.organisationId === organisationId ? EVERY_PERMISSION : NO_PERMISSION;
    if (principal.kind !== 'user') return NO_PERMISSION;
    return this.grants.permissionsOf(organisationId, this.groupIds(principal, organisationId));
  }

  /**
   * Live from the read model for the gateway's users (a membership counts at once); an
   * external identity provider's user has no rows there, so its token's group names count.
   */
  private groupIds(principal: Extract<Principal, { kind: 'user' }>, organisationId: string): string[] {
    if (!principal.external) return this.membership.groupIdsOf(principal.userId, organisationId);
    if (principal.organisationId !== organisationId) return [];
    return principal.groups.flatMap((name) => this.membership.groupByName(organisationId, name)?.group_id ?? []);
  }
}
