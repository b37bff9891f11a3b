import { assign, setup } from 'xstate';
import type { RoomEvent, RoomMember } from './room.events.js';

export interface RoomContext {
  room: string;
  /** Owners in the order they became owners; the creator first. */
  owners: string[];
  /** Members in join order: the longest-present member is first. */
  members: RoomMember[];
  pending: { peerId: string; userKey: string; payload: unknown; requestedAt: number }[];
  /** Bans outlive a room's closing and the process: a room reopened under the same name keeps them. */
  bans: { userKey: string; until: number | null }[];
  userData: number[] | null;
  /** The item whose call this room runs (its members are the call's); null for rooms of section 5. */
  itemId: string | null;
}

const emptyRoom = { owners: [] as string[], members: [] as RoomMember[], pending: [] as RoomContext['pending'], userData: null, itemId: null as string | null };

/** A room's evolve: closed (or never opened) -> open -> closed, and open again under the same name. */
export const roomMachine = setup({
  types: { context: {} as RoomContext, events: {} as RoomEvent },
}).createMachine({
  id: 'room',
  initial: 'closed',
  context: { room: '', bans: [], ...emptyRoom },
  on: {
    MemberBanned: {
      actions: assign(({ context, event }) => ({
        bans: [...context.bans.filter((ban) => ban.userKey !== event.data.userKey), { userKey: event.data.userKey, until: event.data.until }],
      })),
    },
  },
  states: {
    closed: {
      on: {
        RoomCreated: {
          target: 'open',
          actions: assign(({ event }) => ({
            ...emptyRoom,
            room: event.data.room,
            owners: [event.data.owner.peerId],
            members: [event.data.owner],
            itemId: event.data.itemId ?? null,
          })),
        },
      },
    },
    open: {
      on: {
        JoinRequested: {
          actions: assign(({ context, event }) => ({
            pending: [...context.pending, { peerId: event.data.peerId, userKey: event.data.userKey, payload: event.data.payload, requestedAt: event.data.requestedAt }],
          })),
        },
        JoinApproved: {
          actions: assign(({ context, event }) => {
            const request = context.pending.find((entry) => entry.peerId === event.data.peerId);
            return {
              pending: context.pending.filter((entry) => entry.peerId !== event.data.peerId),
              members: [
                ...context.members,
                { peerId: event.data.peerId, userKey: request?.userKey ?? '', payload: request?.payload ?? null, joinedAt: event.data.joinedAt },
              ],
            };
          }),
        },
        MemberAdmitted: {
          actions: assign(({ context, event }) => ({
            members: [...context.members, { peerId: event.data.peerId, userKey: event.data.userKey, payload: event.data.payload, joinedAt: event.data.joinedAt }],
          })),
        },
        JoinRejected: {
          actions: assign(({ context, event }) => ({ pending: context.pending.filter((entry) => entry.peerId !== event.data.peerId) })),
        },
        MemberLeft: {
          actions: assign(({ context, event }) => ({
            members: context.members.filter((member) => member.peerId !== event.data.peerId),
            owners: context.owners.filter((owner) => owner !== event.data.peerId),
          })),
        },
        OwnerChanged: {
          actions: assign(({ context, event }) => ({ owners: [...context.owners.filter((owner) => owner !== event.data.peerId), event.data.peerId] })),
        },
        RoomUpdated: { actions: assign(({ event }) => ({ userData: event.data.userData })) },
        RoomClosed: { target: 'closed', actions: assign(() => emptyRoom) },
      },
    },
  },
});
