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
  | { type: 'RoomCreated'; data: { room: string; owner: RoomMember; createdAt: number } }
  | { type: 'JoinRequested'; data: { room: string; peerId: string; userKey: string; payload: unknown; requestedAt: number } }
  | { type: 'JoinApproved'; data: { room: string; peerId: string; by: string; payload: unknown; joinedAt: number } }
  | { type: 'JoinRejected'; data: { room: string; peerId: string; by: string; reason: 'rejected' | 'withdrawn' | 'room closed' } }
  | { type: 'MemberLeft'; data: { room: string; peerId: string; reason: LeaveReason } }
  | { type: 'OwnerChanged'; data: { room: string; peerId: string } }
  | { type: 'MemberBanned'; data: { room: string; userKey: string; until: number | null; by: string } }
  | { type: 'RoomUpdated'; data: { room: string; userData: number[]; by: string } }
  | { type: 'RoomClosed'; data: { room: string; reason: string; by: string } };

export const ROOM_CATEGORY = 'room';

/** Room names: what Chat Signal and ODIN clients use, `{tag}` included. */
export const ROOM_NAME = /^[A-Za-z0-9_.:@+{}=-]{1,128}$/;
