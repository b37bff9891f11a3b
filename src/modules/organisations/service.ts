import { AppError, type Clock, type Principal } from '../../core/index.js';
import { formatExtreamDateTime, PERMISSIONS, type Permission } from '../../protocol/topics/extream.js';
import type { ActorRuntime } from '../../runtime/index.js';
import type { EventMetadata } from '../../store/index.js';
import type { IdentityService, OrganisationProfile } from '../identity/index.js';
import { ACCESS_CATEGORY, type AccessCommand } from './domain/index.js';
import type { OrganisationDirectory, OrganisationProfileRow } from './projection.js';

/** An organisation as Extream's clients read it. */
export interface OrganisationView {
  id: string;
  name: string;
  slug: string;
  website: string | null;
  description: string | null;
  data: Record<string, unknown> | null;
  created_at: string | null;
  updated_at: string | null;
}

export function organisationView(row: OrganisationProfileRow): OrganisationView {
  return {
    id: row.organisation_id,
    name: row.name,
    slug: row.slug,
    website: row.website,
    description: row.description,
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    created_at: formatExtreamDateTime(row.created_at),
    updated_at: formatExtreamDateTime(row.updated_at),
  };
}

/** The group that gets every permission in an organisation a user creates. */
export const FOUNDERS_GROUP = 'admins';

export type CommandMetadata = EventMetadata & { actor: string };

export interface Changed<View> {
  /** Log position of the last event the change appended (the receipt's `messageId`); undefined when nothing changed. */
  position: number | undefined;
  view: View;
}

/**
 * Organisations and their groups' permissions, for the admin topics, the HTTP commands and
 * the CLI. The organisation's own stream is the identity module's (its tenant: users, groups
 * and clients hang off it); this adds Extream's profile and the access policy.
 */
export class Organisations {
  constructor(
    private readonly runtime: ActorRuntime,
    private readonly clock: Clock,
    private readonly identity: IdentityService,
    readonly directory: OrganisationDirectory,
  ) {}

  /** The organisation, or NOT_FOUND naming the field it came from. */
  require(organisationId: string, field = 'id'): OrganisationProfileRow {
    const row = this.directory.get(organisationId);
    if (!row) throw new AppError('NOT_FOUND', `unknown organisation ${organisationId}`, { errors: [{ path: field, message: 'unknown or deleted organisation' }] });
    return row;
  }

  /**
   * A new organisation. A signed-in user who creates one becomes a member of its `admins`
   * group, which holds every permission in it, so the creator can manage what it made; an
   * operator (the CLI) creates it without members.
   */
  async create(name: string, profile: OrganisationProfile, metadata: CommandMetadata, founder?: Principal): Promise<Changed<OrganisationView>> {
    if (founder && (founder.kind !== 'user' || founder.external)) {
      throw new AppError('FORBIDDEN', 'only a user of this gateway can create an organisation', { reason: 'unauthorized' });
    }
    const { organisationId, position } = await this.identity.createOrganisationRecord(name, metadata, profile);
    let last = position;
    if (founder?.kind === 'user') {
      await this.identity.addToGroup(founder.userId, organisationId, FOUNDERS_GROUP, metadata.actor);
      last = (await this.grant(organisationId, FOUNDERS_GROUP, [...PERMISSIONS], metadata)).position ?? last;
    }
    return { position: last, view: organisationView(this.require(organisationId)) };
  }

  async update(organisationId: string, changes: Partial<OrganisationProfile> & { name?: string }, metadata: CommandMetadata): Promise<Changed<OrganisationView>> {
    this.require(organisationId);
    const position = await this.identity.updateOrganisation(organisationId, changes, metadata);
    return { position, view: organisationView(this.require(organisationId)) };
  }

  async delete(organisationId: string, metadata: CommandMetadata): Promise<Changed<{ id: string; deleted: true }>> {
    this.require(organisationId);
    const position = await this.identity.deleteOrganisation(organisationId, metadata);
    return { position, view: { id: organisationId, deleted: true } };
  }

  /** The organisations a principal belongs to (a user through its groups; an organisation itself). */
  visibleTo(principal: Principal): OrganisationView[] {
    const ids =
      principal.kind === 'organisation'
        ? [principal.organisationId]
        : principal.kind === 'user'
          ? principal.external
            ? principal.organisationId === null ? [] : [principal.organisationId]
            : this.identity.directory.organisationsOf(principal.userId)
          : [];
    return this.directory.some(ids).map(organisationView);
  }

  /** Grants permissions to a group by name (created if the organisation has none of that name). */
  async grant(organisationId: string, group: string, permissions: Permission[], metadata: CommandMetadata): Promise<Changed<GroupView>> {
    this.require(organisationId, 'organisation');
    const groupId = await this.identity.createGroup(organisationId, group, metadata.actor);
    return this.changeAccess({ type: 'GrantPermissions', organisationId, groupId, permissions, by: metadata.actor, now: this.clock.now() }, metadata);
  }

  async revoke(organisationId: string, group: string, permissions: Permission[], metadata: CommandMetadata): Promise<Changed<GroupView>> {
    this.require(organisationId, 'organisation');
    const groupId = this.identity.directory.groupByName(organisationId, group)?.group_id;
    if (!groupId) throw new AppError('NOT_FOUND', `no group "${group}" in that organisation`, { errors: [{ path: 'group', message: 'unknown group' }] });
    return this.changeAccess({ type: 'RevokePermissions', organisationId, groupId, permissions, by: metadata.actor, now: this.clock.now() }, metadata);
  }

  /** Every group of an organisation with the permissions it holds. */
  groups(organisationId: string): GroupView[] {
    this.require(organisationId, 'organisation');
    const grants = this.directory.grants(organisationId);
    return this.identity.directory.groupsOfOrganisation(organisationId).map((group) => ({ id: group.group_id, name: group.name, permissions: grants.get(group.group_id) ?? [] }));
  }

  private async changeAccess(command: AccessCommand, metadata: CommandMetadata): Promise<Changed<GroupView>> {
    const result = await this.runtime.execute(`${ACCESS_CATEGORY}-${command.organisationId}`, command, metadata);
    const view = this.groups(command.organisationId).find((group) => group.id === command.groupId)!;
    return { position: result.events.at(-1)?.position, view };
  }
}

export interface GroupView {
  id: string;
  name: string;
  permissions: Permission[];
}
