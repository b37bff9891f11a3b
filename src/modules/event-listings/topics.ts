import { AppError, type Principal } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import {
  EVENT_LISTING_TOPICS,
  eventCreateData,
  eventDeleteData,
  eventGetData,
  eventReadData,
  eventUpdateData,
  type EventCreateData,
  type EventDeleteData,
  type EventGetData,
  type EventReadData,
  type EventUpdateData,
} from '../../protocol/topics/event-listings.js';
import { SERVICE_TOPICS, type UserType } from '../../protocol/topics/extream.js';
import { commandMetadata, defineCommandTopic, type AnyTopic, type TopicRequest } from '../../runtime/index.js';
import { loginRequired, type OrganisationAccess } from '../organisations/index.js';
import type { EventAudiences } from './audiences.js';
import { eventNotFound, eventWasDeleted, type EventListingChanges } from './domain/index.js';
import type { EventListing, EventListingDirectory } from './projection.js';
import type { CommandContext, EventListings, EventListingView } from './service.js';

export interface EventListingTopicDependencies {
  listings: EventListings;
  directory: EventListingDirectory;
  audiences: EventAudiences;
  access: OrganisationAccess;
  organisationExists(organisationId: string): boolean;
}

/** An event's view for a consumer: what the admin sees, plus the caller's role in it. */
export type ConsumerEventListingView = EventListingView & { user_type: UserType };

/** `{id}` or `{organisation}`: the schema lets exactly one through. */
type Target = { kind: 'event'; eventId: string } | { kind: 'organisation'; organisationId: string };

function targetOf(data: { id?: string | undefined; organisation?: string | undefined }): Target {
  if (data.id !== undefined) return { kind: 'event', eventId: data.id };
  if (data.organisation !== undefined) return { kind: 'organisation', organisationId: data.organisation };
  throw new AppError('BAD_REQUEST', 'give exactly one of id and organisation');
}

/** The log's metadata of a command (who, through which connection, correlated how) and its time. */
const contextOf = (request: TopicRequest<unknown, ClientConnection>): CommandContext => ({ ...commandMetadata(request), now: request.now });

/** The wire's changes in the domain's words; a field the client left out stays out. */
function changesOf(data: EventUpdateData['data']): EventListingChanges {
  const changes: EventListingChanges = {};
  if (data.parent !== undefined) changes.parentId = data.parent;
  if (data.name !== undefined) changes.name = data.name;
  if (data.slug !== undefined) changes.slug = data.slug;
  if (data.description !== undefined) changes.description = data.description;
  if (data.website !== undefined) changes.website = data.website;
  if (data.timezone !== undefined) changes.timezone = data.timezone;
  if (data.start_date !== undefined) changes.startDate = data.start_date;
  if (data.end_date !== undefined) changes.endDate = data.end_date;
  if (data.public !== undefined) changes.public = data.public;
  if (data.data !== undefined) changes.data = data.data;
  return changes;
}

/** Signed in as someone: a user, or an organisation's own credential. */
const signedIn = (principal: Principal): boolean => principal.kind === 'user' || principal.kind === 'organisation';

/**
 * The Extream event topics (PROTOCOL.md section 8). Admin topics need the organisation's
 * permission (`edit_event`, `view_event`, `delete_event`), checked before anything runs; for
 * commands naming an event by id the organisation is the event's, and an unknown id is
 * NOT_FOUND before the permission check (a deleted one is refused only after it, so its fate
 * is not shown to those who may not see it). `consumer_event_get` needs no permission: a
 * public event is anyone's, a private one its organisation's members'.
 */
export function eventListingTopics(deps: EventListingTopicDependencies): AnyTopic<ClientConnection>[] {
  const { listings, directory, audiences, access, organisationExists } = deps;

  /** The organisation of the event an id-based command names (deleted events included). */
  const organisationOf = (eventId: string): string => {
    const listing = directory.get(eventId, { includeDeleted: true });
    if (!listing) throw eventNotFound(eventId);
    return listing.organisationId;
  };

  const liveListing = (eventId: string): EventListing => {
    const listing = directory.get(eventId, { includeDeleted: true });
    if (!listing) throw eventNotFound(eventId);
    if (listing.deletedAt !== null) throw eventWasDeleted(eventId);
    return listing;
  };

  const consumerView = (listing: EventListing, principal: Principal): ConsumerEventListingView => ({
    ...listings.viewOf(listing),
    user_type: principal.kind === 'user' ? directory.userTypeOf(listing.eventId, principal.userId) : 'audience',
  });

  const create = defineCommandTopic<EventCreateData, ClientConnection>({
    name: EVENT_LISTING_TOPICS.create,
    schema: eventCreateData,
    serviceTopic: SERVICE_TOPICS.manage,
    requiresLogin: true,
    authorize: (client, { data }) => access.require(client.principal, data.organisation, 'edit_event'),
    execute: async (request) => {
      const { data } = request.data;
      const change = await listings.schedule(
        {
          organisationId: data.organisation,
          name: data.name,
          slug: data.slug,
          description: data.description,
          website: data.website,
          timezone: data.timezone,
          startDate: data.start_date,
          endDate: data.end_date,
          parentId: data.parent,
          public: data.public,
          data: data.data,
        },
        contextOf(request),
      );
      return { position: change.position, status: 201, response: change.view };
    },
  });

  const read = defineCommandTopic<EventReadData, ClientConnection>({
    name: EVENT_LISTING_TOPICS.read,
    schema: eventReadData,
    serviceTopic: SERVICE_TOPICS.manage,
    requiresLogin: true,
    authorize: (client, data) => {
      const target = targetOf(data);
      const organisationId = target.kind === 'event' ? organisationOf(target.eventId) : target.organisationId;
      access.require(client.principal, organisationId, 'view_event');
    },
    execute: async ({ data }) => {
      const target = targetOf(data);
      if (target.kind === 'event') return { response: listings.viewOf(liveListing(target.eventId)) };
      const found = directory.listByOrganisation(target.organisationId);
      return { response: found.map((listing) => listings.viewOf(listing)), meta: { items: found.length } };
    },
  });

  const update = defineCommandTopic<EventUpdateData, ClientConnection>({
    name: EVENT_LISTING_TOPICS.update,
    schema: eventUpdateData,
    serviceTopic: SERVICE_TOPICS.manage,
    requiresLogin: true,
    authorize: (client, data) => access.require(client.principal, organisationOf(data.id), 'edit_event'),
    execute: async (request) => {
      const { id, data } = request.data;
      const userTypes = (data.user_types ?? []).map((entry) => ({ userId: entry.user, userType: entry.user_type }));
      const change = await listings.update(id, changesOf(data), userTypes, contextOf(request));
      return { position: change.position, response: change.view };
    },
  });

  const remove = defineCommandTopic<EventDeleteData, ClientConnection>({
    name: EVENT_LISTING_TOPICS.delete,
    schema: eventDeleteData,
    serviceTopic: SERVICE_TOPICS.manage,
    requiresLogin: true,
    authorize: (client, data) => access.require(client.principal, organisationOf(data.id), 'delete_event'),
    execute: async (request) => {
      const { position, eventId } = await listings.delete(request.data.id, contextOf(request));
      return { position, response: { id: eventId, deleted: true } };
    },
  });

  const get = defineCommandTopic<EventGetData, ClientConnection>({
    name: EVENT_LISTING_TOPICS.get,
    schema: eventGetData,
    serviceTopic: SERVICE_TOPICS.manage,
    // Per event (outcome.meta below): a public event needs no login, a private one does.
    requiresLogin: false,
    execute: async ({ data, client }) => {
      const { principal } = client;
      const target = targetOf(data);
      if (target.kind === 'event') {
        const listing = liveListing(target.eventId);
        if (!listing.public && !access.isMember(principal, listing.organisationId)) {
          if (!signedIn(principal)) throw loginRequired(principal);
          throw new AppError('FORBIDDEN', 'this event is open to members of its organisation only', { reason: 'unauthorized' });
        }
        // Asking for an event is how a client comes to hear its pushes (itinerary updates).
        audiences.join(listing.eventId, client);
        return { response: consumerView(listing, principal), meta: { requiresLogin: !listing.public } };
      }
      if (!organisationExists(target.organisationId)) throw new AppError('NOT_FOUND', `organisation ${target.organisationId} does not exist`);
      const member = access.isMember(principal, target.organisationId);
      const found = directory.listByOrganisation(target.organisationId, { publicOnly: !member });
      return { response: found.map((listing) => consumerView(listing, principal)), meta: { items: found.length } };
    },
  });

  return [create, read, update, remove, get];
}
