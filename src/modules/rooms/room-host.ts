import type { Clock } from '../../core/index.js';
import type { EventMetadata, Principal } from '../../core/index.js';
import { isAppError, streamId } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { ActorRuntime, CommandResult } from '../../runtime/index.js';
import type { GatewayRoomHost } from '../grid/index.js';
import { ROOM_CATEGORY, userKeyOf, type LeaveReason, type RoomCommand, type RoomContext, type roomMachine } from './domain/index.js';
import type { RoomMembers } from './members.js';
import type { RemotePeers } from './remote-peer.js';

export interface RoomHostDependencies {
  runtime: ActorRuntime;
  clock: Clock;
  members: RoomMembers;
  /** In a cluster: members on other nodes, reached over the mesh. */
  remote?: RemotePeers | undefined;
}

/** Operator actions (room API, CLI, tests) are recorded under this actor unless they name one. */
const ROOM_API_ACTOR = 'room-api';

/**
 * The rooms module's API: the rooms' state from their actors, room commands, and the
 * operator actions (close, update, ban, message) on rooms this gateway hosts. Rooms it does
 * not host answer false, so the room API can send the call to the SFU grid instead.
 */
export class RoomHost {
  constructor(private readonly deps: RoomHostDependencies) {}

  /** The room's current state (members, owners, bans), from its actor. */
  state(room: string): { open: boolean; context: RoomContext } {
    const snapshot = this.deps.runtime.read<typeof roomMachine>(streamId(ROOM_CATEGORY, room));
    return { open: snapshot.matches('open'), context: snapshot.context };
  }

  /** Runs a command on the room's stream; resolves after its events are committed. */
  execute(room: string, command: RoomCommand, metadata: EventMetadata): Promise<CommandResult<unknown>> {
    return this.deps.runtime.execute(streamId(ROOM_CATEGORY, room), command, metadata);
  }

  isHosted(room: string): boolean {
    return this.deps.members.hosts(room);
  }

  // ---- what a call does with its room (the calls module decides who is in) ----

  /**
   * Lets the connection into the call's room, opening it (tagged with the item) when it is not
   * open; resolves once committed, when the relay already knows the member (the membership
   * index follows the commit before the appender hears of it). Idempotent for a member.
   */
  async admit(room: string, connection: { id: string; principal: Principal }, call: { itemId: string; payload: unknown; by: string; now: number }, metadata: EventMetadata): Promise<void> {
    const command: RoomCommand = {
      type: 'AdmitMember',
      room,
      itemId: call.itemId,
      peerId: connection.id,
      userKey: userKeyOf(connection.principal, connection.id),
      payload: call.payload,
      by: call.by,
      now: call.now,
    };
    await this.execute(room, command, metadata);
  }

  /** Takes the peer out of the room (a no-op when it is not in it); its members hear `room-user-leave`. */
  async remove(room: string, peerId: string, reason: LeaveReason, metadata: EventMetadata): Promise<void> {
    await this.execute(room, { type: 'Leave', peerId, reason }, metadata);
  }

  /** Closes the room wherever it was opened (its members hear `room-closed`); false when it is not open. */
  async closeIfOpen(room: string, reason: string, by: string): Promise<boolean> {
    if (!this.state(room).open) return false;
    try {
      await this.execute(room, { type: 'CloseRoom', reason, by, now: this.deps.clock.now() }, { actor: by });
      return true;
    } catch (error) {
      // Emptied and closed by its last leave meanwhile: closed either way.
      if (isAppError(error) && error.code === 'NOT_FOUND') return false;
      throw error;
    }
  }

  // ---- operator actions: act at once on rooms this gateway hosts ----

  async close(room: string, reason: string, by: string, banSeconds?: number): Promise<boolean> {
    if (!this.isHosted(room)) return false;
    await this.execute(room, { type: 'CloseRoom', reason, by, banSeconds, now: this.deps.clock.now() }, { actor: by });
    return true;
  }

  async update(room: string, userData: number[], by: string): Promise<boolean> {
    if (!this.isHosted(room)) return false;
    await this.execute(room, { type: 'UpdateRoom', userData, by }, { actor: by });
    return true;
  }

  async ban(room: string, userKey: string, until: number | null, by: string): Promise<boolean> {
    if (!this.isHosted(room)) return false;
    await this.execute(room, { type: 'BanUser', userKey, until, by, now: this.deps.clock.now() }, { actor: by });
    return true;
  }

  /** A message to every member, or to the members signed in as `userKey`. Not state: not logged. */
  sendMessage(room: string, message: unknown, userKey?: string): boolean {
    const members = this.deps.members.of(room);
    if (!members) return false;
    const roomState = userKey === undefined ? undefined : this.state(room).context;
    const addressed = (peerId: string) => !roomState || roomState.members.some((member) => member.peerId === peerId && member.userKey === userKey);
    const frame = { event: 'room-message', data: { room, message } };
    for (const [peerId, connection] of members) if (addressed(peerId)) connection.send(frame);
    // Not state, so not in the log: members on other nodes get it over the cluster.
    const remote = this.deps.remote;
    if (remote) for (const [peerId, node] of this.deps.members.remoteOf(room)) if (addressed(peerId)) remote.target(node, peerId).send(frame);
    return true;
  }

  /**
   * The room API's view of gateway-hosted rooms (PROTOCOL.md section 6): a room id names a
   * room of section 5 directly (ODIN namespaces do not apply to them), and a user id is a
   * signed-in user or, for anonymous sessions, a peer id.
   */
  asGatewayRoomHost(): GatewayRoomHost {
    const keysOf = (room: string, userId: string): string[] => {
      if (!this.isHosted(room)) return [];
      const members = this.state(room).context.members.filter((member) => member.userKey === `user:${userId}` || member.peerId === userId);
      return members.length > 0 ? [...new Set(members.map((member) => member.userKey))] : [`user:${userId}`];
    };
    return {
      close: (room, banSeconds) => this.close(room.name, 'closed by the room API', ROOM_API_ACTOR, banSeconds),
      update: (room, userData) => this.update(room.name, Array.from(userData), ROOM_API_ACTOR),
      ban: async (room, userId, banSeconds) => {
        const until = banSeconds > 0 ? this.deps.clock.now() + banSeconds * 1000 : null;
        let hosted = false;
        for (const key of keysOf(room.name, userId)) hosted = (await this.ban(room.name, key, until, ROOM_API_ACTOR)) || hosted;
        return hosted;
      },
      sendMessage: (room, userId, message) => {
        const keys = keysOf(room.name, userId);
        return keys.map((key) => this.sendMessage(room.name, Array.from(message), key)).some(Boolean);
      },
    };
  }

  // ---- lifecycle ----

  /** A closed socket leaves every room it was in or waiting for. */
  async connectionClosed(connection: ClientConnection): Promise<void> {
    const rooms = this.deps.members.roomsOf(connection.id);
    if (rooms.size === 0) return;
    const actor = `connection:${connection.id}`;
    await Promise.allSettled([...rooms].map((room) => this.execute(room, { type: 'Leave', peerId: connection.id, reason: 'disconnected' }, { actor })));
    this.deps.members.forgetPeer(connection.id);
  }

  /**
   * Peers whose sockets are gone with a lost cluster node (PROTOCOL.md section 12) leave every
   * room they were in or waiting for; a room keeps running for the members that remain, and
   * closes as usual when none does.
   */
  async peersLost(peerIds: readonly string[]): Promise<void> {
    const leaves = peerIds.flatMap((peerId) =>
      [...this.deps.members.roomsOf(peerId)].map((room) => this.execute(room, { type: 'Leave', peerId, reason: 'disconnected' }, { actor: 'system' })),
    );
    await Promise.allSettled(leaves);
    for (const peerId of peerIds) this.deps.members.forgetPeer(peerId);
  }

  /**
   * At the start of a cluster node: only the peers whose connection the log shows closed
   * (their node is gone: the connections module closed them first) leave their rooms; rooms
   * with members on live nodes keep running. Returns how many peers left.
   */
  async recoverInCluster(connectionOpen: (peerId: string) => boolean): Promise<number> {
    let left = 0;
    for (const stream of this.deps.runtime.streams(ROOM_CATEGORY)) {
      const snapshot = this.deps.runtime.read<typeof roomMachine>(stream);
      if (!snapshot.matches('open')) continue;
      const { context } = snapshot;
      const gone = [...context.members.map((member) => member.peerId), ...context.pending.map((request) => request.peerId)].filter((peerId) => !connectionOpen(peerId));
      for (const peerId of gone) {
        await this.execute(context.room, { type: 'Leave', peerId, reason: 'disconnected' }, { actor: 'system' }).catch((error: unknown) => {
          // Another node starting at the same time took it out first.
          if (!isAppError(error) || error.code !== 'NOT_FOUND') throw error;
        });
        left += 1;
      }
    }
    return left;
  }

  /**
   * After a restart nobody is connected: every open room is closed (reason "gateway
   * restarted"), its requests rejected with it. Bans stay. Returns how many it closed.
   */
  async recover(): Promise<number> {
    let closed = 0;
    for (const stream of this.deps.runtime.streams(ROOM_CATEGORY)) {
      const snapshot = this.deps.runtime.read<typeof roomMachine>(stream);
      if (!snapshot.matches('open')) continue;
      const command: RoomCommand = { type: 'CloseRoom', reason: 'gateway restarted', by: 'system', now: this.deps.clock.now() };
      await this.deps.runtime.execute(stream, command, { actor: 'system' });
      closed += 1;
    }
    return closed;
  }
}
