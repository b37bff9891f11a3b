import { statement, type Projection, type ReadModelDatabase as Database } from '../../store/index.js';
import {
  fieldError,
  isEventListingEvent,
  type EventListingChanges,
  type EventListingFields,
  type EventScheduledData,
  type UserType,
} from './domain/index.js';

/**
 * Read models `event_listings` (one row per listing ever scheduled; a deleted one keeps its
 * row with `deleted_at`) and `event_user_types` (roles set explicitly; everyone else is
 * `audience`). Inline, so a command's answer and the next command's checks see its change.
 *
 * The projection is also the last guard of what needs other listings: the service checks a
 * parent and a slug before the append, but two appends can race past those checks (two
 * listings made each other's parent, two creations took one slug). Here, inside the append's
 * transaction, a throw rolls the append back, so the log never holds a nesting cycle, a
 * parent in another organisation, or two live listings of one organisation with one slug.
 * Replay sees only events that passed, in the same order, so it never throws.
 *
 * Statement keys start with `listings:`: the statement cache is shared by every projection
 * on the database.
 */
export const eventListingsProjection: Projection = {
  name: 'event-listings',
  mode: 'inline',
  tables: ['event_listings', 'event_user_types'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS event_listings (
        event_id TEXT PRIMARY KEY, organisation_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, slug TEXT NOT NULL,
        description TEXT, website TEXT, timezone TEXT, start_date INTEGER NOT NULL, end_date INTEGER NOT NULL,
        public INTEGER NOT NULL, data TEXT, scheduled_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER);
      CREATE INDEX IF NOT EXISTS event_listings_by_organisation ON event_listings (organisation_id, start_date);
      CREATE INDEX IF NOT EXISTS event_listings_by_slug ON event_listings (organisation_id, slug);
      CREATE INDEX IF NOT EXISTS event_listings_by_parent ON event_listings (parent_id);
      CREATE TABLE IF NOT EXISTS event_user_types (
        event_id TEXT NOT NULL, user_id TEXT NOT NULL, user_type TEXT NOT NULL, PRIMARY KEY (event_id, user_id));
    `);
  },
  apply(db, event) {
    if (!isEventListingEvent(event)) return;
    switch (event.type) {
      case 'EventScheduled': {
        const { data } = event;
        guardParent(db, data.eventId, data.organisationId, data.parentId);
        guardSlug(db, data.eventId, data.organisationId, data.slug);
        insertListing(db, data);
        return;
      }
      case 'EventUpdated': {
        const { eventId, organisationId, changes, updatedAt } = event.data;
        if (changes.parentId !== undefined) guardParent(db, eventId, organisationId, changes.parentId);
        if (changes.slug !== undefined) guardSlug(db, eventId, organisationId, changes.slug);
        updateListing(db, eventId, changes, updatedAt);
        return;
      }
      case 'EventDeleted':
        statement(db, 'listings:delete', 'UPDATE event_listings SET deleted_at = ?, updated_at = ? WHERE event_id = ?').run(
          event.data.deletedAt,
          event.data.deletedAt,
          event.data.eventId,
        );
        return;
      case 'EventUserTypeSet':
        statement(
          db,
          'listings:user-type',
          'INSERT INTO event_user_types VALUES (?, ?, ?) ON CONFLICT(event_id, user_id) DO UPDATE SET user_type = excluded.user_type',
        ).run(event.data.eventId, event.data.userId, event.data.userType);
        return;
      default:
        return;
    }
  },
};

interface ParentRow {
  organisation_id: string;
  parent_id: string | null;
  deleted_at: number | null;
}

const parentRow = (db: Database, eventId: string): ParentRow | undefined =>
  statement(db, 'listings:parent-of', 'SELECT organisation_id, parent_id, deleted_at FROM event_listings WHERE event_id = ?').get(eventId) as ParentRow | undefined;

/**
 * The ids above `eventId`, nearest first. `seen` ends the walk on a loop, which the guard
 * below keeps out of the table; the walk must terminate even if a bug let one in.
 */
export function ancestorsOf(db: Database, eventId: string): string[] {
  const chain: string[] = [];
  const seen = new Set<string>([eventId]);
  let next = parentRow(db, eventId)?.parent_id ?? null;
  while (next !== null && !seen.has(next)) {
    chain.push(next);
    seen.add(next);
    next = parentRow(db, next)?.parent_id ?? null;
  }
  return chain;
}

/** Refuses a parent that is unknown, deleted, of another organisation, or below the listing itself. */
function guardParent(db: Database, eventId: string, organisationId: string, parentId: string | null): void {
  if (parentId === null) return;
  const parent = parentRow(db, parentId);
  if (!parent) throw fieldError('data.parent', 'names no event');
  if (parent.deleted_at !== null) throw fieldError('data.parent', 'names a deleted event');
  if (parent.organisation_id !== organisationId) throw fieldError('data.parent', 'names an event of another organisation');
  if (parentId === eventId || ancestorsOf(db, parentId).includes(eventId)) throw fieldError('data.parent', 'would make the event its own ancestor');
}

/** Whether a live listing of the organisation other than `exceptEventId` has this slug (deleted ones free theirs). */
function slugHeld(db: Database, organisationId: string, slug: string, exceptEventId: string): boolean {
  const holder = statement(db, 'listings:slug-holder', 'SELECT 1 FROM event_listings WHERE organisation_id = ? AND slug = ? AND deleted_at IS NULL AND event_id != ?');
  return holder.get(organisationId, slug, exceptEventId) !== undefined;
}

function guardSlug(db: Database, eventId: string, organisationId: string, slug: string): void {
  if (slugHeld(db, organisationId, slug, eventId)) throw fieldError('data.slug', 'is taken by another event of this organisation');
}

const json = (value: Record<string, unknown> | null): string | null => (value === null ? null : JSON.stringify(value));

function insertListing(db: Database, data: EventScheduledData): void {
  statement(db, 'listings:insert', 'INSERT INTO event_listings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)').run(
    data.eventId,
    data.organisationId,
    data.parentId,
    data.name,
    data.slug,
    data.description,
    data.website,
    data.timezone,
    data.startDate,
    data.endDate,
    data.public ? 1 : 0,
    json(data.data),
    data.scheduledAt,
    data.scheduledAt,
  );
}

/**
 * One cached statement for every combination of changed fields: each column is set to its
 * new value when its flag is 1, kept otherwise (a null is a value: `parent: null` un-nests).
 */
const UPDATE_COLUMNS = ['parent_id', 'name', 'slug', 'description', 'website', 'timezone', 'start_date', 'end_date', 'public', 'data'] as const;
const UPDATE_SQL = `UPDATE event_listings SET ${UPDATE_COLUMNS.map((column) => `${column} = CASE WHEN ? THEN ? ELSE ${column} END`).join(', ')}, updated_at = ? WHERE event_id = ?`;

function updateListing(db: Database, eventId: string, changes: EventListingChanges, updatedAt: number): void {
  const values: Record<(typeof UPDATE_COLUMNS)[number], unknown> = {
    parent_id: changes.parentId,
    name: changes.name,
    slug: changes.slug,
    description: changes.description,
    website: changes.website,
    timezone: changes.timezone,
    start_date: changes.startDate,
    end_date: changes.endDate,
    public: changes.public === undefined ? undefined : changes.public ? 1 : 0,
    data: changes.data === undefined ? undefined : json(changes.data),
  };
  const parameters = UPDATE_COLUMNS.flatMap((column) => {
    const value = values[column];
    return value === undefined ? [0, null] : [1, value];
  });
  statement(db, 'listings:update', UPDATE_SQL).run(...parameters, updatedAt, eventId);
}

// ---- queries ----

interface ListingRow {
  event_id: string;
  organisation_id: string;
  parent_id: string | null;
  name: string;
  slug: string;
  description: string | null;
  website: string | null;
  timezone: string | null;
  start_date: number;
  end_date: number;
  public: number;
  data: string | null;
  scheduled_at: number;
  updated_at: number;
  deleted_at: number | null;
}

/** A listing as the read model holds it, in the domain's words: its fields and its lifetime. */
export type EventListing = EventListingFields & {
  eventId: string;
  organisationId: string;
  scheduledAt: number;
  updatedAt: number;
  deletedAt: number | null;
};

function listingOf(row: ListingRow): EventListing {
  return {
    eventId: row.event_id,
    organisationId: row.organisation_id,
    parentId: row.parent_id,
    name: row.name,
    slug: row.slug,
    description: row.description,
    website: row.website,
    timezone: row.timezone,
    startDate: row.start_date,
    endDate: row.end_date,
    public: row.public === 1,
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    scheduledAt: row.scheduled_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  };
}

/** Listings one list returns at most: an organisation's whole programme, not an unbounded scan. */
export const MAX_LISTED_EVENTS = 1000;

/** Queries over the listing read models (constructed on `store.readModels`). */
export class EventListingDirectory {
  constructor(private readonly db: Database) {}

  /** The listing, or undefined when unknown or (unless `includeDeleted`) deleted. */
  get(eventId: string, options: { includeDeleted?: boolean } = {}): EventListing | undefined {
    const row = statement(this.db, 'listings:q:get', 'SELECT * FROM event_listings WHERE event_id = ?').get(eventId) as ListingRow | undefined;
    if (!row || (row.deleted_at !== null && !options.includeDeleted)) return undefined;
    return listingOf(row);
  }

  /** The organisation's live listings, earliest first; `publicOnly` for callers outside it. */
  listByOrganisation(organisationId: string, options: { publicOnly?: boolean; limit?: number } = {}): EventListing[] {
    const limit = Math.min(options.limit ?? MAX_LISTED_EVENTS, MAX_LISTED_EVENTS);
    const rows = statement(
      this.db,
      'listings:q:by-organisation',
      'SELECT * FROM event_listings WHERE organisation_id = ? AND deleted_at IS NULL AND (? = 0 OR public = 1) ORDER BY start_date, event_id LIMIT ?',
    ).all(organisationId, options.publicOnly ? 1 : 0, limit) as ListingRow[];
    return rows.map(listingOf);
  }

  /** Ids of the live listings nested directly under this one, earliest first. */
  children(eventId: string): string[] {
    const rows = statement(
      this.db,
      'listings:q:children',
      'SELECT event_id FROM event_listings WHERE parent_id = ? AND deleted_at IS NULL ORDER BY start_date, event_id',
    ).all(eventId) as { event_id: string }[];
    return rows.map((row) => row.event_id);
  }

  /** Ids of the listings above this one, its parent first. */
  ancestors(eventId: string): string[] {
    return ancestorsOf(this.db, eventId);
  }

  /** The user's role in the listing: `audience` unless one was set. */
  userTypeOf(eventId: string, userId: string): UserType {
    const row = statement(this.db, 'listings:q:user-type', 'SELECT user_type FROM event_user_types WHERE event_id = ? AND user_id = ?').get(eventId, userId) as
      | { user_type: UserType }
      | undefined;
    return row?.user_type ?? 'audience';
  }

  /** Whether a live listing of the organisation other than `exceptEventId` has this slug. */
  slugTaken(organisationId: string, slug: string, exceptEventId = ''): boolean {
    return slugHeld(this.db, organisationId, slug, exceptEventId);
  }
}
