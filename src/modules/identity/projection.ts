import { AppError, type RecordedEvent } from '../../core/index.js';
import { statement, type Projection, type ReadModelDatabase as Database } from '../../store/index.js';
import {
  CLIENT_EVENT_TYPES,
  GROUP_EVENT_TYPES,
  ORGANISATION_EVENT_TYPES,
  USER_EVENT_TYPES,
  type ClientRegistered,
  type GroupCreated,
  type OrganisationEvent,
  type UserEvent,
} from './domain/index.js';

/**
 * Read models of the identity area, inline so a login never sees a user the log does not
 * have. `users.username` is UNIQUE and checked here, inside the append's transaction: two
 * registrations of one name cannot both commit.
 */
export const identityProjection: Projection = {
  name: 'identity',
  mode: 'inline',
  tables: ['organisations', 'organisation_groups', 'users', 'user_groups', 'oauth_clients'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS organisations (
        organisation_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS organisation_groups (
        group_id TEXT PRIMARY KEY, organisation_id TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,
        UNIQUE (organisation_id, name));
      CREATE TABLE IF NOT EXISTS users (
        user_id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
        mfa_enrolled INTEGER NOT NULL DEFAULT 0, mfa_locked_until INTEGER, registered_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS user_groups (
        user_id TEXT NOT NULL, group_id TEXT NOT NULL, organisation_id TEXT NOT NULL, PRIMARY KEY (user_id, group_id));
      CREATE TABLE IF NOT EXISTS oauth_clients (
        client_id TEXT PRIMARY KEY, organisation_id TEXT NOT NULL, name TEXT NOT NULL, public INTEGER NOT NULL,
        redirect_uris TEXT NOT NULL, registered_at INTEGER NOT NULL);
    `);
  },
  apply(db, event) {
    if (!isProjectedEvent(event)) return;
    switch (event.type) {
      case 'OrganisationCreated': {
        const { organisationId, name, createdAt } = event.data;
        statement(db, 'org', 'INSERT INTO organisations VALUES (?, ?, ?)').run(organisationId, name, createdAt);
        return;
      }
      case 'OrganisationUpdated':
        if (event.data.changes.name !== undefined) {
          statement(db, 'org:rename', 'UPDATE organisations SET name = ? WHERE organisation_id = ?').run(event.data.changes.name, event.data.organisationId);
        }
        return;
      // The tenant row stays: its users, groups and clients still name it (the organisations
      // module's read model is the one that hides a deleted organisation).
      case 'OrganisationDeleted':
        return;
      case 'GroupCreated': {
        const { groupId, organisationId, name, createdAt } = event.data;
        if (statement(db, 'group?', 'SELECT 1 FROM organisation_groups WHERE organisation_id = ? AND name = ?').get(organisationId, name)) {
          throw new AppError('CONFLICT', `group "${name}" already exists in that organisation`);
        }
        statement(db, 'group', 'INSERT INTO organisation_groups VALUES (?, ?, ?, ?)').run(groupId, organisationId, name, createdAt);
        return;
      }
      case 'ClientRegistered': {
        const { data } = event;
        statement(db, 'client', 'INSERT INTO oauth_clients VALUES (?, ?, ?, ?, ?, ?)').run(
          data.clientId,
          data.organisationId,
          data.name,
          data.public ? 1 : 0,
          JSON.stringify(data.redirectUris),
          data.registeredAt,
        );
        return;
      }
      default:
        applyUserEvent(db, event);
    }
  },
};

/** The events these read models are built from. */
type ProjectedEvent = OrganisationEvent | GroupCreated | ClientRegistered | UserEvent;

/**
 * Every projected type, from the domain's own lists (USER_EVENT_TYPES fails to compile when
 * the user union gains a type it does not name), so a user event cannot be left out here.
 */
const PROJECTED_TYPES: ReadonlySet<string> = new Set<ProjectedEvent['type']>([
  ...ORGANISATION_EVENT_TYPES,
  ...GROUP_EVENT_TYPES,
  ...CLIENT_EVENT_TYPES,
  ...USER_EVENT_TYPES,
]);

function isProjectedEvent(event: RecordedEvent): event is RecordedEvent & ProjectedEvent {
  return PROJECTED_TYPES.has(event.type);
}

function applyUserEvent(db: Database, event: UserEvent): void {
  switch (event.type) {
    case 'UserRegistered': {
      const { userId, username, registeredAt } = event.data;
      if (statement(db, 'user?', 'SELECT 1 FROM users WHERE username = ?').get(username)) {
        throw new AppError('CONFLICT', `username "${username}" is taken`);
      }
      statement(db, 'user', "INSERT INTO users (user_id, username, status, registered_at) VALUES (?, ?, 'active', ?)").run(
        userId,
        username,
        registeredAt,
      );
      return;
    }
    case 'UserAddedToGroup':
      statement(db, 'member', 'INSERT OR IGNORE INTO user_groups VALUES (?, ?, ?)').run(event.data.userId, event.data.groupId, event.data.organisationId);
      return;
    case 'MfaEnrolled':
      statement(db, 'mfa', 'UPDATE users SET mfa_enrolled = 1 WHERE user_id = ?').run(event.data.userId);
      return;
    case 'MfaLocked':
      statement(db, 'lock', 'UPDATE users SET mfa_locked_until = ? WHERE user_id = ?').run(event.data.until, event.data.userId);
      return;
    case 'MfaUnlocked':
      statement(db, 'unlock', 'UPDATE users SET mfa_locked_until = NULL WHERE user_id = ?').run(event.data.userId);
      return;
    case 'UserDisabled':
      statement(db, 'disable', "UPDATE users SET status = 'disabled' WHERE user_id = ?").run(event.data.userId);
      return;
    case 'UserEnabled':
      statement(db, 'enable', "UPDATE users SET status = 'active' WHERE user_id = ?").run(event.data.userId);
      return;
    default:
      return;
  }
}

export interface UserRow {
  user_id: string;
  username: string;
  status: 'active' | 'disabled';
  mfa_enrolled: number;
  mfa_locked_until: number | null;
  registered_at: number;
}

export interface ClientRow {
  client_id: string;
  organisation_id: string;
  name: string;
  public: number;
  /** JSON array of strings. */
  redirect_uris: string;
  registered_at: number;
}

/** Queries over the identity read models. */
export class IdentityDirectory {
  constructor(private readonly db: Database) {}

  userByUsername(username: string): UserRow | undefined {
    return statement(this.db, 'q:user-by-name', 'SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  }

  /** A user's username (participant criteria match it as an email address when it is one). */
  usernameOf(userId: string): string | undefined {
    const row = statement(this.db, 'q:username-of', 'SELECT username FROM users WHERE user_id = ?').get(userId) as { username: string } | undefined;
    return row?.username;
  }

  organisation(organisationId: string): { organisation_id: string; name: string } | undefined {
    return statement(this.db, 'q:org', 'SELECT organisation_id, name FROM organisations WHERE organisation_id = ?').get(organisationId) as
      | { organisation_id: string; name: string }
      | undefined;
  }

  organisationByIdOrName(key: string): { organisation_id: string; name: string } | undefined {
    return statement(this.db, 'q:org-key', 'SELECT organisation_id, name FROM organisations WHERE organisation_id = ? OR name = ? LIMIT 1').get(key, key) as
      | { organisation_id: string; name: string }
      | undefined;
  }

  groupByName(organisationId: string, name: string): { group_id: string } | undefined {
    return statement(this.db, 'q:group', 'SELECT group_id FROM organisation_groups WHERE organisation_id = ? AND (name = ? OR group_id = ?)').get(
      organisationId,
      name,
      name,
    ) as { group_id: string } | undefined;
  }

  /** Group names of a user, optionally within one organisation. */
  /** An organisation's groups, by name. */
  groupsOfOrganisation(organisationId: string): { group_id: string; name: string }[] {
    return statement(this.db, 'q:org-groups', 'SELECT group_id, name FROM organisation_groups WHERE organisation_id = ? ORDER BY name').all(organisationId) as {
      group_id: string;
      name: string;
    }[];
  }

  /** Ids of the groups a user belongs to in one organisation (what permissions are granted to). */
  groupIdsOf(userId: string, organisationId: string): string[] {
    const rows = statement(this.db, 'q:group-ids-of', 'SELECT group_id FROM user_groups WHERE user_id = ? AND organisation_id = ?').all(userId, organisationId) as {
      group_id: string;
    }[];
    return rows.map((row) => row.group_id);
  }

  groupsOf(userId: string, organisationId?: string | null): string[] {
    const rows = statement(
      this.db,
      'q:groups-of',
      `SELECT c.name FROM user_groups m JOIN organisation_groups c ON c.group_id = m.group_id
       WHERE m.user_id = ? AND (? IS NULL OR m.organisation_id = ?) ORDER BY c.name`,
    ).all(userId, organisationId ?? null, organisationId ?? null) as { name: string }[];
    return rows.map((row) => row.name);
  }

  /** The organisations a user belongs to through groups, oldest membership first. */
  organisationsOf(userId: string): string[] {
    const rows = statement(this.db, 'q:orgs-of', 'SELECT DISTINCT organisation_id FROM user_groups WHERE user_id = ? ORDER BY rowid').all(userId) as {
      organisation_id: string;
    }[];
    return rows.map((row) => row.organisation_id);
  }

  client(clientId: string): ClientRow | undefined {
    return statement(this.db, 'q:client', 'SELECT * FROM oauth_clients WHERE client_id = ?').get(clientId) as ClientRow | undefined;
  }
}
