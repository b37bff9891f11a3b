import { randomUUID } from 'node:crypto';
import { streamId, type Clock, type EventMetadata } from '../../core/index.js';
import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import { checkItemConfiguration, type ItemType } from '../../protocol/topics/itineraries.js';
import type { ActorRuntime, CommandResult } from '../../runtime/index.js';
import type { ItinerariesConfig } from './config.js';
import {
  ITINERARY_CATEGORY,
  invalidFields,
  notFound,
  type FieldProblem,
  type ItemChanges,
  type ItineraryChanges,
  type ItineraryCommand,
  type JsonObject,
} from './domain/index.js';
import type { ItineraryEventsPort } from './ports.js';
import { publicConfiguration, storedConfiguration } from './join.js';
import type { ItemRecord, ItineraryDirectory, ItineraryRecord } from './projection.js';

/** Who issues a change and what ties its answers together; `now` defaults to the clock (the CLI's calls). */
export interface ChangeContext {
  /** Who: `user:<id>`, `organisation:<id>`, `operator` (the audit view's answer). */
  actor: string;
  /** The socket the command came on, when one did. */
  connection?: string;
  correlationId?: string;
  now?: number;
}

/** An item as Extream's clients read it: snake_case, ISO datetimes. */
export interface ItemView {
  id: string;
  itinerary: string;
  event: string;
  type: ItemType;
  name: string;
  description: string | null;
  start_date: string | null;
  end_date: string | null;
  order: number;
  configuration: JsonObject;
}

export interface ItineraryView {
  id: string;
  event: string;
  name: string;
  description: string | null;
  start_date: string | null;
  end_date: string | null;
  data: JsonObject;
  items: ItemView[];
}

export interface DeletedView {
  id: string;
  deleted: true;
}

export interface Change<View> {
  /** Log position of the change's last event: the receipt's `messageId`. */
  position: number | undefined;
  view: View;
}

/**
 * Who a view is for. `operator`: admin reads and the answers of admin commands, everything as
 * stored. `public`: consumer reads, joins and pushes, which every attendee gets: a quiz's answer
 * keys, a call's participant criteria (invitees' addresses) and an rtmp item's ingest URL stay
 * out (publicConfiguration).
 */
export type ViewAudience = 'operator' | 'public';

export const itemView = (item: ItemRecord, audience: ViewAudience = 'public'): ItemView => ({
  id: item.itemId,
  itinerary: item.itineraryId,
  event: item.eventId,
  type: item.type,
  name: item.name,
  description: item.description,
  start_date: formatExtreamDateTime(item.startDate),
  end_date: formatExtreamDateTime(item.endDate),
  order: item.order,
  configuration: audience === 'operator' ? item.configuration : publicConfiguration(item.type, item.configuration),
});

export const itineraryView = (itinerary: ItineraryRecord, items: readonly ItemRecord[], audience: ViewAudience = 'public'): ItineraryView => ({
  id: itinerary.itineraryId,
  event: itinerary.eventId,
  name: itinerary.name,
  description: itinerary.description,
  start_date: formatExtreamDateTime(itinerary.startDate),
  end_date: formatExtreamDateTime(itinerary.endDate),
  data: itinerary.data,
  items: items.map((item) => itemView(item, audience)),
});

export interface ItineraryInput {
  eventId: string;
  name: string;
  description?: string | undefined;
  startDate: number;
  endDate: number;
  data?: JsonObject | undefined;
}

export interface ItemInput {
  itineraryId: string;
  type: ItemType;
  name: string;
  description?: string | undefined;
  startDate?: number | undefined;
  endDate?: number | undefined;
  order?: number | undefined;
  configuration?: JsonObject | undefined;
}

/** Events whose itinerary views are kept: the ones attendees read now, bounded. */
const CACHED_EVENT_VIEWS = 64;

export interface ItinerariesServiceDependencies {
  runtime: ActorRuntime;
  directory: ItineraryDirectory;
  events: ItineraryEventsPort;
  clock: Clock;
  config: Pick<ItinerariesConfig, 'itemHtmlIframeHostnames'>;
}

/**
 * Itineraries and their items: each change is a command on the itinerary's stream (the
 * stream decides what it knows: dates of the itinerary and its items), after the checks that
 * need other read models (the event exists and holds the itinerary's dates; the item's
 * itinerary exists). Permissions are the caller's (topics.ts): the CLI acts as the operator.
 */
export class Itineraries {
  /** Views of events' itineraries by event, with the version they were built at; least recently read first. */
  private readonly eventViews = new Map<string, { version: number; views: readonly ItineraryView[] }>();

  constructor(private readonly deps: ItinerariesServiceDependencies) {}

  async createItinerary(input: ItineraryInput, context: ChangeContext): Promise<Change<ItineraryView>> {
    const event = this.deps.events.get(input.eventId);
    if (!event) throw notFound('data.event', 'unknown event');
    this.withinEvent(event, input.startDate, input.endDate);
    // UUIDs, as Extream's commands require of every id (PROTOCOL.md section 8).
    const itineraryId = randomUUID();
    const result = await this.run(
      itineraryId,
      {
        type: 'CreateItinerary',
        itineraryId,
        eventId: input.eventId,
        organisationId: event.organisation_id,
        name: input.name,
        description: input.description ?? null,
        startDate: input.startDate,
        endDate: input.endDate,
        data: input.data ?? {},
        now: this.now(context),
      },
      context,
    );
    return { position: result.events.at(-1)?.position, view: this.viewOf(itineraryId) };
  }

  async updateItinerary(itineraryId: string, changes: ItineraryChanges, context: ChangeContext): Promise<Change<ItineraryView>> {
    const itinerary = this.requireItinerary(itineraryId, 'id');
    const event = this.deps.events.get(itinerary.eventId);
    if (!event) throw notFound('id', "this itinerary's event was deleted");
    if (changes.startDate !== undefined || changes.endDate !== undefined) {
      this.withinEvent(event, changes.startDate ?? itinerary.startDate, changes.endDate ?? itinerary.endDate);
    }
    const result = await this.run(itineraryId, { type: 'UpdateItinerary', changes, now: this.now(context) }, context);
    return { position: result.events.at(-1)?.position, view: this.viewOf(itineraryId) };
  }

  async deleteItinerary(itineraryId: string, context: ChangeContext): Promise<Change<DeletedView>> {
    this.requireItinerary(itineraryId, 'id');
    const result = await this.run(itineraryId, { type: 'DeleteItinerary', now: this.now(context) }, context);
    return { position: result.events.at(-1)?.position, view: { id: itineraryId, deleted: true } };
  }

  async addItem(input: ItemInput, context: ChangeContext): Promise<Change<ItemView>> {
    this.requireItinerary(input.itineraryId, 'data.itinerary');
    const itemId = randomUUID();
    const result = await this.run(
      input.itineraryId,
      {
        type: 'AddItem',
        itemId,
        itemType: input.type,
        name: input.name,
        description: input.description ?? null,
        startDate: input.startDate ?? null,
        endDate: input.endDate ?? null,
        ...(input.order === undefined ? {} : { order: input.order }),
        configuration: this.configurationFor(input.type, input.configuration ?? {}),
        now: this.now(context),
      },
      context,
    );
    return { position: result.events.at(-1)?.position, view: itemView(this.requireItem(itemId), 'operator') };
  }

  async updateItem(itemId: string, changes: ItemChanges, context: ChangeContext): Promise<Change<ItemView>> {
    const item = this.requireItem(itemId);
    // The update names no type: its configuration is checked against the stored item's.
    const checked: ItemChanges = changes.configuration === undefined ? changes : { ...changes, configuration: this.configurationFor(item.type, changes.configuration) };
    const result = await this.run(item.itineraryId, { type: 'UpdateItem', itemId, changes: checked, now: this.now(context) }, context);
    return { position: result.events.at(-1)?.position, view: itemView(this.requireItem(itemId), 'operator') };
  }

  async removeItem(itemId: string, context: ChangeContext): Promise<Change<DeletedView>> {
    const item = this.requireItem(itemId);
    const result = await this.run(item.itineraryId, { type: 'RemoveItem', itemId, now: this.now(context) }, context);
    return { position: result.events.at(-1)?.position, view: { id: itemId, deleted: true } };
  }

  /** One itinerary with its items, or undefined when unknown or deleted. */
  itinerary(itineraryId: string, audience: ViewAudience = 'public'): ItineraryView | undefined {
    const itinerary = this.deps.directory.itinerary(itineraryId);
    return itinerary && itineraryView(itinerary, this.deps.directory.itemsOf(itineraryId), audience);
  }

  /**
   * Every live itinerary of an event, by start, each with its items. Built once per change of
   * the event's itineraries and kept (bench/RESULTS.md: building 50 x 40 items from the read
   * model took ~18 ms, reading a version row takes microseconds); callers must not mutate
   * the views they get. The version is the read model's own, in the append's transaction, so
   * a read after a commit never sees the view from before it.
   */
  itinerariesOfEvent(eventId: string, audience: ViewAudience = 'public'): readonly ItineraryView[] {
    // Operators' reads are rare: built each time; the cache holds what attendees read.
    if (audience === 'operator') return this.buildItinerariesOfEvent(eventId, audience);
    const version = this.deps.directory.eventVersion(eventId);
    const cached = this.eventViews.get(eventId);
    if (cached && cached.version === version) {
      // Refreshed in the map's order: the least recently read event goes first when it is full.
      this.eventViews.delete(eventId);
      this.eventViews.set(eventId, cached);
      return cached.views;
    }
    const views = this.buildItinerariesOfEvent(eventId);
    this.eventViews.delete(eventId);
    this.eventViews.set(eventId, { version, views });
    if (this.eventViews.size > CACHED_EVENT_VIEWS) this.eventViews.delete(this.eventViews.keys().next().value!);
    return views;
  }

  private buildItinerariesOfEvent(eventId: string, audience: ViewAudience = 'public'): ItineraryView[] {
    const items = new Map<string, ItemRecord[]>();
    for (const item of this.deps.directory.itemsOfEvent(eventId)) {
      const list = items.get(item.itineraryId);
      if (list) list.push(item);
      else items.set(item.itineraryId, [item]);
    }
    return this.deps.directory.byEvent(eventId).map((itinerary) => itineraryView(itinerary, items.get(itinerary.itineraryId) ?? [], audience));
  }

  item(itemId: string, audience: ViewAudience = 'public'): ItemView | undefined {
    const item = this.deps.directory.item(itemId);
    return item && itemView(item, audience);
  }

  itemsOf(itineraryId: string, audience: ViewAudience = 'public'): ItemView[] {
    return this.deps.directory.itemsOf(itineraryId).map((item) => itemView(item, audience));
  }

  private requireItinerary(itineraryId: string, path: string): ItineraryRecord {
    const itinerary = this.deps.directory.itinerary(itineraryId);
    if (!itinerary) throw notFound(path, 'unknown itinerary');
    return itinerary;
  }

  private requireItem(itemId: string): ItemRecord {
    const item = this.deps.directory.item(itemId);
    if (!item) throw notFound('id', 'unknown item');
    return item;
  }

  /** The answer of an admin command: the operator's view. */
  private viewOf(itineraryId: string): ItineraryView {
    const view = this.itinerary(itineraryId, 'operator');
    // The projection is inline: after the commit the read model holds the itinerary.
    if (!view) throw notFound('id', 'unknown itinerary');
    return view;
  }

  /** The itinerary's dates lie within its event's (an event without one of its dates bounds nothing on that side). */
  private withinEvent(event: { start_date: number | null; end_date: number | null }, startDate: number, endDate: number): void {
    const problems: FieldProblem[] = [];
    if (event.start_date !== null && startDate < event.start_date) {
      problems.push({ path: 'data.start_date', message: `must not be before its event's start (${formatExtreamDateTime(event.start_date)})` });
    }
    if (event.end_date !== null && endDate > event.end_date) {
      problems.push({ path: 'data.end_date', message: `must not be after its event's end (${formatExtreamDateTime(event.end_date)})` });
    }
    if (problems.length > 0) throw invalidFields(problems);
  }

  /** Checked against the type (here, not only in the wire schema: an update names no type), then made safe to store. */
  private configurationFor(type: ItemType, configuration: JsonObject): JsonObject {
    const checked = checkItemConfiguration(type, configuration);
    if (!checked.ok) throw invalidFields(checked.errors);
    return storedConfiguration(type, checked.configuration, this.deps.config.itemHtmlIframeHostnames);
  }

  private now(context: ChangeContext): number {
    return context.now ?? this.deps.clock.now();
  }

  private run(itineraryId: string, command: ItineraryCommand, context: ChangeContext): Promise<CommandResult> {
    const metadata: EventMetadata = {
      actor: context.actor,
      ...(context.connection === undefined ? {} : { connection: context.connection }),
      ...(context.correlationId === undefined ? {} : { correlationId: context.correlationId }),
    };
    return this.deps.runtime.execute(streamId(ITINERARY_CATEGORY, itineraryId), command, metadata);
  }
}
