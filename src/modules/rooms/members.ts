import { addToIndex, removeFromIndex } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { RoomEvent } from './domain/index.js';

const NO_ROOMS: ReadonlySet<string> = new Set();
const NO_REMOTE: ReadonlyMap<string, string> = new Map();

/**
 * Where a peer that is not on this gateway lives: the cluster node id holding its socket
 * (PROTOCOL.md section 12), or undefined when it is unknown or gone. Single node: none.
 */
export type PeerLocator = (peerId: string) => string | undefined;

/**
 * The live membership index: which connections are in which room, by peer id, and which
 * rooms (as member or requester) each peer is in. It is the relay's whole world: a relay is
 * one lookup here and one send.
 *
 * Derived only from committed room events (`apply`, called by the rooms processor in log
 * order), whichever process or path committed them, so it never runs ahead of the log: a
 * member is relayable once its join is durable, and not after its leave is.
 */
export class RoomMembers {
  /** Live members by room; a room is here while it is open on this gateway. */
  private readonly byRoom = new Map<string, Map<string, ClientConnection>>();
  /** Rooms by peer, to leave them all when its socket closes. */
  private readonly roomsByPeer = new Map<string, Set<string>>();
  /** The item of each open call room (RoomCreated's tag): a guest of that item may use it. */
  private readonly itemByRoom = new Map<string, string>();
  /**
   * In a cluster, the members on other nodes, by room: peer id to the node holding its socket.
   * Relays to them go over the cluster; pushes do not (every node pushes to its own sockets
   * from its own copy of the log).
   */
  private readonly remoteByRoom = new Map<string, Map<string, string>>();

  /**
   * `connection(id)`: this gateway's open socket of a peer, if it has one; `locate(id)`: the
   * node of a peer on another gateway of the cluster.
   */
  constructor(
    private readonly connection: (peerId: string) => ClientConnection | undefined,
    private readonly locate: PeerLocator = () => undefined,
  ) {}

  /** The room's members by peer id (live sockets only), or undefined when it is not hosted here. */
  of(room: string): ReadonlyMap<string, ClientConnection> | undefined {
    return this.byRoom.get(room);
  }

  /** The room's members on other nodes of the cluster: peer id to node id. */
  remoteOf(room: string): ReadonlyMap<string, string> {
    return this.remoteByRoom.get(room) ?? NO_REMOTE;
  }

  /** Whether the peer is a member of the room with a live socket, here or on another node. */
  has(room: string, peerId: string): boolean {
    return this.byRoom.get(room)?.has(peerId) === true || this.remoteOf(room).has(peerId);
  }

  /** Every member's peer id, on this gateway and on the others. */
  peerIds(room: string): string[] {
    return [...(this.byRoom.get(room)?.keys() ?? []), ...this.remoteOf(room).keys()];
  }

  /** Whether this gateway hosts the room (it is open and was opened or joined here). */
  hosts(room: string): boolean {
    return this.byRoom.has(room);
  }

  /** The item whose call the open room runs, if it is a call's room. */
  itemOf(room: string): string | undefined {
    return this.itemByRoom.get(room);
  }

  /** The rooms the peer is in or waiting for. */
  roomsOf(peerId: string): ReadonlySet<string> {
    return this.roomsByPeer.get(peerId) ?? NO_ROOMS;
  }

  /**
   * Forgets a peer whose socket is gone, after its leaves were sent: a leave that failed to
   * commit must not keep the closed socket's entry alive. Its room memberships still end
   * with the events of the room (a later leave, ban or close).
   */
  forgetPeer(peerId: string): void {
    this.roomsByPeer.delete(peerId);
  }

  /**
   * The peer's connection moved: a cluster node adopted it after its node was lost (PROTOCOL.md
   * section 12). In each room it is a member of, it is now a member through its socket here, or
   * on the node that holds it. Idempotent: the adopting node calls it before the log says so.
   */
  relocate(peerId: string): void {
    const local = this.connection(peerId);
    // Before the adopting node has the socket, the peer is nowhere known: it stays where it was.
    const node = local ? undefined : this.locate(peerId);
    if (!local && node === undefined) return;
    for (const room of this.roomsOf(peerId)) {
      const members = this.byRoom.get(room);
      const remote = this.remoteByRoom.get(room);
      if (!members || !(members.has(peerId) || remote?.has(peerId) === true)) continue;
      if (local) {
        remote?.delete(peerId);
        members.set(peerId, local);
      } else {
        members.delete(peerId);
        this.addRemote(room, peerId);
      }
    }
  }

  /** Follows one committed room event. */
  apply(event: RoomEvent): void {
    const room = event.data.room;
    switch (event.type) {
      case 'RoomCreated': {
        const owner = this.connection(event.data.owner.peerId);
        this.byRoom.set(room, new Map(owner ? [[owner.id, owner]] : []));
        if (!owner) this.addRemote(room, event.data.owner.peerId);
        addToIndex(this.roomsByPeer, event.data.owner.peerId, room);
        if (event.data.itemId !== undefined) this.itemByRoom.set(room, event.data.itemId);
        return;
      }
      case 'MemberAdmitted': {
        this.addMember(room, event.data.peerId);
        addToIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      }
      case 'JoinRequested':
        addToIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      case 'JoinApproved':
        this.addMember(room, event.data.peerId);
        return;
      case 'JoinRejected':
        removeFromIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      case 'MemberLeft':
        this.byRoom.get(room)?.delete(event.data.peerId);
        this.remoteByRoom.get(room)?.delete(event.data.peerId);
        removeFromIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      case 'RoomClosed':
        for (const peerId of this.byRoom.get(room)?.keys() ?? []) removeFromIndex(this.roomsByPeer, peerId, room);
        for (const peerId of this.remoteOf(room).keys()) removeFromIndex(this.roomsByPeer, peerId, room);
        this.byRoom.delete(room);
        this.remoteByRoom.delete(room);
        this.itemByRoom.delete(room);
        return;
      case 'OwnerChanged':
      case 'MemberBanned':
      case 'RoomUpdated':
        // Membership follows from the MemberLeft events a ban comes with.
        return;
    }
  }

  /** A member of an open room: its socket here, or its node when it is on another gateway. */
  private addMember(room: string, peerId: string): void {
    const members = this.byRoom.get(room);
    if (!members) return;
    const local = this.connection(peerId);
    if (local) members.set(local.id, local);
    else this.addRemote(room, peerId);
  }

  private addRemote(room: string, peerId: string): void {
    const node = this.locate(peerId);
    if (node === undefined) return;
    let remote = this.remoteByRoom.get(room);
    if (!remote) this.remoteByRoom.set(room, (remote = new Map()));
    remote.set(peerId, node);
  }
}
