import { describe, expect, it } from 'vitest';
import { callAggregate, type CallCommand, type CallEvent } from '../../src/modules/calls/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const spec = deciderSpec(callAggregate);
const NOW = 1_800_000_000_000;
const I = 'c0ffee00-0000-4000-8000-000000000001';
const base = { instanceId: I, itemId: 'item-1', organisationId: 'org-1' };

const start = (overrides: Partial<Extract<CallCommand, { type: 'StartCall' }>> = {}): CallCommand => ({
  type: 'StartCall',
  ...base,
  mode: 'instant',
  host: 'ada',
  hostPeerId: 'p-ada',
  ring: ['bob', 'cy'],
  waiting: [],
  maxParticipants: null,
  callback: false,
  now: NOW,
  ...overrides,
});
const started = (mode: 'instant' | 'round-robin' | 'group', participants: string[], maxParticipants: number | null = null, host = 'ada'): CallEvent => ({
  type: 'CallStarted',
  data: { ...base, mode, host, participants, maxParticipants, startedAt: NOW },
});
const ringing = (parties: string[], by = 'ada', at = NOW): CallEvent => ({ type: 'CallRinging', data: { instanceId: I, parties, by, ringingAt: at } });
const joined = (party: string, role: 'host' | 'participant' | 'operator', at = NOW): CallEvent => ({
  type: 'CallJoined',
  data: { instanceId: I, party, peerId: `p-${party}`, role, joinedAt: at },
});
const accepted = (party: string, at = NOW + 1): CallEvent => ({ type: 'CallAccepted', data: { instanceId: I, party, peerId: `p-${party}`, acceptedAt: at } });
const left = (party: string, reason: 'left' | 'declined' | 'disconnected' | 'returned' | 'gateway restarted', at = NOW + 2, peer = true): CallEvent => ({
  type: 'CallLeft',
  data: { instanceId: I, party, peerId: peer ? `p-${party}` : null, reason, leftAt: at },
});
const ended = (reason: string, by: string, at = NOW + 2): CallEvent =>
  ({ type: 'CallEnded', data: { instanceId: I, itemId: 'item-1', reason, by, endedAt: at } }) as CallEvent;
const queued: CallEvent = { type: 'CallQueued', data: { instanceId: I, itemId: 'item-1', caller: 'ada', queuedAt: NOW } };

const instant = [started('instant', ['bob', 'cy']), ringing(['bob', 'cy']), joined('ada', 'host')];
const roundRobin = [started('round-robin', []), queued, joined('ada', 'host')];

describe('call decide: instant', () => {
  it('starts ringing the participants, the caller in the room; a name taken is CONFLICT', () => {
    const after = spec.given().when(start()).then(instant);
    expect(after.state.value).toBe('ringing');
    spec.given(instant).when(start()).thenThrows('CONFLICT');
    spec.given().when(start({ ring: ['ada'] })).thenThrows('BAD_REQUEST');
  });

  it('an accept of a ringing party joins it and makes the call active; a second accept is nothing', () => {
    const after = spec.given(instant).when({ type: 'AcceptCall', party: 'bob', peerId: 'p-bob', now: NOW + 1 }).then([accepted('bob'), joined('bob', 'participant', NOW + 1)]);
    expect(after.state.value).toBe('active');
    after.when({ type: 'AcceptCall', party: 'bob', peerId: 'p-bob', now: NOW + 1 }).then([]);
    after.when({ type: 'AcceptCall', party: 'bob', peerId: 'p-other', now: NOW + 1 }).thenThrows('CONFLICT');
  });

  it('refuses an accept of a call not ringing you (403), and of an ended call (CONFLICT)', () => {
    expect(spec.given(instant).when({ type: 'AcceptCall', party: 'dan', peerId: 'p-dan', now: NOW }).thenThrows('FORBIDDEN').details).toEqual({ reason: 'unauthorized' });
    spec.given([...instant, ended('ended', 'ada')]).when({ type: 'AcceptCall', party: 'bob', peerId: 'p-bob', now: NOW }).thenThrows('CONFLICT');
    spec.given().when({ type: 'AcceptCall', party: 'bob', peerId: 'p-bob', now: NOW }).thenThrows('NOT_FOUND');
  });

  it('max_participants: a join past it is refused capacity_reached', () => {
    const full = [started('instant', ['bob', 'cy'], 2), ringing(['bob', 'cy']), joined('ada', 'host'), accepted('bob'), joined('bob', 'participant', NOW + 1)];
    const refusal = spec.given(full).when({ type: 'AcceptCall', party: 'cy', peerId: 'p-cy', now: NOW + 2 }).thenThrows('FORBIDDEN', 'this call is full');
    expect(refusal.details).toEqual({ reason: 'capacity_reached' });
    // A seat freed is a seat taken.
    spec.given([...full, left('bob', 'left')]).when({ type: 'AcceptCall', party: 'cy', peerId: 'p-cy', now: NOW + 3 }).then([accepted('cy', NOW + 3), joined('cy', 'participant', NOW + 3)]);
  });

  it('declines: the last one rung declining ends it; the caller hanging up while ringing cancels', () => {
    const declined = spec.given(instant).when({ type: 'LeaveCall', by: { party: 'bob' }, reason: 'left', now: NOW + 2 }).then([left('bob', 'declined', NOW + 2, false)]);
    declined.when({ type: 'LeaveCall', by: { party: 'cy' }, reason: 'left', now: NOW + 2 }).then([left('cy', 'declined', NOW + 2, false), ended('declined', 'cy')]);
    spec.given(instant).when({ type: 'LeaveCall', by: { peerId: 'p-ada' }, reason: 'disconnected', now: NOW + 2 }).then([left('ada', 'disconnected'), ended('cancelled', 'ada')]);
  });

  it('an active call ends when its last member leaves; a leave by a stranger is 403, by an unknown peer nothing', () => {
    const active = [...instant, accepted('bob'), joined('bob', 'participant', NOW + 1)];
    const one = spec.given(active).when({ type: 'LeaveCall', by: { party: 'ada' }, reason: 'left', now: NOW + 2 }).then([left('ada', 'left')]);
    one.when({ type: 'LeaveCall', by: { peerId: 'p-bob' }, reason: 'disconnected', now: NOW + 2 }).then([left('bob', 'disconnected'), ended('empty', 'bob')]);
    spec.given(active).when({ type: 'LeaveCall', by: { party: 'dan' }, reason: 'left', now: NOW }).thenThrows('FORBIDDEN');
    spec.given(active).when({ type: 'LeaveCall', by: { peerId: 'p-nobody' }, reason: 'disconnected', now: NOW }).then([]);
    // The room's late leave of an ended call changes nothing.
    spec.given([...active, ended('ended', 'ada')]).when({ type: 'LeaveCall', by: { peerId: 'p-bob' }, reason: 'disconnected', now: NOW + 3 }).then([]);
  });

  it('ending: a member or an operator ends it; someone not in it is refused 403', () => {
    spec.given(instant).when({ type: 'EndCall', by: 'ada', operator: false, reason: 'ended', now: NOW + 2 }).then([ended('ended', 'ada')]);
    spec.given(instant).when({ type: 'EndCall', by: 'bob', operator: false, reason: 'ended', now: NOW + 2 }).thenThrows('FORBIDDEN', 'you are not in this call');
    spec.given(instant).when({ type: 'EndCall', by: 'olga', operator: true, reason: 'ended', now: NOW + 2 }).then([ended('ended', 'olga')]);
    spec.given([...instant, ended('ended', 'ada')]).when({ type: 'EndCall', by: 'ada', operator: false, reason: 'ended', now: NOW + 3 }).thenThrows('CONFLICT');
  });
});

describe('call decide: round-robin', () => {
  const offered = (operator: string, at = NOW + 1): CallEvent => ({ type: 'CallOffered', data: { instanceId: I, operator, offeredAt: at, expiresAt: at + 20_000 } });

  it('queues with the caller in the room; a callback request is recorded once', () => {
    spec.given().when(start({ mode: 'round-robin', ring: [] })).then(roundRobin);
    spec.given().when(start({ mode: 'round-robin', ring: [], callback: true })).then([...roundRobin, { type: 'CallbackRequested', data: { instanceId: I, party: 'ada', requestedAt: NOW } }]);
    const asked = spec.given(roundRobin).when({ type: 'RequestCallback', party: 'ada', now: NOW + 1 }).then([{ type: 'CallbackRequested', data: { instanceId: I, party: 'ada', requestedAt: NOW + 1 } }]);
    asked.when({ type: 'RequestCallback', party: 'ada', now: NOW + 2 }).then([]);
    spec.given(roundRobin).when({ type: 'RequestCallback', party: 'bob', now: NOW + 1 }).thenThrows('FORBIDDEN');
  });

  it('offers one operator at a time; an offer lapses only at its expiry, and the next is offered', () => {
    const first = spec.given(roundRobin).when({ type: 'OfferCall', operator: 'olga', expiresAt: NOW + 20_001, now: NOW + 1 }).then([offered('olga')]);
    first.when({ type: 'OfferCall', operator: 'otto', expiresAt: NOW + 20_005, now: NOW + 5 }).thenThrows('CONFLICT');
    first.when({ type: 'ExpireOffer', operator: 'olga', reason: 'timeout', now: NOW + 10 }).then([]);
    first.when({ type: 'ExpireOffer', operator: 'otto', reason: 'timeout', now: NOW + 30_000 }).then([]);
    const lapsed = first.when({ type: 'ExpireOffer', operator: 'olga', reason: 'timeout', now: NOW + 20_001 }).then([
      { type: 'CallOfferExpired', data: { instanceId: I, operator: 'olga', reason: 'timeout' } },
    ]);
    const second = lapsed.when({ type: 'OfferCall', operator: 'otto', expiresAt: NOW + 40_002, now: NOW + 20_002 }).then([offered('otto', NOW + 20_002)]);
    expect(second.state.context.offeredTo).toEqual(['olga', 'otto']);
  });

  it('activate: exactly one operator wins; the second is CONFLICT; the caller is joined if it was not', () => {
    const take = (operator: string): CallCommand => ({ type: 'AssignCall', operator, operatorPeerId: `p-${operator}`, callerPeerId: 'p-ada', by: operator, now: NOW + 3 });
    const taken = spec.given(roundRobin).when(take('olga')).then([
      { type: 'CallAssigned', data: { instanceId: I, operator: 'olga', by: 'olga', assignedAt: NOW + 3 } },
      joined('olga', 'operator', NOW + 3),
    ]);
    expect(taken.state.value).toBe('active');
    taken.when(take('otto')).thenThrows('CONFLICT', 'this call was taken already');
    // The caller's socket dropped while queued: the call joins it through its new one.
    spec.given([...roundRobin, left('ada', 'disconnected')]).when(take('olga')).then([
      { type: 'CallAssigned', data: { instanceId: I, operator: 'olga', by: 'olga', assignedAt: NOW + 3 } },
      joined('olga', 'operator', NOW + 3),
      joined('ada', 'host', NOW + 3),
    ]);
    spec.given(instant).when(take('olga')).thenThrows('BAD_REQUEST');
  });

  it('recall returns the call to the queue; the operator leaving does too, with the caller still there', () => {
    const taken = [...roundRobin, { type: 'CallAssigned', data: { instanceId: I, operator: 'olga', by: 'olga', assignedAt: NOW + 3 } } as CallEvent, joined('olga', 'operator', NOW + 3)];
    const returned = spec.given(taken).when({ type: 'RecallCall', by: 'olga', now: NOW + 4 }).then([
      left('olga', 'returned', NOW + 4),
      { type: 'CallReturned', data: { instanceId: I, operator: 'olga', by: 'olga', returnedAt: NOW + 4 } },
    ]);
    expect(returned.state.value).toBe('queued');
    returned.when({ type: 'RecallCall', by: 'olga', now: NOW + 5 }).thenThrows('CONFLICT');
    spec.given(taken).when({ type: 'LeaveCall', by: { peerId: 'p-olga' }, reason: 'disconnected', now: NOW + 4 }).then([
      left('olga', 'disconnected', NOW + 4),
      { type: 'CallReturned', data: { instanceId: I, operator: 'olga', by: 'olga', returnedAt: NOW + 4 } },
    ]);
  });

  it('a queued caller whose socket drops keeps its place; one who hangs up cancels', () => {
    const dropped = spec.given(roundRobin).when({ type: 'LeaveCall', by: { peerId: 'p-ada' }, reason: 'disconnected', now: NOW + 2 }).then([left('ada', 'disconnected')]);
    expect(dropped.state.value).toBe('queued');
    spec.given(roundRobin).when({ type: 'LeaveCall', by: { party: 'ada' }, reason: 'left', now: NOW + 2 }).then([left('ada', 'left'), ended('cancelled', 'ada')]);
  });

  it('call back: the operator joins and the absent caller is rung; its accept joins it', () => {
    const away = [...roundRobin, left('ada', 'disconnected')];
    const rung = spec.given(away).when({ type: 'CallBack', operator: 'olga', operatorPeerId: 'p-olga', now: NOW + 3 }).then([
      { type: 'CallAssigned', data: { instanceId: I, operator: 'olga', by: 'olga', assignedAt: NOW + 3 } },
      joined('olga', 'operator', NOW + 3),
      ringing(['ada'], 'olga', NOW + 3),
    ]);
    const back = rung.when({ type: 'AcceptCall', party: 'ada', peerId: 'p-ada', now: NOW + 4 }).then([accepted('ada', NOW + 4), joined('ada', 'host', NOW + 4)]);
    expect(back.state.context.parties.map((party) => [party.party, party.status])).toEqual([['ada', 'joined'], ['olga', 'joined']]);
  });
});

describe('call decide: group', () => {
  it('lets in whoever waits, up to max_participants (the host counts), each party once', () => {
    const waiting = ['bob', 'cy', 'bob', 'dan'].map((party, index) => ({ party, peerId: `p-${party}${index === 2 ? '-2' : ''}` }));
    spec.given().when(start({ mode: 'group', host: 'olga', hostPeerId: 'p-olga', ring: [], waiting, maxParticipants: 3 })).then([
      started('group', ['bob', 'cy'], 3, 'olga'),
      joined('olga', 'host'),
      joined('bob', 'participant'),
      joined('cy', 'participant'),
    ]);
  });

  it('a late comer joins while there is room; past it, capacity_reached', () => {
    const running = [started('group', ['bob'], 3, 'olga'), joined('olga', 'host'), joined('bob', 'participant')];
    const three = spec.given(running).when({ type: 'JoinCall', party: 'cy', peerId: 'p-cy', role: 'participant', now: NOW }).then([joined('cy', 'participant')]);
    expect(three.when({ type: 'AcceptCall', party: 'dan', peerId: 'p-dan', now: NOW }).thenThrows('FORBIDDEN').details).toEqual({ reason: 'capacity_reached' });
  });
});

describe('call decide: restart', () => {
  it('nobody is connected: a ringing or active call ends, a queued one keeps its place, a live offer lapses', () => {
    spec.given(instant).when({ type: 'RecoverCall', now: NOW + 9 }).then([left('ada', 'gateway restarted', NOW + 9), ended('gateway restarted', 'system', NOW + 9)]);
    const offered: CallEvent = { type: 'CallOffered', data: { instanceId: I, operator: 'olga', offeredAt: NOW, expiresAt: NOW + 20_000 } };
    const kept = spec.given([...roundRobin, offered]).when({ type: 'RecoverCall', now: NOW + 9 }).then([
      { type: 'CallOfferExpired', data: { instanceId: I, operator: 'olga', reason: 'gateway restarted' } },
      left('ada', 'gateway restarted', NOW + 9),
    ]);
    expect(kept.state.value).toBe('queued');
    kept.when({ type: 'RecoverCall', now: NOW + 10 }).then([]);
  });
});
