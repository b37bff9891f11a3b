import type { Principal } from '../../../core/index.js';
import type { LeaveReason } from './room.events.js';

export type RoomCommand =
  | { type: 'CreateRoom'; room: string; peerId: string; userKey: string; payload: unknown; now: number }
  | { type: 'RequestJoin'; peerId: string; userKey: string; payload: unknown; now: number }
  | { type: 'ApproveJoin'; by: string; peerId: string; payload: unknown; now: number }
  | { type: 'RejectJoin'; by: string; peerId: string }
  /** A call's room: the call decided who is in; opens the room (tagged with its item) when it is not open. */
  | { type: 'AdmitMember'; room: string; itemId: string; peerId: string; userKey: string; payload: unknown; by: string; now: number }
  | { type: 'Leave'; peerId: string; reason: LeaveReason }
  | { type: 'BanUser'; userKey: string; until: number | null; by: string; now: number }
  | { type: 'UpdateRoom'; userData: number[]; by: string }
  | { type: 'CloseRoom'; reason: string; by: string; banSeconds?: number | undefined; now: number };

/** Who a ban applies to: signed-in users across reconnects, anonymous sessions by connection. */
export function userKeyOf(principal: Principal, peerId: string): string {
  switch (principal.kind) {
    case 'user':
      return `user:${principal.userId}`;
    case 'app':
      return `app:${principal.app}:${peerId}`;
    case 'organisation':
      return `organisation:${principal.organisationId}:${peerId}`;
    // One invitation is one person: a ban holds on all of their guest sockets.
    case 'guest':
      return `guest:${principal.invitationId}`;
    default:
      return `peer:${peerId}`;
  }
}
