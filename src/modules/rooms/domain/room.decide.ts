import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { RoomCommand } from './room.commands.js';
import type { LeaveReason, RoomEvent } from './room.events.js';
import type { RoomContext, roomMachine } from './room.machine.js';

export type RoomSnapshot = SnapshotFrom<typeof roomMachine>;

export function activeBan(context: RoomContext, userKey: string, now: number): { until: number | null } | undefined {
  return context.bans.find((ban) => ban.userKey === userKey && (ban.until === null || ban.until > now));
}

/**
 * A member leaves: the events that follow. When the last owner goes, the longest-present
 * member becomes owner; when the last member goes, the room ends and pending requests with it.
 */
function leave(context: RoomContext, peerIds: string[], reason: LeaveReason, by: string): RoomEvent[] {
  const room = context.room;
  const leaving = new Set(peerIds.filter((peerId) => context.members.some((member) => member.peerId === peerId)));
  if (leaving.size === 0) return [];
  const events: RoomEvent[] = [...leaving].map((peerId) => ({ type: 'MemberLeft', data: { room, peerId, reason } }) as RoomEvent);
  const remaining = context.members.filter((member) => !leaving.has(member.peerId));
  if (remaining.length === 0) {
    for (const request of context.pending) events.push({ type: 'JoinRejected', data: { room, peerId: request.peerId, by, reason: 'room closed' } });
    events.push({ type: 'RoomClosed', data: { room, reason: 'empty', by } });
    return events;
  }
  const ownersLeft = context.owners.filter((owner) => !leaving.has(owner));
  if (ownersLeft.length === 0) events.push({ type: 'OwnerChanged', data: { room, peerId: remaining[0]!.peerId } });
  return events;
}

/**
 * A call lets a connection into its room (PROTOCOL.md section 8): no request, no owner's
 * approval, as the call's own rules (ringing, capacity, operators) decided it; bans still hold.
 * The first member opens the room, tagged with the call's item, so a room that is open for
 * anything else (a room of section 5 someone named like the call) is never taken over.
 */
function admit(command: Extract<RoomCommand, { type: 'AdmitMember' }>, snapshot: RoomSnapshot): RoomEvent[] {
  const { context } = snapshot;
  const { room, itemId, peerId, userKey, payload, by, now } = command;
  if (activeBan(context, userKey, now)) throw new AppError('FORBIDDEN', 'you are banned from this room');
  if (!snapshot.matches('open')) {
    return [{ type: 'RoomCreated', data: { room, owner: { peerId, userKey, payload, joinedAt: now }, createdAt: now, itemId } }];
  }
  if (context.itemId !== itemId) throw new AppError('CONFLICT', `room "${room}" is open for something else`);
  if (context.members.some((member) => member.peerId === peerId)) return [];
  return [{ type: 'MemberAdmitted', data: { room, peerId, userKey, payload, by, joinedAt: now } }];
}

export function decideRoom(command: RoomCommand, snapshot: RoomSnapshot): RoomEvent[] {
  const { context } = snapshot;
  const open = snapshot.matches('open');
  const room = context.room;
  if (command.type === 'CreateRoom') {
    if (open) throw new AppError('CONFLICT', `room "${command.room}" already exists`);
    const ban = activeBan(context, command.userKey, command.now);
    if (ban) throw new AppError('FORBIDDEN', 'you are banned from this room');
    return [
      {
        type: 'RoomCreated',
        data: { room: command.room, owner: { peerId: command.peerId, userKey: command.userKey, payload: command.payload, joinedAt: command.now }, createdAt: command.now },
      },
    ];
  }
  if (command.type === 'AdmitMember') return admit(command, snapshot);
  if (!open) {
    if (command.type === 'Leave') return [];
    throw new AppError('NOT_FOUND', 'no such room');
  }
  const isOwner = (peerId: string) => context.owners.includes(peerId);
  const isMember = (peerId: string) => context.members.some((member) => member.peerId === peerId);
  switch (command.type) {
    case 'RequestJoin': {
      // A call's room holds whom the call let in; its owners do not approve strangers into it.
      if (context.itemId !== null) throw new AppError('FORBIDDEN', "this room is a call's: join it through its item (consumer_webrtc_start or _accept)");
      if (activeBan(context, command.userKey, command.now)) throw new AppError('FORBIDDEN', 'you are banned from this room');
      if (isMember(command.peerId)) throw new AppError('CONFLICT', 'already a member of this room');
      if (context.pending.some((request) => request.peerId === command.peerId)) return [];
      return [{ type: 'JoinRequested', data: { room, peerId: command.peerId, userKey: command.userKey, payload: command.payload, requestedAt: command.now } }];
    }
    case 'ApproveJoin': {
      if (!isOwner(command.by)) throw new AppError('FORBIDDEN', 'only an owner of the room may approve joins');
      const request = context.pending.find((entry) => entry.peerId === command.peerId);
      if (!request) throw new AppError('NOT_FOUND', 'no pending join request from that peer');
      if (activeBan(context, request.userKey, command.now)) {
        return [{ type: 'JoinRejected', data: { room, peerId: command.peerId, by: command.by, reason: 'rejected' } }];
      }
      return [{ type: 'JoinApproved', data: { room, peerId: command.peerId, by: command.by, payload: command.payload, joinedAt: command.now } }];
    }
    case 'RejectJoin': {
      if (!isOwner(command.by)) throw new AppError('FORBIDDEN', 'only an owner of the room may reject joins');
      if (!context.pending.some((entry) => entry.peerId === command.peerId)) throw new AppError('NOT_FOUND', 'no pending join request from that peer');
      return [{ type: 'JoinRejected', data: { room, peerId: command.peerId, by: command.by, reason: 'rejected' } }];
    }
    case 'Leave': {
      if (context.pending.some((entry) => entry.peerId === command.peerId) && !isMember(command.peerId)) {
        return [{ type: 'JoinRejected', data: { room, peerId: command.peerId, by: command.peerId, reason: 'withdrawn' } }];
      }
      return leave(context, [command.peerId], command.reason, command.peerId);
    }
    case 'BanUser': {
      const banned = context.members.filter((member) => member.userKey === command.userKey).map((member) => member.peerId);
      const events: RoomEvent[] = [{ type: 'MemberBanned', data: { room, userKey: command.userKey, until: command.until, by: command.by } }];
      for (const request of context.pending.filter((entry) => entry.userKey === command.userKey)) {
        events.push({ type: 'JoinRejected', data: { room, peerId: request.peerId, by: command.by, reason: 'rejected' } });
      }
      return [...events, ...leave(context, banned, 'banned', command.by)];
    }
    case 'UpdateRoom':
      return [{ type: 'RoomUpdated', data: { room, userData: command.userData, by: command.by } }];
    case 'CloseRoom': {
      const events: RoomEvent[] = [];
      if (command.banSeconds && command.banSeconds > 0) {
        const until = command.now + command.banSeconds * 1000;
        for (const userKey of new Set(context.members.map((member) => member.userKey))) {
          events.push({ type: 'MemberBanned', data: { room, userKey, until, by: command.by } });
        }
      }
      for (const request of context.pending) events.push({ type: 'JoinRejected', data: { room, peerId: request.peerId, by: command.by, reason: 'room closed' } });
      events.push({ type: 'RoomClosed', data: { room, reason: command.reason, by: command.by } });
      return events;
    }
  }
}
