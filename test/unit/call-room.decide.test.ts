import { describe, expect, it } from 'vitest';
import { nextOperator } from '../../src/modules/calls/dispatch.js';
import { roomAggregate, type RoomCommand, type RoomEvent } from '../../src/modules/rooms/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * A call's room (PROTOCOL.md sections 5 and 8): the call admits its parties (AdmitMember), no
 * owner approves them; the room is tagged with the call's item, refuses plain join requests,
 * and a room of section 5 of the same name is never taken over. Then the round-robin's turn.
 */

const spec = deciderSpec(roomAggregate);
const T0 = Date.UTC(2026, 4, 4, 9, 0);
const ROOM = 'gentle-ideas-hear';

const admit = (peerId: string, itemId = 'item-1', at = T0): RoomCommand => ({
  type: 'AdmitMember',
  room: ROOM,
  itemId,
  peerId,
  userKey: `user:${peerId}`,
  payload: { user: peerId },
  by: 'ada',
  now: at,
});
const opened: RoomEvent = {
  type: 'RoomCreated',
  data: { room: ROOM, owner: { peerId: 'p-ada', userKey: 'user:p-ada', payload: { user: 'p-ada' }, joinedAt: T0 }, createdAt: T0, itemId: 'item-1' },
};

describe('a call room', () => {
  it('the first admission opens it tagged with the item; the next ones are members at once', () => {
    const open = spec.given().when(admit('p-ada')).then([opened]);
    expect(open.state.context.itemId).toBe('item-1');
    const two = open.when(admit('p-bob', 'item-1', T0 + 1)).then([
      { type: 'MemberAdmitted', data: { room: ROOM, peerId: 'p-bob', userKey: 'user:p-bob', payload: { user: 'p-bob' }, by: 'ada', joinedAt: T0 + 1 } },
    ]);
    expect(two.state.context.members.map((member) => member.peerId)).toEqual(['p-ada', 'p-bob']);
    two.when(admit('p-bob')).then([]);
  });

  it('refuses a plain join request, and a call admitting into a room of section 5 of the same name', () => {
    spec.given([opened]).when({ type: 'RequestJoin', peerId: 'p-eve', userKey: 'user:p-eve', payload: null, now: T0 }).thenThrows('FORBIDDEN');
    const sectionFive: RoomEvent = { type: 'RoomCreated', data: { room: ROOM, owner: { peerId: 'p-eve', userKey: 'user:p-eve', payload: null, joinedAt: T0 }, createdAt: T0 } };
    spec.given([sectionFive]).when(admit('p-ada')).thenThrows('CONFLICT');
    spec.given([opened]).when(admit('p-bob', 'item-2')).thenThrows('CONFLICT');
  });

  it('bans hold against the call too', () => {
    const ban: RoomEvent = { type: 'MemberBanned', data: { room: ROOM, userKey: 'user:p-bob', until: null, by: 'operator' } };
    spec.given([opened, ban]).when(admit('p-bob')).thenThrows('FORBIDDEN');
  });

  it('closes empty when its last member leaves, and opens again, untagged, for section 5', () => {
    const empty = spec.given([opened]).when({ type: 'Leave', peerId: 'p-ada', reason: 'left' }).then([
      { type: 'MemberLeft', data: { room: ROOM, peerId: 'p-ada', reason: 'left' } },
      { type: 'RoomClosed', data: { room: ROOM, reason: 'empty', by: 'p-ada' } },
    ]);
    expect(empty.state.context.itemId).toBeNull();
  });
});

describe('the round-robin turn', () => {
  it('offers an operator never offered the call first, else the one offered it least recently', () => {
    expect(nextOperator(['olga', 'otto'], [])).toBe('olga');
    expect(nextOperator(['olga', 'otto'], ['olga'])).toBe('otto');
    expect(nextOperator(['otto', 'olga'], ['olga', 'otto'])).toBe('olga');
    expect(nextOperator(['otto'], ['olga', 'otto'])).toBe('otto');
  });
});
