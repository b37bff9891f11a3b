import { streamId } from '../../core/index.js';
import type { ActorRuntime } from '../../runtime/index.js';
import { ROOM_CATEGORY, isRoomEvent, type RecordedRoomEvent } from './domain/index.js';

/**
 * Whether the rooms pushed `peerId` anything after the log position `since` (PROTOCOL.md
 * sections 11 and 12): a connection another cluster node adopts cannot have those replayed (they
 * were kept in its old node's memory), so its resume is then a gap. Follows the pushes of
 * processors.ts: the peer's own commands were answered, not pushed; a room's creation is pushed
 * to nobody; a join request goes to the owners, a rejection and a ban to the peer concerned;
 * everything else to every member.
 */
export function pushedSince(
  runtime: Pick<ActorRuntime, 'eventsAfter'>,
  rooms: Iterable<string>,
  ownersOf: (room: string) => readonly string[],
  peerId: string,
  since: number,
): boolean {
  for (const room of rooms) {
    for (const event of runtime.eventsAfter(streamId(ROOM_CATEGORY, room), since)) {
      if (isRoomEvent(event) && pushedTo(event, peerId, () => ownersOf(room))) return true;
    }
  }
  return false;
}

function pushedTo(event: RecordedRoomEvent, peerId: string, owners: () => readonly string[]): boolean {
  if (event.metadata.actor === `connection:${peerId}`) return false;
  switch (event.type) {
    case 'RoomCreated':
      return false;
    case 'JoinRequested':
      return owners().includes(peerId);
    case 'JoinRejected':
      return event.data.peerId === peerId;
    default:
      // A ban is pushed by user key, which the peer may share: counted, to be safe.
      return true;
  }
}
