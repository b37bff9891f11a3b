import type { ClusterPorts } from './cluster.js';
import type { Logger } from '../edge/logger.js';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { ClientConnection } from '../edge/connection.js';
import type { ActorRuntime, ModuleInstance, Scheduler } from '../runtime/index.js';
import type { EventStore, Projection } from '../store/index.js';
import { maxConnectionsOf, type Config } from './config.js';
import type { ItemModulePorts, JoinExtensions } from '../modules/itineraries/index.js';
import { connectionsModule } from '../modules/connections/index.js';
import { gridModule, type GatewayRoomHost } from '../modules/grid/index.js';
import { identityModule } from '../modules/identity/index.js';
import { organisationsModule } from '../modules/organisations/index.js';
import { eventListingsModule } from '../modules/event-listings/index.js';
import { itinerariesModule } from '../modules/itineraries/index.js';
import { invitationsModule } from '../modules/invitations/index.js';
import { roomsModule } from '../modules/rooms/index.js';
import { syncModule } from '../modules/sync/index.js';
import { chatModule } from '../modules/chat/index.js';
import { pollsModule } from '../modules/polls/index.js';
import { presenceModule } from '../modules/presence/index.js';
import { noticesModule } from '../modules/notices/index.js';
import { callsModule } from '../modules/calls/index.js';
import { streamsModule } from '../modules/streams/index.js';

/**
 * The modules of the gateway, in the order they are created, started and (reversed)
 * stopped. Adding an area of the product is one line here and one folder under modules/.
 */
export const MODULES = [
  connectionsModule,
  identityModule,
  organisationsModule,
  eventListingsModule,
  itinerariesModule,
  invitationsModule,
  roomsModule,
  gridModule,
  syncModule,
  chatModule,
  pollsModule,
  presenceModule,
  noticesModule,
  callsModule,
  streamsModule,
] as const;

/** Every read model, in the order they are set up and replayed. */
export const allProjections: readonly Projection[] = MODULES.flatMap((module) => module.projections);

export interface PlatformServices {
  config: Config;
  logger: Logger;
  clock: Clock;
  store: EventStore;
  runtime: ActorRuntime;
  scheduler: Scheduler;
  registry: Registry;
  /** Overrides the rooms module as the room API's host of gateway rooms (tests). */
  roomHost: GatewayRoomHost | undefined;
  /** This process's node id (connections, resume tokens, the cluster's subjects). */
  node: string;
  /** The cluster, when this gateway is a node of one (PROTOCOL.md section 12). */
  cluster: ClusterPorts | undefined;
}

export interface CreatedModules {
  connections: ReturnType<typeof connectionsModule.create>;
  identity: ReturnType<typeof identityModule.create>;
  organisations: ReturnType<typeof organisationsModule.create>;
  eventListings: ReturnType<typeof eventListingsModule.create>;
  itineraries: ReturnType<typeof itinerariesModule.create>;
  invitations: ReturnType<typeof invitationsModule.create>;
  rooms: ReturnType<typeof roomsModule.create>;
  grid: ReturnType<typeof gridModule.create>;
  sync: ReturnType<typeof syncModule.create>;
  chat: ReturnType<typeof chatModule.create>;
  polls: ReturnType<typeof pollsModule.create>;
  presence: ReturnType<typeof presenceModule.create>;
  notices: ReturnType<typeof noticesModule.create>;
  calls: ReturnType<typeof callsModule.create>;
  streams: ReturnType<typeof streamsModule.create>;
  /** Start order; the first (connections) is stopped first, the rest in reverse. */
  list: readonly ModuleInstance<unknown, ClientConnection>[];
}

/** Creates each module with what it needs: the platform, and the APIs of the modules before it. */
export function createModules(platform: PlatformServices): CreatedModules {
  const { config, logger, clock, store, runtime, scheduler, registry } = platform;
  const { node, cluster } = platform;
  const connections = connectionsModule.create({
    runtime,
    clock,
    logger,
    scheduler,
    config: { ...config, maxConnections: maxConnectionsOf(config) },
    node,
    cluster: cluster && { isLive: cluster.isLive, readModels: store.readModels },
  });
  const identity = identityModule.create({
    runtime,
    store,
    clock,
    logger,
    config,
    scheduler,
    connections: connections.api,
    // Asked on each guest sign-in, once every module exists: the invitations module comes later.
    guests: { isRevoked: (invitationId) => invitations.api.invitations.isRevoked(invitationId) },
  });
  const organisations = organisationsModule.create({ runtime, store, clock, identity: identity.api });
  const eventListings = eventListingsModule.create({
    runtime,
    store,
    clock,
    config,
    connections: connections.api,
    access: organisations.api.access,
    organisationExists: (id) => organisations.api.organisations.directory.get(id) !== undefined,
    registry,
    // Called per update, after both modules exist: itineraries depends on this module, not back.
    heldWithin: (eventId) => itineraries.api.directory.byEvent(eventId),
  });
  const itineraries = itinerariesModule.create({
    runtime,
    store,
    clock,
    config,
    access: organisations.api.access,
    events: {
      get: (eventId) => {
        const listing = eventListings.api.directory.get(eventId);
        return listing && { organisation_id: listing.organisationId, start_date: listing.startDate, end_date: listing.endDate, public: listing.public };
      },
    },
    audiences: eventListings.api.audiences,
    issueSessionToken: ({ subject, room, item, now, ttlSeconds }) => identity.api.tokens.issue('session', { subject, ttlSeconds, claims: { room, item }, now }),
  });
  const invitations = invitationsModule.create({
    runtime,
    store,
    clock,
    logger,
    config,
    scheduler,
    registry,
    tokens: identity.api.tokens,
    access: organisations.api.access,
    connections: connections.api,
    items: { get: (itemId) => itineraries.api.directory.item(itemId) },
  });
  const rooms = roomsModule.create({
    runtime,
    config,
    clock,
    scheduler,
    connections: connections.api,
    // A peer on another node is found by its connection's node in the log; relays reach it over the cluster.
    cluster: cluster && {
      locate: (peerId) => {
        const holder = connections.api.nodeOf(peerId);
        return holder === undefined || holder === node ? undefined : holder;
      },
      forward: cluster.forward,
    },
  });
  // A lost node's connection that ends (at once, or when its window runs out) leaves its rooms.
  connections.api.moves.leaveRoomsWith((peerIds) => rooms.api.service.peersLost(peerIds));
  const grid = gridModule.create({
    config,
    logger,
    clock,
    store,
    runtime,
    registry,
    scheduler,
    // Room API calls on rooms this gateway hosts act at once; others go to the SFU grid.
    roomHost: platform.roomHost ?? rooms.api.service.asGatewayRoomHost(),
    gatewayNodes: cluster?.nodes,
  });
  const sync = syncModule.create({ runtime, store, clock, logger, scheduler, config, identity: identity.api });

  // The modules that run items share one set of ports onto the platform and the modules above.
  const itemPorts: ItemModulePorts = {
    runtime,
    store,
    clock,
    scheduler,
    registry,
    logger,
    connections: connections.api,
    access: organisations.api.access,
    audiences: eventListings.api.audiences,
    events: {
      get: (eventId) => {
        const listing = eventListings.api.directory.get(eventId);
        return listing && { eventId, organisationId: listing.organisationId, public: listing.public, startDate: listing.startDate, endDate: listing.endDate };
      },
      userTypeOf: (eventId, userId) => eventListings.api.directory.userTypeOf(eventId, userId),
    },
    items: { get: (itemId) => itineraries.api.directory.item(itemId) },
    users: {
      get: (userId) => {
        const { directory } = identity.api.identity;
        const username = directory.usernameOf(userId);
        if (username === undefined) return undefined;
        const organisationId = directory.organisationsOf(userId)[0] ?? null;
        return { userId, username, organisationId, groups: directory.groupsOf(userId, organisationId), active: identity.api.identity.userActive(userId) };
      },
    },
    tokens: identity.api.tokens,
    onPrincipalChanged: (listener) => identity.api.onPrincipalChanged(listener),
  };
  const chat = chatModule.create({ ...itemPorts, config });
  const polls = pollsModule.create({ ...itemPorts, config });
  // Online at an event through any node is online on every node (PROTOCOL.md section 12).
  const presence = presenceModule.create({ ...itemPorts, config, cluster: cluster?.channel('presence') });
  const notices = noticesModule.create({ ...itemPorts, config });
  const calls = callsModule.create({ ...itemPorts, config, rooms: rooms.api });
  const streams = streamsModule.create({ ...itemPorts, config });
  // What each of them adds to an item's join answer (consumer_{type}_get), by item type.
  for (const module of [chat, polls, presence, notices, calls, streams]) {
    const extensions = (module.api as { joinExtensions?: JoinExtensions }).joinExtensions;
    if (extensions) Object.assign(itineraries.api.joinExtensions, extensions);
  }
  return {
    connections,
    identity,
    organisations,
    eventListings,
    itineraries,
    invitations,
    rooms,
    grid,
    sync,
    chat,
    polls,
    presence,
    notices,
    calls,
    streams,
    list: [connections, identity, organisations, eventListings, itineraries, invitations, rooms, grid, sync, chat, polls, presence, notices, calls, streams] as ModuleInstance<unknown, ClientConnection>[],
  };
}
