import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { CallRole } from '../../../protocol/topics/calls.js';
import type { CallCommand, Joiner } from './call.commands.js';
import type { CallEvent } from './call.events.js';
import type { CallContext, CallParty, callMachine } from './call.machine.js';

export type CallSnapshot = SnapshotFrom<typeof callMachine>;
export type CallState = 'idle' | 'ringing' | 'queued' | 'active' | 'ended';

export const callStateOf = (snapshot: CallSnapshot): CallState => snapshot.value as CallState;

/** The refusal of a join past max_participants (PROTOCOL.md section 8's refusal shape, 403). */
export const capacityReached = (): AppError => new AppError('FORBIDDEN', 'this call is full', { reason: 'capacity_reached' });

const forbidden = (message: string): AppError => new AppError('FORBIDDEN', message, { reason: 'unauthorized' });
const notRoundRobin = (): AppError => new AppError('BAD_REQUEST', 'only round-robin calls are taken by operators', { errors: [{ path: 'instance', message: 'not a round-robin call' }] });

const partyIn = (context: CallContext, party: string): CallParty | undefined => context.parties.find((entry) => entry.party === party);
const joinedIn = (context: CallContext): CallParty[] => context.parties.filter((entry) => entry.status === 'joined');

/** Throws capacity_reached unless `joining` more parties fit in the call. */
function assertRoomFor(context: CallContext, joining: number): void {
  if (context.maxParticipants !== null && joinedIn(context).length + joining > context.maxParticipants) throw capacityReached();
}

/** A party already joined through `peerId` joins again: nothing; through another connection: CONFLICT. */
function alreadyJoined(entry: CallParty | undefined, peerId: string): boolean {
  if (entry?.status !== 'joined') return false;
  if (entry.peerId === peerId) return true;
  throw new AppError('CONFLICT', 'you are in this call already, on another connection');
}

const joined = (instanceId: string, party: string, peerId: string, role: CallRole, now: number): CallEvent => ({
  type: 'CallJoined',
  data: { instanceId, party, peerId, role, joinedAt: now },
});

/** The first joiner of each party, without the host: who a group call lets in. */
function distinctWaiting(waiting: readonly Joiner[], host: string): Joiner[] {
  const seen = new Set<string>([host]);
  const distinct: Joiner[] = [];
  for (const joiner of waiting) {
    if (seen.has(joiner.party)) continue;
    seen.add(joiner.party);
    distinct.push(joiner);
  }
  return distinct;
}

function start(command: Extract<CallCommand, { type: 'StartCall' }>): CallEvent[] {
  const { instanceId, itemId, organisationId, mode, host, hostPeerId, maxParticipants, now } = command;
  const hostJoins = hostPeerId === null ? [] : [joined(instanceId, host, hostPeerId, 'host', now)];
  // Group: the host counts towards max_participants; whoever does not fit stays waiting.
  const room = maxParticipants === null ? Number.POSITIVE_INFINITY : Math.max(0, maxParticipants - hostJoins.length);
  const admitted = mode === 'group' ? distinctWaiting(command.waiting, host).slice(0, room) : [];
  const ring = mode === 'instant' ? [...new Set(command.ring.filter((party) => party !== host))] : [];
  if (mode === 'instant' && ring.length === 0) throw new AppError('BAD_REQUEST', 'nobody to call: name participants', { errors: [{ path: 'participants', message: 'nobody to call' }] });
  const participants = mode === 'instant' ? ring : admitted.map((joiner) => joiner.party);
  const events: CallEvent[] = [{ type: 'CallStarted', data: { instanceId, itemId, organisationId, mode, host, participants, maxParticipants, startedAt: now } }];
  switch (mode) {
    case 'instant':
      return [...events, { type: 'CallRinging', data: { instanceId, parties: ring, by: host, ringingAt: now } }, ...hostJoins];
    case 'round-robin':
      events.push({ type: 'CallQueued', data: { instanceId, itemId, caller: host, queuedAt: now } }, ...hostJoins);
      if (command.callback) events.push({ type: 'CallbackRequested', data: { instanceId, party: host, requestedAt: now } });
      return events;
    case 'group':
      return [...events, ...hostJoins, ...admitted.map((joiner) => joined(instanceId, joiner.party, joiner.peerId, 'participant', now))];
  }
}

/** A party leaves, and what follows from it for the call. */
function leave(context: CallContext, state: CallState, entry: CallParty, command: Extract<CallCommand, { type: 'LeaveCall' }>): CallEvent[] {
  const { instanceId, host } = context;
  const { now } = command;
  const declined = entry.status === 'ringing';
  const events: CallEvent[] = [
    { type: 'CallLeft', data: { instanceId, party: entry.party, peerId: entry.peerId, reason: declined ? 'declined' : command.reason, leftAt: now } },
  ];
  const end = (reason: 'cancelled' | 'declined' | 'empty'): CallEvent => ({ type: 'CallEnded', data: { instanceId, itemId: context.itemId, reason, by: entry.party, endedAt: now } });
  const others = context.parties.filter((other) => other.party !== entry.party);
  switch (state) {
    case 'ringing':
      // Nobody accepted yet: the caller gone, or the last one rung saying no, ends it.
      if (entry.party === host) events.push(end('cancelled'));
      else if (!others.some((other) => other.status === 'ringing')) events.push(end('declined'));
      return events;
    case 'queued':
      // A caller who hangs up cancels; one whose socket dropped keeps its place in the queue.
      if (entry.party === host && command.reason === 'left') events.push(end('cancelled'));
      return events;
    case 'active':
      if (!others.some((other) => other.status === 'joined')) events.push(end('empty'));
      // The operator gone from a round-robin call with its caller still there: back to the queue.
      else if (context.mode === 'round-robin' && entry.party === context.operator) {
        events.push({ type: 'CallReturned', data: { instanceId, operator: entry.party, by: entry.party, returnedAt: now } });
      }
      return events;
    default:
      return events;
  }
}

/** Checks a command against the call's state and returns the events it causes (PROTOCOL.md section 8). */
export function decideCall(command: CallCommand, snapshot: CallSnapshot): CallEvent[] {
  const { context } = snapshot;
  const state = callStateOf(snapshot);
  if (command.type === 'StartCall') {
    if (state !== 'idle') throw new AppError('CONFLICT', `a call named ${command.instanceId} exists already`);
    return start(command);
  }
  if (state === 'idle') throw new AppError('NOT_FOUND', 'no such call', { errors: [{ path: 'instance', message: 'unknown call' }] });
  if (state === 'ended') {
    // What the gateway itself sends after the end (a room's late leave, a timer, a restart) changes nothing.
    if ((command.type === 'LeaveCall' && 'peerId' in command.by) || command.type === 'ExpireOffer' || command.type === 'RecoverCall') return [];
    throw new AppError('CONFLICT', 'this call has ended');
  }
  const { instanceId } = context;
  switch (command.type) {
    case 'AcceptCall': {
      const entry = partyIn(context, command.party);
      if (context.mode === 'group') {
        if (alreadyJoined(entry, command.peerId)) return [];
        assertRoomFor(context, 1);
        return [joined(instanceId, command.party, command.peerId, entry?.role ?? 'participant', command.now)];
      }
      if (alreadyJoined(entry, command.peerId)) return [];
      if (entry?.status !== 'ringing') throw forbidden('this call is not ringing you');
      assertRoomFor(context, 1);
      return [
        { type: 'CallAccepted', data: { instanceId, party: command.party, peerId: command.peerId, acceptedAt: command.now } },
        joined(instanceId, command.party, command.peerId, entry.role, command.now),
      ];
    }
    case 'JoinCall': {
      const entry = partyIn(context, command.party);
      if (alreadyJoined(entry, command.peerId)) return [];
      // Outside a group call only its own parties come back (a caller reconnecting); the rung accept.
      if (context.mode !== 'group' && entry === undefined) throw forbidden('you are not a party of this call');
      if (entry?.status === 'ringing') return decideCall({ type: 'AcceptCall', party: command.party, peerId: command.peerId, now: command.now }, snapshot);
      assertRoomFor(context, 1);
      return [joined(instanceId, command.party, command.peerId, entry?.role ?? command.role, command.now)];
    }
    case 'LeaveCall': {
      const { by } = command;
      const entry = 'party' in by ? partyIn(context, by.party) : context.parties.find((other) => other.status === 'joined' && other.peerId === by.peerId);
      if (!entry || entry.status === 'left') {
        if ('party' in by) throw forbidden('you are not in this call');
        return [];
      }
      return leave(context, state, entry, command);
    }
    case 'EndCall': {
      const entry = partyIn(context, command.by);
      if (!command.operator && entry?.status !== 'joined' && command.by !== context.host) throw forbidden('you are not in this call');
      return [{ type: 'CallEnded', data: { instanceId, itemId: context.itemId, reason: command.reason, by: command.by, endedAt: command.now } }];
    }
    case 'OfferCall': {
      if (state !== 'queued') throw new AppError('CONFLICT', 'this call is not waiting for an operator');
      const events: CallEvent[] = [];
      if (context.offer) {
        if (context.offer.expiresAt > command.now) throw new AppError('CONFLICT', 'this call is offered to an operator already');
        events.push({ type: 'CallOfferExpired', data: { instanceId, operator: context.offer.operator, reason: 'timeout' } });
      }
      events.push({ type: 'CallOffered', data: { instanceId, operator: command.operator, offeredAt: command.now, expiresAt: command.expiresAt } });
      return events;
    }
    case 'ExpireOffer': {
      const { offer } = context;
      if (!offer || offer.operator !== command.operator) return [];
      // A timer that fired early (a clock step) is ignored: the offer's own expiry decides.
      if (command.reason === 'timeout' && command.now < offer.expiresAt) return [];
      return [{ type: 'CallOfferExpired', data: { instanceId, operator: offer.operator, reason: command.reason } }];
    }
    case 'AssignCall': {
      if (context.mode !== 'round-robin') throw notRoundRobin();
      // Two operators taking one call: the mailbox orders them, the second finds it taken.
      if (state !== 'queued') throw new AppError('CONFLICT', 'this call was taken already');
      const caller = partyIn(context, context.host);
      const callerJoins = caller?.status !== 'joined' && command.callerPeerId !== null ? [joined(instanceId, context.host, command.callerPeerId, 'host', command.now)] : [];
      assertRoomFor(context, 1 + callerJoins.length);
      return [
        { type: 'CallAssigned', data: { instanceId, operator: command.operator, by: command.by, assignedAt: command.now } },
        joined(instanceId, command.operator, command.operatorPeerId, 'operator', command.now),
        ...callerJoins,
      ];
    }
    case 'RecallCall': {
      if (context.mode !== 'round-robin') throw notRoundRobin();
      const operator = context.operator;
      if (state !== 'active' || operator === null) throw new AppError('CONFLICT', 'this call is not taken by an operator');
      const entry = partyIn(context, operator);
      const events: CallEvent[] = [];
      if (entry?.status === 'joined') events.push({ type: 'CallLeft', data: { instanceId, party: operator, peerId: entry.peerId, reason: 'returned', leftAt: command.now } });
      events.push({ type: 'CallReturned', data: { instanceId, operator, by: command.by, returnedAt: command.now } });
      return events;
    }
    case 'RequestCallback': {
      if (context.mode !== 'round-robin') throw new AppError('BAD_REQUEST', 'callbacks are for round-robin calls');
      if (command.party !== context.host) throw forbidden('this is not your call');
      if (context.callback) return [];
      if (state !== 'queued') throw new AppError('CONFLICT', 'an operator has this call already');
      return [{ type: 'CallbackRequested', data: { instanceId, party: command.party, requestedAt: command.now } }];
    }
    case 'CallBack': {
      if (context.mode !== 'round-robin') throw notRoundRobin();
      if (state !== 'queued') throw new AppError('CONFLICT', 'this call was taken already');
      assertRoomFor(context, 1);
      const events: CallEvent[] = [
        { type: 'CallAssigned', data: { instanceId, operator: command.operator, by: command.operator, assignedAt: command.now } },
        joined(instanceId, command.operator, command.operatorPeerId, 'operator', command.now),
      ];
      if (partyIn(context, context.host)?.status !== 'joined') {
        events.push({ type: 'CallRinging', data: { instanceId, parties: [context.host], by: command.operator, ringingAt: command.now } });
      }
      return events;
    }
    case 'RecoverCall': {
      // Nobody is connected after a restart: every member is gone, and so is every live offer.
      const events: CallEvent[] = [];
      if (context.offer) events.push({ type: 'CallOfferExpired', data: { instanceId, operator: context.offer.operator, reason: 'gateway restarted' } });
      for (const entry of joinedIn(context)) {
        events.push({ type: 'CallLeft', data: { instanceId, party: entry.party, peerId: entry.peerId, reason: 'gateway restarted', leftAt: command.now } });
      }
      // A call in progress or ringing ends; a queued one keeps its place for the operators.
      if (state !== 'queued') events.push({ type: 'CallEnded', data: { instanceId, itemId: context.itemId, reason: 'gateway restarted', by: 'system', endedAt: command.now } });
      return events;
    }
  }
}
