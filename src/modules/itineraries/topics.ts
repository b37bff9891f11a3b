import { AppError, type Principal } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { SERVICE_TOPICS, type Permission } from '../../protocol/topics/extream.js';
import {
  ITEM_TYPES,
  ITINERARY_TOPICS,
  consumerItemGetOf,
  consumerItineraryGet,
  itemCreate,
  itemDelete,
  itemRead,
  itemUpdate,
  itineraryCreate,
  itineraryDelete,
  itineraryRead,
  itineraryUpdate,
  type ItemType,
} from '../../protocol/topics/itineraries.js';
import { commandMetadata, defineCommandTopic, type AnyTopic, type CommandOutcome, type GuestPrincipal, type TopicSchema } from '../../runtime/index.js';
import { loginRequired, type OrganisationAccess } from '../organisations/access.js';
import { invalidFields, notFound } from './domain/index.js';
import type { ItineraryAudiencePort, ItineraryEventsPort, JoinExtensions } from './ports.js';
import { joinItem, type JoinDependencies } from './join.js';
import { requireCriteria } from './criteria.js';
import type { ItineraryDirectory } from './projection.js';
import type { ChangeContext, Itineraries } from './service.js';

export interface ItineraryTopicDependencies {
  itineraries: Itineraries;
  directory: ItineraryDirectory;
  access: OrganisationAccess;
  events: ItineraryEventsPort;
  audiences: ItineraryAudiencePort;
  join: JoinDependencies;
  /** Other modules' additions to an item's join answer, by item type (read per join: filled at wiring). */
  joinExtensions?: JoinExtensions;
}

type Event = NonNullable<ReturnType<ItineraryEventsPort['get']>>;

/** Admin commands need someone signed in before anything is looked up: an anonymous socket learns nothing of what exists. */
function requireSignedIn(principal: Principal): void {
  if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw loginRequired(principal);
}

/** Who a join token is for: a user, an organisation's credential, a guest, or (public events) the anonymous socket. */
function subjectOf(client: ClientConnection): string {
  const principal = client.principal;
  if (principal.kind === 'user') return `user:${principal.userId}`;
  if (principal.kind === 'guest') return `guest:${principal.invitationId}`;
  if (principal.kind === 'organisation') return `organisation:${principal.organisationId}`;
  return `connection:${client.id}`;
}

/** The item types a guest can be invited to (PROTOCOL.md section 9). */
const GUEST_ITEM_TYPES: ReadonlySet<ItemType> = new Set<ItemType>(['webrtc', 'zoom']);

/** video and vod are one type under two names (Extream writes both): either topic joins either. */
const sameKind = (topicType: ItemType, itemType: ItemType): boolean => {
  const kind = (type: ItemType) => (type === 'vod' ? 'video' : type);
  return kind(topicType) === kind(itemType);
};

/**
 * The itinerary and item topics of PROTOCOL.md section 8, answered the Extream way (receipt
 * after the commit, then the result). Admin commands need a permission in the organisation of
 * the event (create) or of the stored entity (an unknown id is NOT_FOUND first); consumer
 * commands need none, only login for a private event (`meta.requiresLogin` from the event).
 */
export function itineraryTopics({ itineraries, directory, access, events, audiences, join, joinExtensions = {} }: ItineraryTopicDependencies): AnyTopic<ClientConnection>[] {

  const admin = <Data>(name: string, schema: TopicSchema<Data>, execute: (request: { client: ClientConnection; data: Data; context: ChangeContext }) => Promise<CommandOutcome>) =>
    defineCommandTopic<Data, ClientConnection>({
      name,
      schema,
      serviceTopic: SERVICE_TOPICS.manage,
      requiresLogin: true,
      authorize: (client) => requireSignedIn(client.principal),
      execute: (request) => execute({ client: request.client, data: request.data, context: { ...commandMetadata(request), now: request.now } }),
    });

  const requireEvent = (eventId: string, path: string): Event => {
    const event = events.get(eventId);
    if (!event) throw notFound(path, 'unknown event');
    return event;
  };
  const requireItinerary = (itineraryId: string, path: string) => {
    const itinerary = directory.itinerary(itineraryId);
    if (!itinerary) throw notFound(path, 'unknown itinerary');
    return itinerary;
  };
  const requireItem = (itemId: string) => {
    const item = directory.item(itemId);
    if (!item) throw notFound('id', 'unknown item');
    return item;
  };
  const requirePermission = (client: ClientConnection, organisationId: string, permission: Permission) => access.require(client.principal, organisationId, permission);

  /** A private event is for its organisation's members; a public one for anyone. */
  const admit = (client: ClientConnection, event: Event): void => {
    if (event.public || access.isMember(client.principal, event.organisation_id)) return;
    if (client.principal.kind === 'anonymous' || client.principal.kind === 'mfa-pending') throw loginRequired(client.principal);
    throw new AppError('FORBIDDEN', "this event is for its organisation's members", { reason: 'unauthorized' });
  };

  const adminTopics = [
    admin(ITINERARY_TOPICS.itineraryCreate, itineraryCreate, async ({ client, data: { data }, context }) => {
      const event = requireEvent(data.event, 'data.event');
      requirePermission(client, event.organisation_id, 'edit_itinerary');
      const { position, view } = await itineraries.createItinerary(
        { eventId: data.event, name: data.name, description: data.description, startDate: data.start_date, endDate: data.end_date, data: data.data },
        context,
      );
      return { position, status: 201, response: view };
    }),
    admin(ITINERARY_TOPICS.itineraryRead, itineraryRead, async ({ client, data }) => {
      if (data.id !== undefined) {
        const itinerary = requireItinerary(data.id, 'id');
        requirePermission(client, itinerary.organisationId, 'view_itinerary');
        return { response: itineraries.itinerary(data.id, 'operator') };
      }
      const event = requireEvent(data.event!, 'event');
      requirePermission(client, event.organisation_id, 'view_itinerary');
      const list = itineraries.itinerariesOfEvent(data.event!, 'operator');
      return { response: list, meta: { items: list.length } };
    }),
    admin(ITINERARY_TOPICS.itineraryUpdate, itineraryUpdate, async ({ client, data: { id, data }, context }) => {
      const itinerary = requireItinerary(id, 'id');
      requirePermission(client, itinerary.organisationId, 'edit_itinerary');
      const changes = { name: data.name, description: data.description, startDate: data.start_date, endDate: data.end_date, data: data.data };
      const { position, view } = await itineraries.updateItinerary(id, changes, context);
      return { position, response: view };
    }),
    admin(ITINERARY_TOPICS.itineraryDelete, itineraryDelete, async ({ client, data: { id }, context }) => {
      const itinerary = requireItinerary(id, 'id');
      requirePermission(client, itinerary.organisationId, 'delete_itinerary');
      const { position, view } = await itineraries.deleteItinerary(id, context);
      return { position, response: view };
    }),
    admin(ITINERARY_TOPICS.itemCreate, itemCreate, async ({ client, data: { data }, context }) => {
      const itinerary = requireItinerary(data.itinerary, 'data.itinerary');
      requirePermission(client, itinerary.organisationId, 'edit_item');
      const { position, view } = await itineraries.addItem(
        {
          itineraryId: data.itinerary,
          type: data.type,
          name: data.name,
          description: data.description,
          startDate: data.start_date,
          endDate: data.end_date,
          order: data.order,
          configuration: data.configuration,
        },
        context,
      );
      return { position, status: 201, response: view };
    }),
    admin(ITINERARY_TOPICS.itemRead, itemRead, async ({ client, data }) => {
      if (data.id !== undefined) {
        const item = requireItem(data.id);
        requirePermission(client, item.organisationId, 'view_item');
        return { response: itineraries.item(data.id, 'operator') };
      }
      const itinerary = requireItinerary(data.itinerary!, 'itinerary');
      requirePermission(client, itinerary.organisationId, 'view_item');
      const list = itineraries.itemsOf(data.itinerary!, 'operator');
      return { response: list, meta: { items: list.length } };
    }),
    admin(ITINERARY_TOPICS.itemUpdate, itemUpdate, async ({ client, data: { id, data }, context }) => {
      const item = requireItem(id);
      requirePermission(client, item.organisationId, 'edit_item');
      const changes = {
        name: data.name,
        description: data.description,
        startDate: data.start_date,
        endDate: data.end_date,
        order: data.order,
        configuration: data.configuration,
      };
      const { position, view } = await itineraries.updateItem(id, changes, context);
      return { position, response: view };
    }),
    admin(ITINERARY_TOPICS.itemDelete, itemDelete, async ({ client, data: { id }, context }) => {
      const item = requireItem(id);
      requirePermission(client, item.organisationId, 'delete_item');
      const { position, view } = await itineraries.removeItem(id, context);
      return { position, response: view };
    }),
  ];

  const consumer = <Data>(
    name: string,
    schema: TopicSchema<Data>,
    execute: (client: ClientConnection, data: Data, now: number) => Promise<CommandOutcome>,
    admitGuest?: (principal: GuestPrincipal, data: Data) => boolean,
  ) =>
    defineCommandTopic<Data, ClientConnection>({
      name,
      schema,
      serviceTopic: SERVICE_TOPICS.manage,
      // Per event: each answer's meta says whether this one needs login.
      requiresLogin: false,
      execute: ({ client, data, now }) => execute(client, data, now),
      ...(admitGuest ? { admitGuest } : {}),
    });

  const itineraryGet = consumer(ITINERARY_TOPICS.consumerItineraryGet, consumerItineraryGet, async (client, data) => {
    if (data.event !== undefined) {
      const event = requireEvent(data.event, 'event');
      admit(client, event);
      const list = itineraries.itinerariesOfEvent(data.event);
      // Whoever reads an event's itineraries hears of their changes (consumer_itinerary_update).
      audiences.join(data.event, client);
      return { response: list, meta: { requiresLogin: !event.public, items: list.length } };
    }
    const view = itineraries.itinerary(data.id!);
    if (!view) throw notFound('id', 'unknown itinerary');
    // An itinerary of a deleted event is gone with it.
    const event = requireEvent(view.event, 'id');
    admit(client, event);
    audiences.join(view.event, client);
    return { response: view, meta: { requiresLogin: !event.public } };
  });

  const itemGets = ITEM_TYPES.map((type) =>
    consumer(
      ITINERARY_TOPICS.consumerItemGet[type],
      consumerItemGetOf(type),
      async (client, data, now) => {
        const { id } = data;
        const item = requireItem(id);
        const event = requireEvent(item.eventId, 'id');
        const guest = client.principal.kind === 'guest';
        // A guest got here only for its own item (admitGuest): the invitation admits it, private event or not.
        if (!guest) admit(client, event);
        if (!sameKind(type, item.type)) throw invalidFields([{ path: 'id', message: `item ${id} is of type ${item.type}, not ${type}; send consumer_${item.type}_get` }]);
        requireCriteria(client.principal, item, access);
        const base = await joinItem(item, { subject: subjectOf(client), now }, join);
        const extend = joinExtensions[item.type === 'vod' ? 'video' : item.type];
        const answer = extend ? { ...base, ...(await extend({ client, item, now, answer: base, data })) } : base;
        // The event's audience hears of all its itineraries' changes: not a guest's business.
        if (!guest) audiences.join(item.eventId, client);
        return { response: { item: itineraries.item(id), join: answer }, meta: { requiresLogin: !event.public } };
      },
      // Guests are invited to calls: their own webrtc or zoom item, nothing else.
      GUEST_ITEM_TYPES.has(type) ? (principal, { id }) => id === principal.itemId : undefined,
    ),
  );

  return [...adminTopics, itineraryGet, ...itemGets];
}
