import type { Clock } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { Connections, SessionMoves } from '../connections/index.js';
import { defineModule, portableTopics, type ActorRuntime, type IdleEviction, type Scheduler, type StartReport } from '../../runtime/index.js';
import type { RoomsConfig } from './config.js';
import { demoRoutes } from './demo/index.js';
import { ROOM_CATEGORY, roomAggregate } from './domain/index.js';
import { JoinRequestFrames } from './join-frames.js';
import { RoomMembers, type PeerLocator } from './members.js';
import { roomProcessors } from './processors.js';
import { pushedSince } from './missed-pushes.js';
import { roomsProjection } from './projection.js';
import { Relay } from './relay.js';
import { RemotePeers, type ForwardToNode } from './remote-peer.js';
import { RoomHost } from './room-host.js';
import { roomTopics } from './topics.js';

export type { RoomsConfig } from './config.js';
export { RoomHost } from './room-host.js';
export { roomsProjection } from './projection.js';
export { ROOM_CATEGORY, roomAggregate, userKeyOf, isRoomEvent } from './domain/index.js';

/** The module's API under the name the app has used since the first wave (`gateway.rooms`). */
export type RoomService = RoomHost;

export interface RoomsDependencies {
  runtime: ActorRuntime;
  config: RoomsConfig;
  clock: Clock;
  /** Open sockets by id, and word of the ones that close. */
  connections: Pick<Connections, 'get' | 'onClosed'> & { moves: Pick<SessionMoves, 'onAdopted' | 'onMovedAway' | 'missedWith'> };
  /** Runs the idle sweep of room actors; without one (unit tests) only closed rooms are dropped. */
  scheduler?: Scheduler;
  /** Overrides the config's roomIdleSeconds / roomMaxActors / roomSweepSeconds (tests). */
  idleEviction?: IdleEviction & { sweepIntervalMs: number };
  /** In a cluster (PROTOCOL.md section 12): where peers on other nodes are, and the way to reach them. */
  cluster?: RoomsCluster;
}

export interface RoomsCluster {
  locate: PeerLocator;
  forward: ForwardToNode;
}

/** The idle sweep of room actors, from the config (RoomsConfig explains why). */
export function roomIdleEviction(config: Pick<RoomsConfig, 'roomIdleSeconds' | 'roomMaxActors' | 'roomSweepSeconds'>): IdleEviction & { sweepIntervalMs: number } {
  return { idleMs: config.roomIdleSeconds * 1000, maxActors: config.roomMaxActors, sweepIntervalMs: config.roomSweepSeconds * 1000 };
}

/**
 * Rooms and WebRTC signalling (PROTOCOL.md section 5): owner-approved joins as room
 * commands, pushes from the committed room events, and the relay as a synchronous fast
 * path over the membership index, off the log.
 */
export const roomsModule = defineModule<RoomsDependencies, { service: RoomHost }, ClientConnection>({
  name: 'rooms',
  aggregates: [roomAggregate],
  projections: [roomsProjection],
  create({ runtime, config, clock, connections, scheduler, idleEviction = roomIdleEviction(config), cluster }) {
    const connection = (peerId: string) => connections.get(peerId);
    const members = new RoomMembers(connection, cluster?.locate);
    const remote = cluster && new RemotePeers(cluster.forward);
    const host = new RoomHost({ runtime, clock, members, remote });
    const relay = new Relay(members, config, remote);
    const joinFrames = new JoinRequestFrames();
    connections.onClosed((closed) => host.connectionClosed(closed));
    // A connection adopted from a lost cluster node: its memberships are this node's now, and
    // the room events past the client's last seq are what it may have missed.
    connections.moves.onAdopted((adopted) => members.relocate(adopted.id));
    connections.moves.onMovedAway((moved) => members.relocate(moved.id));
    connections.moves.missedWith((peerId, since) => pushedSince(runtime, members.roomsOf(peerId), (room) => host.state(room).context.owners, peerId, since));
    scheduler?.every('rooms.evict-idle', idleEviction.sweepIntervalMs, (now) => runtime.evictIdle(ROOM_CATEGORY, now, idleEviction));
    return {
      api: { service: host },
      // A room membership is in the room's stream: another node rebuilds it (PROTOCOL.md section 12).
      topics: portableTopics(roomTopics({ host, members, relay, joinFrames, config })),
      routes: demoRoutes(),
      processors: roomProcessors({ members, host, joinFrames, connection }),
      fastPath: (client, bytes, now, fail, isBinary) => (isBinary ? relay.fromMsgpack(client, bytes, now, fail) : relay.fromJsonText(client, bytes, now, fail)),
      // After a restart nobody is connected: every open room is closed. In a cluster, members
      // on the nodes alive keep their rooms; only the peers whose connections are closed leave.
      start: async (): Promise<StartReport> =>
        cluster
          ? { peersLeftRooms: await host.recoverInCluster((peerId) => connection(peerId) !== undefined || cluster.locate(peerId) !== undefined) }
          : { closedRooms: await host.recover() },
    };
  },
});
