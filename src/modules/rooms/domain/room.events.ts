import type { RecordedEvent } from '../../../core/index.js';

/**
 * Events of a room (stream `room-<name>`). Members are connections (`peerId` is the
 * connection id); `userKey` names who a ban applies to across reconnects: `user:<id>` for
 * signed-in users, `app:<app>:<peerId>` for anonymous app sessions.
 */
export type LeaveReason = 'left' | 'disconnected' | 'banned' | 'kicked' | 'gateway restarted';

export interface RoomMember {
  peerId: string;
  userKey: string;
  payload: unknown;
  joinedAt: number;
}

export type RoomEvent =
  /** `itemId`: the room of a call on that item (calls module), whose members the call admits; absent for rooms of section 5. */
  | { type: 'RoomCreated'; data: { room: string; owner: RoomMember; createdAt: number; itemId?: string } }
  | { type: 'JoinRequested'; data: { room: string; peerId: string; userKey: string; payload: unknown; requestedAt: number } }
  | { type: 'JoinApproved'; data: { room: string; peerId: string; by: string; payload: unknown; joinedAt: number } }
  /** Let in by whoever runs the room (a call's host decides who is in), without a request or an owner's approval. */
  | { type: 'MemberAdmitted'; data: { room: string; peerId: string; userKey: string; payload: unknown; by: string; joinedAt: number } }
  | { type: 'JoinRejected'; data: { room: string; peerId: string; by: string; reason: 'rejected' | 'withdrawn' | 'room closed' } }
  | { type: 'MemberLeft'; data: { room: string; peerId: string; reason: LeaveReason } }
  | { type: 'OwnerChanged'; data: { room: string; peerId: string } }
  | { type: 'MemberBanned'; data: { room: string; userKey: string; until: number | null; by: string } }
  | { type: 'RoomUpdated'; data: { room: string; userData: number[]; by: string } }
  | { type: 'RoomClosed'; data: { room: string; reason: string; by: string } };

export const ROOM_CATEGORY = 'room';

/** A room event as the log recorded it. */
export type RecordedRoomEvent = RecordedEvent & RoomEvent;

/**
 * Every type of RoomEvent: `satisfies` fails to compile when the union gains one not listed.
 * Exported for the operator's event catalogue (`switchyard events --types`).
 */
export const ROOM_EVENT_TYPES: ReadonlySet<string> = new Set(
  Object.keys({
    RoomCreated: true,
    JoinRequested: true,
    JoinApproved: true,
    JoinRejected: true,
    MemberAdmitted: true,
    MemberLeft: true,
    OwnerChanged: true,
    MemberBanned: true,
    RoomUpdated: true,
    RoomClosed: true,
  } satisfies Record<RoomEvent['type'], true>),
);

const ROOM_STREAM_PREFIX = `${ROOM_CATEGORY}-`;

/**
 * Whether a logged event is a room's: on a `room-<name>` stream and of a room event type.
 * The log is the only writer of those streams, so the data then has the type's shape.
 */
export function isRoomEvent(event: RecordedEvent): event is RecordedRoomEvent {
  return event.streamId.startsWith(ROOM_STREAM_PREFIX) && ROOM_EVENT_TYPES.has(event.type);
}
