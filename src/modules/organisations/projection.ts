import type { RecordedEvent } from '../../core/index.js';
import { PERMISSIONS, type Permission } from '../../protocol/topics/extream.js';
import { statement, type Projection, type ReadModelDatabase } from '../../store/index.js';
import { ORGANISATION_EVENT_TYPES, organisationNameSlug, type OrganisationEvent } from '../identity/index.js';
import { ACCESS_EVENT_TYPES, type AccessEvent } from './domain/index.js';

/**
 * Read models `organisation_profiles` (Extream's view of an organisation, from the identity
 * module's organisation events: name, slug, website, description, deleted or not) and
 * `group_permissions` (from this module's access events). Inline: a grant counts for the
 * very next command.
 */
export const organisationsProjection: Projection = {
  name: 'organisations',
  mode: 'inline',
  tables: ['organisation_profiles', 'group_permissions'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS organisation_profiles (
        organisation_id TEXT PRIMARY KEY, name TEXT NOT NULL, slug TEXT NOT NULL, website TEXT, description TEXT, data TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER, deleted_at INTEGER);
      CREATE TABLE IF NOT EXISTS group_permissions (
        organisation_id TEXT NOT NULL, group_id TEXT NOT NULL, permission TEXT NOT NULL, PRIMARY KEY (group_id, permission));
      CREATE INDEX IF NOT EXISTS group_permissions_by_organisation ON group_permissions (organisation_id);
    `);
  },
  apply(db, event) {
    if (isOrganisationEvent(event)) applyOrganisationEvent(db, event);
    else if (isAccessEvent(event)) applyAccessEvent(db, event);
  },
};

const ORGANISATION_TYPES: ReadonlySet<string> = new Set(ORGANISATION_EVENT_TYPES);
const ACCESS_TYPES: ReadonlySet<string> = new Set(ACCESS_EVENT_TYPES);
const isOrganisationEvent = (event: RecordedEvent): event is RecordedEvent & OrganisationEvent => ORGANISATION_TYPES.has(event.type);
const isAccessEvent = (event: RecordedEvent): event is RecordedEvent & AccessEvent => ACCESS_TYPES.has(event.type);
const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

function applyOrganisationEvent(db: ReadModelDatabase, event: OrganisationEvent): void {
  switch (event.type) {
    case 'OrganisationCreated': {
      const { organisationId, name, createdAt, profile } = event.data;
      statement(db, 'organisations:create', 'INSERT INTO organisation_profiles VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)').run(
        organisationId,
        name,
        organisationNameSlug(name),
        profile?.website ?? null,
        profile?.description ?? null,
        json(profile?.data),
        createdAt,
      );
      return;
    }
    case 'OrganisationUpdated': {
      const { organisationId, changes, updatedAt } = event.data;
      // COALESCE keeps a column the update did not name; a field set to null arrives as the JSON null marker.
      statement(
        db,
        'organisations:update',
        `UPDATE organisation_profiles SET
           name = COALESCE(?, name), slug = COALESCE(?, slug),
           website = CASE WHEN ? THEN ? ELSE website END,
           description = CASE WHEN ? THEN ? ELSE description END,
           data = CASE WHEN ? THEN ? ELSE data END,
           updated_at = ?
         WHERE organisation_id = ?`,
      ).run(
        changes.name ?? null,
        changes.name === undefined ? null : organisationNameSlug(changes.name),
        'website' in changes ? 1 : 0,
        changes.website ?? null,
        'description' in changes ? 1 : 0,
        changes.description ?? null,
        'data' in changes ? 1 : 0,
        json(changes.data),
        updatedAt,
        organisationId,
      );
      return;
    }
    case 'OrganisationDeleted':
      statement(db, 'organisations:delete', 'UPDATE organisation_profiles SET deleted_at = ? WHERE organisation_id = ?').run(event.data.deletedAt, event.data.organisationId);
      return;
  }
}

function applyAccessEvent(db: ReadModelDatabase, event: AccessEvent): void {
  const { organisationId, groupId, permissions } = event.data;
  const sql =
    event.type === 'PermissionsGranted'
      ? statement(db, 'organisations:grant', 'INSERT OR IGNORE INTO group_permissions VALUES (?, ?, ?)')
      : statement(db, 'organisations:revoke', 'DELETE FROM group_permissions WHERE organisation_id = ? AND group_id = ? AND permission = ?');
  for (const permission of permissions) sql.run(organisationId, groupId, permission);
}

export interface OrganisationProfileRow {
  organisation_id: string;
  name: string;
  slug: string;
  website: string | null;
  description: string | null;
  /** JSON object text, or null. */
  data: string | null;
  created_at: number;
  updated_at: number | null;
  deleted_at: number | null;
}

const KNOWN_PERMISSIONS: ReadonlySet<string> = new Set(PERMISSIONS);

/** Queries over the organisations read models. */
export class OrganisationDirectory {
  constructor(private readonly db: ReadModelDatabase) {}

  /** The organisation, or undefined when unknown or deleted. */
  get(organisationId: string): OrganisationProfileRow | undefined {
    return statement(this.db, 'organisations:q:get', 'SELECT * FROM organisation_profiles WHERE organisation_id = ? AND deleted_at IS NULL').get(organisationId) as
      | OrganisationProfileRow
      | undefined;
  }

  /** Those of `organisationIds` that exist and are not deleted, by name. */
  some(organisationIds: readonly string[]): OrganisationProfileRow[] {
    if (organisationIds.length === 0) return [];
    const rows = statement(this.db, 'organisations:q:all', 'SELECT * FROM organisation_profiles WHERE deleted_at IS NULL ORDER BY name').all() as OrganisationProfileRow[];
    const wanted = new Set(organisationIds);
    return rows.filter((row) => wanted.has(row.organisation_id));
  }

  /** The permissions the given groups of an organisation hold together. */
  permissionsOf(organisationId: string, groupIds: readonly string[]): Set<Permission> {
    const held = new Set<Permission>();
    const query = statement(this.db, 'organisations:q:perms', 'SELECT permission FROM group_permissions WHERE organisation_id = ? AND group_id = ?');
    for (const groupId of groupIds) {
      for (const row of query.all(organisationId, groupId) as { permission: string }[]) {
        if (KNOWN_PERMISSIONS.has(row.permission)) held.add(row.permission as Permission);
      }
    }
    return held;
  }

  /** Every grant of an organisation, by group id. */
  grants(organisationId: string): Map<string, Permission[]> {
    const rows = statement(this.db, 'organisations:q:grants', 'SELECT group_id, permission FROM group_permissions WHERE organisation_id = ? ORDER BY group_id, permission').all(
      organisationId,
    ) as { group_id: string; permission: Permission }[];
    const byGroup = new Map<string, Permission[]>();
    for (const row of rows) byGroup.set(row.group_id, [...(byGroup.get(row.group_id) ?? []), row.permission]);
    return byGroup;
  }
}
