import { randomUUID } from 'node:crypto';
import { AppError, streamId, type Clock } from '../../core/index.js';
import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { ActorRuntime } from '../../runtime/index.js';
import type { EventAudiences } from './audiences.js';
import {
  EVENT_LISTING_CATEGORY,
  eventNotFound,
  eventWasDeleted,
  fieldError,
  type EventListingChanges,
  type EventListingCommand,
  type EventListingFields,
  type EventUserTypeAssignment,
} from './domain/index.js';
import type { EventListing, EventListingDirectory } from './projection.js';

/** Who issues a command and what ties its events together (the log's metadata). */
export interface CommandContext {
  /** `user:<id>`, `organisation:<id>`, `connection:<id>`, `operator`, `system`. */
  actor: string;
  correlationId: string;
  /** The connection a command came through, beside the actor it speaks for. */
  connection?: string;
  /** The command's time (the topic pipeline's `now`); the service's clock otherwise. */
  now?: number;
}

export interface ScheduleInput {
  organisationId: string;
  name: string;
  /** Derived from the name, unique in the organisation, when absent. */
  slug?: string | undefined;
  description?: string | undefined;
  website?: string | undefined;
  timezone?: string | undefined;
  startDate: number;
  endDate: number;
  parentId?: string | undefined;
  public?: boolean | undefined;
  data?: Record<string, unknown> | undefined;
}

/** An event as the wire shows it: Extream's snake_case, dates as ISO 8601 in UTC. */
export interface EventListingView {
  id: string;
  organisation: string;
  parent: string | null;
  name: string;
  slug: string;
  description: string | null;
  website: string | null;
  timezone: string | null;
  start_date: string;
  end_date: string;
  public: boolean;
  data: Record<string, unknown> | null;
  /** Ids of the live events nested directly under it. */
  children: string[];
}

/** What a change returns: the log position of its last event (the receipt's `messageId`) and the event after it. */
export interface ListingChange {
  /** Undefined when the command changed nothing (an update naming only roles it did not set). */
  position: number | undefined;
  view: EventListingView;
}

export interface EventListingsServiceDependencies {
  runtime: ActorRuntime;
  directory: EventListingDirectory;
  audiences: EventAudiences;
  clock: Clock;
  organisationExists(organisationId: string): boolean;
  /**
   * What the event holds that must stay within its dates (its itineraries, from the
   * itineraries module, which depends on this one: hence a function given at wiring).
   */
  heldWithin?(eventId: string): readonly { name: string; startDate: number; endDate: number }[];
}

const MAX_SLUG_LENGTH = 128;
/** Suffixes tried for a derived slug before the event's id settles it. */
const SLUG_SUFFIX_ATTEMPTS = 1000;
/** Appends retried when a concurrent creation took the derived slug between the check and the append. */
const SLUG_RACE_RETRIES = 3;

/**
 * A slug from a name: lower case ASCII letters and digits, anything else one dash, accents
 * dropped (`Über Café` -> `uber-cafe`), at most 128 characters; a name with too little of
 * that (`!!`, `A`) still gets a valid slug.
 */
export function slugOf(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/-+$/, '');
  if (base.length >= 2) return base;
  return base === '' ? 'event' : `event-${base}`;
}

/** `base` with `-suffix`, cut so the whole stays within the slug limit. */
const withSuffix = (base: string, suffix: string): string => `${base.slice(0, MAX_SLUG_LENGTH - suffix.length - 1).replace(/-+$/, '')}-${suffix}`;

/** The projection's refusal of a slug another append took first. */
function isSlugRefusal(error: unknown): boolean {
  if (!(error instanceof AppError) || error.code !== 'BAD_REQUEST') return false;
  const errors: unknown = error.details?.errors;
  return Array.isArray(errors) && errors.some((entry: unknown) => typeof entry === 'object' && entry !== null && 'path' in entry && entry.path === 'data.slug');
}

/**
 * The event-listings application service: checks what needs the read model (organisation,
 * parent, slug) with field-named BAD_REQUESTs before the append, runs the command on the
 * listing's stream, and answers with the committed position and the event's view. The
 * projection repeats the parent and slug checks inside the append, for races.
 */
export class EventListings {
  constructor(private readonly deps: EventListingsServiceDependencies) {}

  async schedule(input: ScheduleInput, context: CommandContext): Promise<ListingChange> {
    const { directory, organisationExists } = this.deps;
    const eventId = randomUUID();
    if (!organisationExists(input.organisationId)) throw fieldError('data.organisation', 'names no organisation');
    if (input.parentId !== undefined) this.checkParent(eventId, input.organisationId, input.parentId);
    if (input.slug !== undefined && directory.slugTaken(input.organisationId, input.slug)) throw fieldError('data.slug', 'is taken by another event of this organisation');
    const fields = (slug: string): EventListingFields => ({
      parentId: input.parentId ?? null,
      name: input.name,
      slug,
      description: input.description ?? null,
      website: input.website ?? null,
      timezone: input.timezone ?? null,
      startDate: input.startDate,
      endDate: input.endDate,
      public: input.public ?? false,
      data: input.data ?? null,
    });
    for (let attempt = 0; ; attempt++) {
      const slug = input.slug ?? this.uniqueSlug(input.organisationId, slugOf(input.name), eventId);
      const command: EventListingCommand = { type: 'ScheduleEvent', eventId, organisationId: input.organisationId, fields: fields(slug), now: this.now(context) };
      try {
        return { position: await this.execute(eventId, command, context), view: this.requireView(eventId) };
      } catch (error) {
        // Only a slug the service chose is chosen again; a slug the client named is its to change.
        if (input.slug !== undefined || attempt >= SLUG_RACE_RETRIES || !isSlugRefusal(error)) throw error;
      }
    }
  }

  /** Changes fields and sets roles in one append; `changes.parentId: null` un-nests. */
  async update(eventId: string, changes: EventListingChanges, userTypes: readonly EventUserTypeAssignment[], context: CommandContext): Promise<ListingChange> {
    const listing = this.requireLive(eventId);
    if (changes.parentId !== undefined && changes.parentId !== null) this.checkParent(eventId, listing.organisationId, changes.parentId);
    if (changes.slug !== undefined && this.deps.directory.slugTaken(listing.organisationId, changes.slug, eventId)) {
      throw fieldError('data.slug', 'is taken by another event of this organisation');
    }
    this.checkHeldWithin(eventId, changes.startDate ?? listing.startDate, changes.endDate ?? listing.endDate);
    const command: EventListingCommand = { type: 'UpdateEvent', eventId, changes, userTypes, now: this.now(context) };
    return { position: await this.execute(eventId, command, context), view: this.requireView(eventId) };
  }

  async setUserTypes(eventId: string, userTypes: readonly EventUserTypeAssignment[], context: CommandContext): Promise<ListingChange> {
    this.requireLive(eventId);
    const command: EventListingCommand = { type: 'SetEventUserTypes', eventId, userTypes, now: this.now(context) };
    return { position: await this.execute(eventId, command, context), view: this.requireView(eventId) };
  }

  /** Soft-deletes the event; its audience is emptied (nothing more will be pushed about it). */
  async delete(eventId: string, context: CommandContext): Promise<{ position: number | undefined; eventId: string }> {
    this.requireLive(eventId);
    const position = await this.execute(eventId, { type: 'DeleteEvent', eventId, now: this.now(context) }, context);
    this.deps.audiences.dropEvent(eventId);
    return { position, eventId };
  }

  /** The live event's view, or undefined when unknown or deleted. */
  view(eventId: string): EventListingView | undefined {
    const listing = this.deps.directory.get(eventId);
    return listing && this.viewOf(listing);
  }

  viewOf(listing: EventListing): EventListingView {
    return {
      id: listing.eventId,
      organisation: listing.organisationId,
      parent: listing.parentId,
      name: listing.name,
      slug: listing.slug,
      description: listing.description,
      website: listing.website,
      timezone: listing.timezone,
      // formatExtreamDateTime is null only for a null input; listing dates are never null.
      start_date: formatExtreamDateTime(listing.startDate)!,
      end_date: formatExtreamDateTime(listing.endDate)!,
      public: listing.public,
      data: listing.data,
      children: this.deps.directory.children(listing.eventId),
    };
  }

  private async execute(eventId: string, command: EventListingCommand, context: CommandContext): Promise<number | undefined> {
    const { actor, correlationId, connection } = context;
    const metadata = connection === undefined ? { actor, correlationId } : { actor, correlationId, connection };
    const result = await this.deps.runtime.execute(streamId(EVENT_LISTING_CATEGORY, eventId), command, metadata);
    return result.events.at(-1)?.position;
  }

  /** New dates must still hold the event's itineraries (creating one outside them is refused too). */
  private checkHeldWithin(eventId: string, startDate: number, endDate: number): void {
    for (const held of this.deps.heldWithin?.(eventId) ?? []) {
      if (held.startDate < startDate) throw fieldError('data.start_date', `would leave the itinerary "${held.name}" outside the event`);
      if (held.endDate > endDate) throw fieldError('data.end_date', `would leave the itinerary "${held.name}" outside the event`);
    }
  }

  private now(context: CommandContext): number {
    return context.now ?? this.deps.clock.now();
  }

  /** The event, refused the way decide refuses it when unknown or deleted (before any read-model check). */
  private requireLive(eventId: string): EventListing {
    const listing = this.deps.directory.get(eventId, { includeDeleted: true });
    if (!listing) throw eventNotFound(eventId);
    if (listing.deletedAt !== null) throw eventWasDeleted(eventId);
    return listing;
  }

  private requireView(eventId: string): EventListingView {
    const view = this.view(eventId);
    // The projection is inline: a committed command's event is in the read model already.
    if (!view) throw new AppError('INTERNAL', `event ${eventId} is missing from its read model after a commit`);
    return view;
  }

  private checkParent(eventId: string, organisationId: string, parentId: string): void {
    const parent = this.deps.directory.get(parentId, { includeDeleted: true });
    if (!parent) throw fieldError('data.parent', 'names no event');
    if (parent.deletedAt !== null) throw fieldError('data.parent', 'names a deleted event');
    if (parent.organisationId !== organisationId) throw fieldError('data.parent', 'names an event of another organisation');
    if (parentId === eventId || this.deps.directory.ancestors(parentId).includes(eventId)) throw fieldError('data.parent', 'would make the event its own ancestor');
  }

  /** `base`, or `base-2`, `base-3`, ... whichever no live event of the organisation has. */
  private uniqueSlug(organisationId: string, base: string, eventId: string): string {
    const { directory } = this.deps;
    if (!directory.slugTaken(organisationId, base)) return base;
    for (let n = 2; n <= SLUG_SUFFIX_ATTEMPTS; n++) {
      const candidate = withSuffix(base, String(n));
      if (!directory.slugTaken(organisationId, candidate)) return candidate;
    }
    // A thousand events of one name: the event's own id settles it.
    return withSuffix(base, eventId.slice(0, 8));
  }
}
