import type { ItemType } from '../../protocol/topics/itineraries.js';
import type { Projection, ReadModelDatabase } from '../../store/index.js';
import { statement } from '../../store/index.js';
import { isItineraryEvent, type ItemAddedData, type ItemChanges, type ItineraryChanges, type ItineraryCreatedData, type JsonObject } from './domain/index.js';

/**
 * Read models `itineraries` and `itinerary_items`, inline: an admin's create is answered with
 * the view read back from here, so it must hold the append's state at once. Deleted rows stay
 * (`deleted_at`, `removed_at`) as the log keeps them; the directory hides them. Statement keys
 * are prefixed `itineraries:` since the statement cache is shared by every projection.
 */
export const itinerariesProjection: Projection = {
  name: 'itineraries',
  mode: 'inline',
  tables: ['itineraries', 'itinerary_items', 'itinerary_event_versions'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS itineraries (
        itinerary_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, organisation_id TEXT NOT NULL, name TEXT NOT NULL,
        description TEXT, start_date INTEGER NOT NULL, end_date INTEGER NOT NULL, data TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER, deleted_at INTEGER);
      CREATE INDEX IF NOT EXISTS itineraries_by_event ON itineraries (event_id, start_date);
      CREATE TABLE IF NOT EXISTS itinerary_items (
        item_id TEXT PRIMARY KEY, itinerary_id TEXT NOT NULL, event_id TEXT NOT NULL, organisation_id TEXT NOT NULL,
        type TEXT NOT NULL, name TEXT NOT NULL, description TEXT, start_date INTEGER, end_date INTEGER,
        item_order INTEGER NOT NULL, configuration TEXT NOT NULL, added_at INTEGER NOT NULL, updated_at INTEGER, removed_at INTEGER);
      CREATE INDEX IF NOT EXISTS itinerary_items_by_itinerary ON itinerary_items (itinerary_id, item_order, start_date);
      CREATE INDEX IF NOT EXISTS itinerary_items_by_event ON itinerary_items (event_id);
      CREATE TABLE IF NOT EXISTS itinerary_event_versions (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL);
    `);
  },
  apply(db, event) {
    if (!isItineraryEvent(event)) return;
    // The log position of the last change to any itinerary or item of the event: what a cached
    // view of the event's itineraries is checked against (ItineraryDirectory.eventVersion).
    statement(db, 'itineraries:event-version', 'INSERT INTO itinerary_event_versions VALUES (?, ?) ON CONFLICT(event_id) DO UPDATE SET position = excluded.position').run(
      event.data.eventId,
      event.position,
    );
    switch (event.type) {
      case 'ItineraryCreated': {
        const data = event.data;
        statement(
          db,
          'itineraries:create',
          `INSERT INTO itineraries (itinerary_id, event_id, organisation_id, name, description, start_date, end_date, data, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(data.itineraryId, data.eventId, data.organisationId, data.name, data.description, data.startDate, data.endDate, JSON.stringify(data.data), data.createdAt);
        return;
      }
      case 'ItineraryUpdated': {
        const row = itineraryRow(db, event.data.itineraryId);
        if (!row) return;
        const changes: ItineraryChanges = event.data.changes;
        statement(db, 'itineraries:update', 'UPDATE itineraries SET name = ?, description = ?, start_date = ?, end_date = ?, data = ?, updated_at = ? WHERE itinerary_id = ?').run(
          changes.name ?? row.name,
          changes.description ?? row.description,
          changes.startDate ?? row.start_date,
          changes.endDate ?? row.end_date,
          changes.data === undefined ? row.data : JSON.stringify(changes.data),
          event.data.updatedAt,
          event.data.itineraryId,
        );
        return;
      }
      case 'ItineraryDeleted':
        statement(db, 'itineraries:delete', 'UPDATE itineraries SET deleted_at = ? WHERE itinerary_id = ?').run(event.data.deletedAt, event.data.itineraryId);
        return;
      case 'ItemAdded': {
        const data = event.data;
        // The organisation is the itinerary's (it never changes), kept on the item for permission checks by item id.
        statement(
          db,
          'itineraries:item-add',
          `INSERT INTO itinerary_items (item_id, itinerary_id, event_id, organisation_id, type, name, description, start_date, end_date,
             item_order, configuration, added_at)
           SELECT ?, itinerary_id, ?, organisation_id, ?, ?, ?, ?, ?, ?, ?, ? FROM itineraries WHERE itinerary_id = ?`,
        ).run(
          data.itemId,
          data.eventId,
          data.type,
          data.name,
          data.description,
          data.startDate,
          data.endDate,
          data.order,
          JSON.stringify(data.configuration),
          data.addedAt,
          data.itineraryId,
        );
        return;
      }
      case 'ItemUpdated': {
        const row = itemRow(db, event.data.itemId);
        if (!row) return;
        const changes: ItemChanges = event.data.changes;
        statement(
          db,
          'itineraries:item-update',
          'UPDATE itinerary_items SET name = ?, description = ?, start_date = ?, end_date = ?, item_order = ?, configuration = ?, updated_at = ? WHERE item_id = ?',
        ).run(
          changes.name ?? row.name,
          changes.description ?? row.description,
          // null clears a schedule: only an absent field keeps the stored value.
          changes.startDate === undefined ? row.start_date : changes.startDate,
          changes.endDate === undefined ? row.end_date : changes.endDate,
          changes.order ?? row.item_order,
          changes.configuration === undefined ? row.configuration : JSON.stringify(changes.configuration),
          event.data.updatedAt,
          event.data.itemId,
        );
        return;
      }
      case 'ItemRemoved':
        statement(db, 'itineraries:item-remove', 'UPDATE itinerary_items SET removed_at = ? WHERE item_id = ?').run(event.data.removedAt, event.data.itemId);
        return;
    }
  },
};

interface ItineraryRow {
  itinerary_id: string;
  event_id: string;
  organisation_id: string;
  name: string;
  description: string | null;
  start_date: number;
  end_date: number;
  data: string;
  created_at: number;
  updated_at: number | null;
  deleted_at: number | null;
}

interface ItemRow {
  item_id: string;
  itinerary_id: string;
  event_id: string;
  organisation_id: string;
  type: ItemType;
  name: string;
  description: string | null;
  start_date: number | null;
  end_date: number | null;
  item_order: number;
  configuration: string;
  added_at: number;
  updated_at: number | null;
  removed_at: number | null;
}

function itineraryRow(db: ReadModelDatabase, itineraryId: string): ItineraryRow | undefined {
  return statement(db, 'itineraries:row', 'SELECT * FROM itineraries WHERE itinerary_id = ?').get(itineraryId) as ItineraryRow | undefined;
}

function itemRow(db: ReadModelDatabase, itemId: string): ItemRow | undefined {
  return statement(db, 'itineraries:item-row', 'SELECT * FROM itinerary_items WHERE item_id = ?').get(itemId) as ItemRow | undefined;
}

/** An itinerary as the read model holds it: what its creation recorded, as changed since; dates in epoch ms. */
export type ItineraryRecord = ItineraryCreatedData & { updatedAt: number | null };

/** An item as the read model holds it, with its itinerary's organisation (whose permissions govern it). */
export type ItemRecord = ItemAddedData & { organisationId: string; updatedAt: number | null };

/** The JSON columns hold objects the projection wrote from checked events. */
const jsonObject = (text: string): JsonObject => JSON.parse(text) as JsonObject;

const itineraryOf = (row: ItineraryRow): ItineraryRecord => ({
  itineraryId: row.itinerary_id,
  eventId: row.event_id,
  organisationId: row.organisation_id,
  name: row.name,
  description: row.description,
  startDate: row.start_date,
  endDate: row.end_date,
  data: jsonObject(row.data),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const itemOf = (row: ItemRow): ItemRecord => ({
  itemId: row.item_id,
  itineraryId: row.itinerary_id,
  eventId: row.event_id,
  organisationId: row.organisation_id,
  type: row.type,
  name: row.name,
  description: row.description,
  startDate: row.start_date,
  endDate: row.end_date,
  order: row.item_order,
  configuration: jsonObject(row.configuration),
  addedAt: row.added_at,
  updatedAt: row.updated_at,
});

/** Items without a schedule sort after the scheduled ones of the same order. */
const ITEM_ORDER = 'ORDER BY item_order, start_date IS NULL, start_date, added_at, item_id';

/**
 * Queries over the read model (`store.readModels`). Deleted itineraries and removed items are
 * hidden: to every reader they do not exist.
 */
export class ItineraryDirectory {
  constructor(private readonly db: ReadModelDatabase) {}

  itinerary(itineraryId: string): ItineraryRecord | undefined {
    const row = statement(this.db, 'itineraries:get', 'SELECT * FROM itineraries WHERE itinerary_id = ? AND deleted_at IS NULL').get(itineraryId) as ItineraryRow | undefined;
    return row && itineraryOf(row);
  }

  /** The log position of the event's last itinerary or item change (0: none yet); one indexed row. */
  eventVersion(eventId: string): number {
    const row = statement(this.db, 'itineraries:q:event-version', 'SELECT position FROM itinerary_event_versions WHERE event_id = ?').get(eventId) as { position: number } | undefined;
    return row?.position ?? 0;
  }

  byEvent(eventId: string): ItineraryRecord[] {
    const rows = statement(this.db, 'itineraries:by-event', 'SELECT * FROM itineraries WHERE event_id = ? AND deleted_at IS NULL ORDER BY start_date, created_at, itinerary_id').all(eventId) as ItineraryRow[];
    return rows.map(itineraryOf);
  }

  item(itemId: string): ItemRecord | undefined {
    const row = statement(this.db, 'itineraries:item', 'SELECT * FROM itinerary_items WHERE item_id = ? AND removed_at IS NULL').get(itemId) as ItemRow | undefined;
    return row && itemOf(row);
  }

  itemsOf(itineraryId: string): ItemRecord[] {
    const rows = statement(this.db, 'itineraries:items-of', `SELECT * FROM itinerary_items WHERE itinerary_id = ? AND removed_at IS NULL ${ITEM_ORDER}`).all(itineraryId) as ItemRow[];
    return rows.map(itemOf);
  }

  /** Every live item of the event's live itineraries, grouped by itinerary (by start), each in item order. */
  itemsOfEvent(eventId: string): ItemRecord[] {
    const rows = statement(
      this.db,
      'itineraries:items-of-event',
      `SELECT i.* FROM itinerary_items i JOIN itineraries t ON t.itinerary_id = i.itinerary_id
       WHERE i.event_id = ? AND i.removed_at IS NULL AND t.deleted_at IS NULL
       ORDER BY t.start_date, t.created_at, t.itinerary_id, i.item_order, i.start_date IS NULL, i.start_date, i.added_at, i.item_id`,
    ).all(eventId) as ItemRow[];
    return rows.map(itemOf);
  }

  /** Live items whose itinerary is deleted or missing: none, ever (deleting an itinerary removes its items); the tests check it. */
  orphanedItems(): ItemRecord[] {
    const rows = statement(
      this.db,
      'itineraries:orphans',
      `SELECT i.* FROM itinerary_items i LEFT JOIN itineraries t ON t.itinerary_id = i.itinerary_id
       WHERE i.removed_at IS NULL AND (t.itinerary_id IS NULL OR t.deleted_at IS NOT NULL) ORDER BY i.item_id`,
    ).all() as ItemRow[];
    return rows.map(itemOf);
  }
}
