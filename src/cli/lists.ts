import type { Config } from '../app/config.js';
import { AppError } from '../core/errors.js';
import { statement, type ReadModelDatabase } from '../store/index.js';
import { openOperatorReadModels, operatorFailure } from './context.js';
import { table, type Output } from './output.js';

/**
 * `switchyard orgs|groups|users|clients list`: the identity read models (the inline tables of
 * src/modules/identity/projection.ts, current as of the last commit, the running gateway's
 * included). Only what an operator needs to find things: those tables hold no password
 * hashes, MFA secrets or client secret hashes, so none can be shown.
 *
 * The queries are here rather than beside the tables because that file is being changed by
 * another piece of work; they belong in IdentityDirectory once it settles.
 */

export type ListArea = 'orgs' | 'groups' | 'users' | 'clients';

export interface ListOptions {
  /** Only the rows of this organisation (id or name); not for `orgs`. */
  org?: string | undefined;
  json?: boolean | undefined;
}

const iso = (millis: number): string => new Date(millis).toISOString();

function organisationIdOf(db: ReadModelDatabase, key: string | undefined): string | null {
  if (key === undefined) return null;
  const row = statement(db, 'cli:org-key', 'SELECT organisation_id FROM organisations WHERE organisation_id = ? OR name = ? LIMIT 1').get(key, key) as
    | { organisation_id: string }
    | undefined;
  if (!row) throw new AppError('NOT_FOUND', `no organisation "${key}"`);
  return row.organisation_id;
}

interface Listing {
  headers: string[];
  rows: string[][];
  records: Record<string, unknown>[];
}

function organisations(db: ReadModelDatabase): Listing {
  const rows = statement(
    db,
    'cli:orgs',
    `SELECT o.organisation_id, o.name, o.created_at,
       (SELECT count(*) FROM organisation_groups g WHERE g.organisation_id = o.organisation_id) AS groups,
       (SELECT count(DISTINCT m.user_id) FROM user_groups m WHERE m.organisation_id = o.organisation_id) AS users
     FROM organisations o ORDER BY o.created_at, o.rowid`,
  ).all() as { organisation_id: string; name: string; created_at: number; groups: number; users: number }[];
  return {
    headers: ['ORGANISATION', 'NAME', 'GROUPS', 'USERS', 'CREATED'],
    rows: rows.map((row) => [row.organisation_id, row.name, String(row.groups), String(row.users), iso(row.created_at)]),
    records: rows.map((row) => ({ organisationId: row.organisation_id, name: row.name, groups: row.groups, users: row.users, createdAt: row.created_at })),
  };
}

function groups(db: ReadModelDatabase, organisationId: string | null): Listing {
  const rows = statement(
    db,
    'cli:groups',
    `SELECT g.group_id, g.organisation_id, o.name AS organisation, g.name, g.created_at,
       (SELECT count(*) FROM user_groups m WHERE m.group_id = g.group_id) AS members
     FROM organisation_groups g LEFT JOIN organisations o ON o.organisation_id = g.organisation_id
     WHERE ? IS NULL OR g.organisation_id = ? ORDER BY g.created_at, g.rowid`,
  ).all(organisationId, organisationId) as { group_id: string; organisation_id: string; organisation: string | null; name: string; created_at: number; members: number }[];
  return {
    headers: ['GROUP', 'ORGANISATION', 'NAME', 'MEMBERS', 'CREATED'],
    rows: rows.map((row) => [row.group_id, row.organisation ?? row.organisation_id, row.name, String(row.members), iso(row.created_at)]),
    records: rows.map((row) => ({
      groupId: row.group_id,
      organisationId: row.organisation_id,
      name: row.name,
      members: row.members,
      createdAt: row.created_at,
    })),
  };
}

function users(db: ReadModelDatabase, organisationId: string | null, now: number): Listing {
  const rows = statement(
    db,
    'cli:users',
    `SELECT u.user_id, u.username, u.status, u.mfa_enrolled, u.mfa_locked_until, u.registered_at FROM users u
     WHERE ? IS NULL OR EXISTS (SELECT 1 FROM user_groups m WHERE m.user_id = u.user_id AND m.organisation_id = ?)
     ORDER BY u.registered_at, u.rowid`,
  ).all(organisationId, organisationId) as {
    user_id: string;
    username: string;
    status: string;
    mfa_enrolled: number;
    mfa_locked_until: number | null;
    registered_at: number;
  }[];
  const memberships = statement(
    db,
    'cli:user-groups',
    `SELECT m.organisation_id, o.name AS organisation, g.name AS grp FROM user_groups m
     JOIN organisation_groups g ON g.group_id = m.group_id LEFT JOIN organisations o ON o.organisation_id = m.organisation_id
     WHERE m.user_id = ? AND (? IS NULL OR m.organisation_id = ?) ORDER BY o.name, g.name`,
  );
  const listed = rows.map((row) => {
    const groupsOf = memberships.all(row.user_id, organisationId, organisationId) as { organisation_id: string; organisation: string | null; grp: string }[];
    const locked = row.mfa_locked_until !== null && row.mfa_locked_until > now;
    return { row, groupsOf, mfa: row.mfa_enrolled ? (locked ? 'locked' : 'enrolled') : 'none' };
  });
  return {
    headers: ['USER', 'USERNAME', 'STATUS', 'MFA', 'REGISTERED', 'GROUPS'],
    rows: listed.map(({ row, groupsOf, mfa }) => [
      row.user_id,
      row.username,
      row.status,
      mfa,
      iso(row.registered_at),
      groupsOf.map((group) => `${group.organisation ?? group.organisation_id}/${group.grp}`).join(' '),
    ]),
    records: listed.map(({ row, groupsOf }) => ({
      userId: row.user_id,
      username: row.username,
      status: row.status,
      mfaEnrolled: row.mfa_enrolled === 1,
      mfaLockedUntil: row.mfa_locked_until,
      registeredAt: row.registered_at,
      groups: groupsOf.map((group) => ({ organisationId: group.organisation_id, group: group.grp })),
    })),
  };
}

function clients(db: ReadModelDatabase, organisationId: string | null): Listing {
  const rows = statement(
    db,
    'cli:clients',
    `SELECT c.client_id, c.organisation_id, o.name AS organisation, c.name, c.public, c.redirect_uris, c.registered_at
     FROM oauth_clients c LEFT JOIN organisations o ON o.organisation_id = c.organisation_id
     WHERE ? IS NULL OR c.organisation_id = ? ORDER BY c.registered_at, c.rowid`,
  ).all(organisationId, organisationId) as {
    client_id: string;
    organisation_id: string;
    organisation: string | null;
    name: string;
    public: number;
    redirect_uris: string;
    registered_at: number;
  }[];
  const uris = (text: string): string[] => JSON.parse(text) as string[];
  return {
    headers: ['CLIENT', 'ORGANISATION', 'NAME', 'KIND', 'REGISTERED', 'REDIRECT URIS'],
    rows: rows.map((row) => [
      row.client_id,
      row.organisation ?? row.organisation_id,
      row.name,
      row.public ? 'public' : 'confidential',
      iso(row.registered_at),
      uris(row.redirect_uris).join(' '),
    ]),
    records: rows.map((row) => ({
      clientId: row.client_id,
      organisationId: row.organisation_id,
      name: row.name,
      public: row.public === 1,
      redirectUris: uris(row.redirect_uris),
      registeredAt: row.registered_at,
    })),
  };
}

/** Prints one listing as a table, or as one JSON object a line with `--json`. */
export async function listCommand(area: ListArea, options: ListOptions, config: Config, output: Output, now = Date.now()): Promise<number> {
  const store = openOperatorReadModels(config);
  try {
    const db = store.readModels;
    if (area === 'orgs' && options.org !== undefined) throw new AppError('BAD_REQUEST', '--org does not apply to orgs list');
    const organisationId = organisationIdOf(db, options.org);
    const listing =
      area === 'orgs' ? organisations(db) : area === 'groups' ? groups(db, organisationId) : area === 'users' ? users(db, organisationId, now) : clients(db, organisationId);
    if (options.json) for (const record of listing.records) output.out(JSON.stringify(record));
    else for (const line of table(listing.headers, listing.rows)) output.out(line);
    return 0;
  } catch (error) {
    return operatorFailure(error, output);
  } finally {
    await store.close();
  }
}
