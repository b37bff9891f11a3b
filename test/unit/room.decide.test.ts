import { describe, expect, it } from 'vitest';
import { roomAggregate, type RoomCommand, type RoomEvent, type RoomMember } from '../../src/modules/rooms/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * A room (stream `room-<name>`): given its past events, when a command from a member, an
 * owner or an operator, then the events it decides or the code it is refused with. Peers are
 * connection ids; a userKey names who a ban applies to across reconnects.
 */

const spec = deciderSpec(roomAggregate);

const T0 = Date.UTC(2025, 8, 1, 10, 0, 0);
const ROOM = 'lobby';

const userKey = (peerId: string) => `user:${peerId}`;
const ann: RoomMember = { peerId: 'ann', userKey: userKey('ann'), payload: { name: 'ann' }, joinedAt: T0 };

// ---- events ----

const created: RoomEvent = { type: 'RoomCreated', data: { room: ROOM, owner: ann, createdAt: T0 } };
const requested = (peerId: string, at = T0 + 1, key = userKey(peerId)): RoomEvent => ({
  type: 'JoinRequested',
  data: { room: ROOM, peerId, userKey: key, payload: { name: peerId }, requestedAt: at },
});
const approved = (peerId: string, at = T0 + 2, by = 'ann'): RoomEvent => ({
  type: 'JoinApproved',
  data: { room: ROOM, peerId, by, payload: { welcome: true }, joinedAt: at },
});
const rejected = (peerId: string, by: string, reason: 'rejected' | 'withdrawn' | 'room closed'): RoomEvent => ({
  type: 'JoinRejected',
  data: { room: ROOM, peerId, by, reason },
});
const left = (peerId: string, reason: Extract<RoomCommand, { type: 'Leave' }>['reason'] = 'left'): RoomEvent => ({
  type: 'MemberLeft',
  data: { room: ROOM, peerId, reason },
});
const banned = (key: string, until: number | null, by = 'operator'): RoomEvent => ({ type: 'MemberBanned', data: { room: ROOM, userKey: key, until, by } });
const closed = (reason: string, by: string): RoomEvent => ({ type: 'RoomClosed', data: { room: ROOM, reason, by } });
/** A peer that asked and was let in: the two events that make a member. */
const joined = (peerId: string, at = T0 + 2, key = userKey(peerId)): RoomEvent[] => [requested(peerId, at - 1, key), approved(peerId, at)];

// ---- commands ----

const create = (peerId = 'ann', now = T0): RoomCommand => ({ type: 'CreateRoom', room: ROOM, peerId, userKey: userKey(peerId), payload: { name: peerId }, now });
const join = (peerId: string, now = T0 + 1): RoomCommand => ({ type: 'RequestJoin', peerId, userKey: userKey(peerId), payload: { name: peerId }, now });
const approve = (by: string, peerId: string, now = T0 + 2): RoomCommand => ({ type: 'ApproveJoin', by, peerId, payload: { welcome: true }, now });
const reject = (by: string, peerId: string): RoomCommand => ({ type: 'RejectJoin', by, peerId });
const leave = (peerId: string, reason: Extract<RoomCommand, { type: 'Leave' }>['reason'] = 'left'): RoomCommand => ({ type: 'Leave', peerId, reason });
const ban = (key: string, until: number | null, now = T0 + 10): RoomCommand => ({ type: 'BanUser', userKey: key, until, by: 'operator', now });
const close = (banSeconds?: number, now = T0 + 10): RoomCommand => ({ type: 'CloseRoom', reason: 'maintenance', by: 'operator', banSeconds, now });

/** Every command but CreateRoom and Leave, for "no room, no command". */
const roomCommands: RoomCommand[] = [join('bob'), approve('ann', 'bob'), reject('ann', 'bob'), ban(userKey('bob'), null), { type: 'UpdateRoom', userData: [1], by: 'operator' }, close()];

describe('CreateRoom', () => {
  it('given nothing, opens the room with its creator as the one member and owner', () => {
    const { state } = spec.given().when(create()).then([created]);
    expect(state.value).toBe('open');
    expect(state.context).toMatchObject({ room: ROOM, owners: ['ann'], members: [ann], pending: [], userData: null });
  });

  it('given an open room of that name, is refused with CONFLICT (the name is taken)', () => {
    spec.given([created]).when(create('bob')).thenThrows('CONFLICT', 'room "lobby" already exists');
  });

  it('given a closed room, opens it again under the same name, with a fresh membership', () => {
    const { state } = spec
      .given([created, ...joined('bob'), closed('maintenance', 'operator')])
      .when(create('bob', T0 + 100))
      .then([{ type: 'RoomCreated', data: { room: ROOM, owner: { peerId: 'bob', userKey: 'user:bob', payload: { name: 'bob' }, joinedAt: T0 + 100 }, createdAt: T0 + 100 } }]);
    expect(state.context).toMatchObject({ owners: ['bob'], pending: [] });
    expect(state.context.members.map((member) => member.peerId)).toEqual(['bob']);
  });

  it('refuses a creator banned from the room with FORBIDDEN: bans outlive the room', () => {
    const history = [created, banned(userKey('bob'), T0 + 1000), closed('empty', 'ann')];
    spec.given(history).when(create('bob', T0 + 999)).thenThrows('FORBIDDEN', 'you are banned from this room');
    expect(spec.given(history).when(create('bob', T0 + 1000)).events.map((event) => event.type)).toEqual(['RoomCreated']);
  });
});

describe('RequestJoin', () => {
  it('given an open room, records the request as pending: the peer is not a member yet', () => {
    const { state } = spec.given([created]).when(join('bob')).then([requested('bob')]);
    expect(state.context.pending).toEqual([{ peerId: 'bob', userKey: 'user:bob', payload: { name: 'bob' }, requestedAt: T0 + 1 }]);
    expect(state.context.members).toEqual([ann]);
  });

  it('asking again while the request is pending decides nothing', () => {
    spec.given([created, requested('bob')]).when(join('bob', T0 + 5)).then([]);
  });

  it('refuses a banned user with FORBIDDEN while the ban lasts, and not once it has run out', () => {
    const until = T0 + 60_000;
    const bannedBob = spec.given([created, banned(userKey('bob'), until)]);
    bannedBob.when(join('bob', until - 1)).thenThrows('FORBIDDEN', 'you are banned from this room');
    bannedBob.when(join('bob', until)).then([requested('bob', until)]);
    // A ban without an end never runs out.
    spec.given([created, banned(userKey('bob'), null)]).when(join('bob', T0 + 10 * 365 * 86_400_000)).thenThrows('FORBIDDEN');
  });

  it('refuses a peer that is already a member with CONFLICT, the creator included', () => {
    spec.given([created]).when(join('ann')).thenThrows('CONFLICT', 'already a member of this room');
    spec.given([created, ...joined('bob')]).when(join('bob', T0 + 5)).thenThrows('CONFLICT');
  });
});

describe('ApproveJoin', () => {
  it('an owner lets a pending peer in: it becomes the newest member, with the payload it asked with', () => {
    const { state } = spec.given([created, requested('bob')]).when(approve('ann', 'bob')).then([approved('bob')]);
    expect(state.context.pending).toEqual([]);
    expect(state.context.members).toEqual([ann, { peerId: 'bob', userKey: 'user:bob', payload: { name: 'bob' }, joinedAt: T0 + 2 }]);
    expect(state.context.owners).toEqual(['ann']);
  });

  it('only an owner may approve: a member or a stranger is refused with FORBIDDEN', () => {
    const room = spec.given([created, ...joined('bob'), requested('cid', T0 + 3)]);
    room.when(approve('bob', 'cid')).thenThrows('FORBIDDEN', 'only an owner of the room may approve joins');
    room.when(approve('eve', 'cid')).thenThrows('FORBIDDEN');
  });

  it('refuses an unknown request with NOT_FOUND: never asked, already a member, or withdrawn', () => {
    spec.given([created]).when(approve('ann', 'bob')).thenThrows('NOT_FOUND', 'no pending join request from that peer');
    spec.given([created, ...joined('bob')]).when(approve('ann', 'bob')).thenThrows('NOT_FOUND');
    spec.given([created, requested('bob'), rejected('bob', 'bob', 'withdrawn')]).when(approve('ann', 'bob')).thenThrows('NOT_FOUND');
  });

  it('rejects instead when the user who asked is banned by the time of the approval', () => {
    spec
      .given([created, requested('bob'), banned(userKey('bob'), null)])
      .when(approve('ann', 'bob'))
      .then([rejected('bob', 'ann', 'rejected')]);
  });
});

describe('RejectJoin', () => {
  it('an owner turns a pending peer away', () => {
    const { state } = spec.given([created, requested('bob')]).when(reject('ann', 'bob')).then([rejected('bob', 'ann', 'rejected')]);
    expect(state.context.pending).toEqual([]);
    expect(state.context.members).toEqual([ann]);
  });

  it('only an owner may reject: a member is refused with FORBIDDEN', () => {
    spec
      .given([created, ...joined('bob'), requested('cid', T0 + 3)])
      .when(reject('bob', 'cid'))
      .thenThrows('FORBIDDEN', 'only an owner of the room may reject joins');
  });

  it('refuses an unknown request with NOT_FOUND', () => {
    spec.given([created]).when(reject('ann', 'bob')).thenThrows('NOT_FOUND', 'no pending join request from that peer');
  });
});

describe('Leave', () => {
  it('a member leaves with its reason; owners stay as they were', () => {
    const { state } = spec.given([created, ...joined('bob')]).when(leave('bob', 'disconnected')).then([left('bob', 'disconnected')]);
    expect(state.context.members).toEqual([ann]);
    expect(state.context.owners).toEqual(['ann']);
    expect(state.value).toBe('open');
  });

  it('a pending peer that leaves withdraws its request', () => {
    const { state } = spec.given([created, requested('bob')]).when(leave('bob')).then([rejected('bob', 'bob', 'withdrawn')]);
    expect(state.context.pending).toEqual([]);
  });

  it('when the owner leaves, the longest-present member becomes owner (join order, not request order)', () => {
    // cid asked first, but bob was let in first.
    const history = [created, requested('cid', T0 + 1), requested('bob', T0 + 2), approved('bob', T0 + 3), approved('cid', T0 + 4)];
    const { state } = spec
      .given(history)
      .when(leave('ann'))
      .then([left('ann'), { type: 'OwnerChanged', data: { room: ROOM, peerId: 'bob' } }]);
    expect(state.context.owners).toEqual(['bob']);
    expect(state.context.members.map((member) => member.peerId)).toEqual(['bob', 'cid']);
  });

  it('the new owner may approve; the old one, gone, may not', () => {
    const afterOwnerLeft = spec.given([created, ...joined('bob'), left('ann'), { type: 'OwnerChanged', data: { room: ROOM, peerId: 'bob' } }, requested('cid', T0 + 5)]);
    afterOwnerLeft.when(approve('bob', 'cid', T0 + 6)).then([approved('cid', T0 + 6, 'bob')]);
    afterOwnerLeft.when(approve('ann', 'cid', T0 + 6)).thenThrows('FORBIDDEN');
  });

  it('when the last member leaves, pending requests are turned away and the room closes as empty', () => {
    const { state } = spec
      .given([created, requested('bob'), requested('cid')])
      .when(leave('ann', 'disconnected'))
      .then([left('ann', 'disconnected'), rejected('bob', 'ann', 'room closed'), rejected('cid', 'ann', 'room closed'), closed('empty', 'ann')]);
    expect(state.value).toBe('closed');
    expect(state.context).toMatchObject({ owners: [], members: [], pending: [] });
  });

  it('decides nothing for a peer that is not in the room, or when there is no open room', () => {
    spec.given([created]).when(leave('eve')).then([]);
    spec.given().when(leave('ann')).then([]);
    spec.given([created, closed('empty', 'ann')]).when(leave('ann')).then([]);
  });
});

describe('BanUser', () => {
  it('bans a member until a time: every connection of that user leaves as banned, and may not ask again until then', () => {
    const until = T0 + 60_000;
    const after = spec
      .given([created, ...joined('bob'), ...joined('bob-2', T0 + 4, userKey('bob'))])
      .when(ban(userKey('bob'), until))
      .then([banned(userKey('bob'), until), left('bob', 'banned'), left('bob-2', 'banned')]);
    expect(after.state.context.members).toEqual([ann]);
    expect(after.state.context.bans).toEqual([{ userKey: 'user:bob', until }]);
    after.when(join('bob', until - 1)).thenThrows('FORBIDDEN');
    after.when(join('bob', until)).then([requested('bob', until)]);
  });

  it('turns away the pending requests of the banned user, and bans a user who is not in the room', () => {
    spec
      .given([created, requested('bob'), requested('cid')])
      .when(ban(userKey('bob'), null))
      .then([banned(userKey('bob'), null), rejected('bob', 'operator', 'rejected')]);
    spec.given([created]).when(ban(userKey('eve'), null)).then([banned(userKey('eve'), null)]);
  });

  it('a newer ban of the same user replaces the older one', () => {
    const { state } = spec.given([created, banned(userKey('eve'), null)]).when(ban(userKey('eve'), T0 + 5)).then([banned(userKey('eve'), T0 + 5)]);
    expect(state.context.bans).toEqual([{ userKey: 'user:eve', until: T0 + 5 }]);
  });

  it('banning the owner hands the room to the longest-present member', () => {
    spec
      .given([created, ...joined('bob'), ...joined('cid', T0 + 4)])
      .when(ban(userKey('ann'), null))
      .then([banned(userKey('ann'), null), left('ann', 'banned'), { type: 'OwnerChanged', data: { room: ROOM, peerId: 'bob' } }]);
  });

  it('banning everyone in the room closes it as empty', () => {
    const { state } = spec
      .given([created])
      .when(ban(userKey('ann'), null))
      .then([banned(userKey('ann'), null), left('ann', 'banned'), closed('empty', 'operator')]);
    expect(state.value).toBe('closed');
    expect(state.context.bans).toEqual([{ userKey: 'user:ann', until: null }]);
  });
});

describe('UpdateRoom', () => {
  it('records the room data', () => {
    const { state } = spec
      .given([created])
      .when({ type: 'UpdateRoom', userData: [1, 2, 3], by: 'operator' })
      .then([{ type: 'RoomUpdated', data: { room: ROOM, userData: [1, 2, 3], by: 'operator' } }]);
    expect(state.context.userData).toEqual([1, 2, 3]);
  });
});

describe('CloseRoom', () => {
  it('turns pending requests away and closes the room; its name is free again', () => {
    const after = spec
      .given([created, ...joined('bob'), requested('cid', T0 + 5)])
      .when(close())
      .then([rejected('cid', 'operator', 'room closed'), closed('maintenance', 'operator')]);
    expect(after.state.value).toBe('closed');
    expect(after.state.context).toMatchObject({ owners: [], members: [], pending: [], userData: null });
    expect(after.when(create('cid', T0 + 20)).events.map((event) => event.type)).toEqual(['RoomCreated']);
  });

  it('with banSeconds, bans each user present (once per user) for that long, so none reopens it meanwhile', () => {
    const until = T0 + 10 + 30_000;
    const after = spec
      .given([created, ...joined('bob'), ...joined('bob-2', T0 + 4, userKey('bob'))])
      .when(close(30))
      .then([banned(userKey('ann'), until), banned(userKey('bob'), until), closed('maintenance', 'operator')]);
    after.when(create('bob', until - 1)).thenThrows('FORBIDDEN');
    expect(after.when(create('bob', until)).events.map((event) => event.type)).toEqual(['RoomCreated']);
  });

  it('bans nobody with banSeconds 0', () => {
    spec.given([created]).when(close(0)).then([closed('maintenance', 'operator')]);
  });
});

describe('no open room', () => {
  it('refuses every command but CreateRoom and Leave with NOT_FOUND, before the room opens and after it closed', () => {
    for (const history of [[], [created, closed('empty', 'ann')]]) {
      for (const command of roomCommands) spec.given(history).when(command).thenThrows('NOT_FOUND', 'no such room');
    }
  });
});
