import { addToIndex, removeFromIndex } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { RoomEvent } from './domain/index.js';

const NO_ROOMS: ReadonlySet<string> = new Set();

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

  /** `connection(id)`: this gateway's open socket of a peer, if it has one. */
  constructor(private readonly connection: (peerId: string) => ClientConnection | undefined) {}

  /** The room's members by peer id (live sockets only), or undefined when it is not hosted here. */
  of(room: string): ReadonlyMap<string, ClientConnection> | undefined {
    return this.byRoom.get(room);
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

  /** Follows one committed room event. */
  apply(event: RoomEvent): void {
    const room = event.data.room;
    switch (event.type) {
      case 'RoomCreated': {
        const owner = this.connection(event.data.owner.peerId);
        this.byRoom.set(room, new Map(owner ? [[owner.id, owner]] : []));
        addToIndex(this.roomsByPeer, event.data.owner.peerId, room);
        if (event.data.itemId !== undefined) this.itemByRoom.set(room, event.data.itemId);
        return;
      }
      case 'MemberAdmitted': {
        const members = this.byRoom.get(room);
        const joiner = this.connection(event.data.peerId);
        if (members && joiner) members.set(joiner.id, joiner);
        addToIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      }
      case 'JoinRequested':
        addToIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      case 'JoinApproved': {
        const members = this.byRoom.get(room);
        const joiner = this.connection(event.data.peerId);
        if (members && joiner) members.set(joiner.id, joiner);
        return;
      }
      case 'JoinRejected':
        removeFromIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      case 'MemberLeft':
        this.byRoom.get(room)?.delete(event.data.peerId);
        removeFromIndex(this.roomsByPeer, event.data.peerId, room);
        return;
      case 'RoomClosed':
        for (const peerId of this.byRoom.get(room)?.keys() ?? []) removeFromIndex(this.roomsByPeer, peerId, room);
        this.byRoom.delete(room);
        this.itemByRoom.delete(room);
        return;
      case 'OwnerChanged':
      case 'MemberBanned':
      case 'RoomUpdated':
        // Membership follows from the MemberLeft events a ban comes with.
        return;
    }
  }
}
