import { sendToAll, type ClientConnection } from '../../edge/index.js';
import type { Processor } from '../../runtime/index.js';
import type { RecordedEvent } from '../../store/index.js';
import { isPlainObject } from '../../protocol/index.js';
import { isRoomEvent, userKeyOf, type RecordedRoomEvent } from './domain/index.js';
import type { JoinRequestFrames } from './join-frames.js';
import type { RoomMembers } from './members.js';
import type { RoomHost } from './room-host.js';

export interface RoomProcessorDependencies {
  members: RoomMembers;
  host: RoomHost;
  joinFrames: JoinRequestFrames;
  connection(peerId: string): ClientConnection | undefined;
}

/**
 * The reactions to committed room events (PROTOCOL.md section 5): the membership index
 * follows the log, and members hear what happened. One processor, because each push needs
 * the index as it was just before or just after its event (a joiner is told the peers
 * before it; a leaver is not told of its own leave; a closed room's members hear of it
 * before they are dropped). Live only (`now`): after a restart there is no socket to tell.
 */
export function roomProcessors(deps: RoomProcessorDependencies): Processor[] {
  const { members, host, joinFrames } = deps;

  /**
   * One push to the room's members but `except`, encoded once per wire format. Every push here
   * comes from a committed event and carries its position as `seq` (PROTOCOL.md section 11): a
   * member cut and resuming gets the ones it missed.
   */
  const pushToMembers = (room: string, event: string, data: unknown, seq: number, except?: string): void => {
    const current = members.of(room);
    if (!current) return;
    const recipients = except === undefined ? current.values() : [...current].filter(([peerId]) => peerId !== except).map(([, connection]) => connection);
    sendToAll(recipients, { event, data, seq });
  };

  const react = (event: RecordedRoomEvent): void => {
    const room = event.data.room;
    const seq = event.position;
    switch (event.type) {
      case 'RoomCreated':
        members.apply(event);
        return;
      case 'JoinRequested': {
        members.apply(event);
        const current = members.of(room);
        const data = { room, peer_id: event.data.peerId, payload: event.data.payload };
        for (const owner of host.state(room).context.owners) current?.get(owner)?.send({ event: 'room-join-request', data, seq });
        return;
      }
      case 'JoinApproved': {
        if (!members.of(room)) return;
        // The peers before it, on this gateway and on the cluster's others, in join order
        // (the room's state), so every node would list them alike.
        const present = new Set(members.peerIds(room));
        const peers = host.state(room).context.members.map((member) => member.peerId).filter((peerId) => present.has(peerId) && peerId !== event.data.peerId);
        members.apply(event);
        // A joiner whose socket is gone (here or on its node) has nobody to be announced to.
        if (!members.has(room, event.data.peerId)) return;
        // Every node tells its own sockets: the joiner's node answers the joiner.
        const joiner = deps.connection(event.data.peerId);
        if (joiner) {
          const id = joinFrames.take(room, joiner.id);
          joiner.send({ event: 'room-join-accept', data: { room, peer_id: joiner.id, peers, payload: event.data.payload }, id, seq });
        }
        const requestPayload = host.state(room).context.members.find((member) => member.peerId === event.data.peerId)?.payload ?? null;
        pushToMembers(room, 'room-user-join', { room, peer_id: event.data.peerId, payload: requestPayload }, seq, event.data.peerId);
        return;
      }
      case 'MemberAdmitted': {
        // The admitted connection hears of its room from whoever admitted it (the call's push, with the peers).
        members.apply(event);
        pushToMembers(room, 'room-user-join', { room, peer_id: event.data.peerId, payload: event.data.payload }, seq, event.data.peerId);
        return;
      }
      case 'JoinRejected': {
        const id = joinFrames.take(room, event.data.peerId);
        if (event.data.reason !== 'withdrawn') {
          deps.connection(event.data.peerId)?.send({
            event: 'room-join-reject',
            data: { room, peer_id: event.data.peerId, message: `join ${event.data.reason}`, code: 'FORBIDDEN' },
            id,
            seq,
          });
        }
        members.apply(event);
        return;
      }
      case 'MemberLeft':
        members.apply(event);
        pushToMembers(room, 'room-user-leave', { room, peer_id: event.data.peerId }, seq);
        return;
      case 'OwnerChanged':
        pushToMembers(room, 'room-owner-change', { room, peer_id: event.data.peerId }, seq);
        return;
      case 'MemberBanned':
        for (const [peerId, connection] of members.of(room) ?? []) {
          // The connection's own key: the room's state already shows the member gone.
          if (userKeyOf(connection.principal, peerId) === event.data.userKey) connection.send({ event: 'room-banned', data: { room, until: event.data.until }, seq });
        }
        return;
      case 'RoomUpdated':
        pushToMembers(room, 'room-updated', { room, user_data: event.data.userData }, seq);
        return;
      case 'RoomClosed':
        if (event.data.reason !== 'empty') pushToMembers(room, 'room-closed', { room, reason: event.data.reason }, seq);
        members.apply(event);
        return;
    }
  };

  return [
    {
      name: 'rooms.members',
      startFrom: 'now',
      canHandle: (event) => isRoomEvent(event) || movedPeer(event) !== undefined,
      handle(events) {
        for (const event of events) {
          if (isRoomEvent(event)) react(event);
          else {
            const peerId = movedPeer(event);
            if (peerId !== undefined) members.relocate(peerId);
          }
        }
      },
    },
  ];
}

/**
 * The connections module's ConnectionResumed (known here by its name only) naming a node: a
 * cluster node adopted the peer's connection after its node was lost (PROTOCOL.md section 12),
 * so relays to it go there now.
 */
function movedPeer(event: RecordedEvent): string | undefined {
  if (event.type !== 'ConnectionResumed' || !isPlainObject(event.data)) return undefined;
  const { connectionId, node } = event.data;
  return typeof node === 'string' && typeof connectionId === 'string' ? connectionId : undefined;
}
