import { assign, setup } from 'xstate';
import type { CallPartyStatus } from '../../../protocol/topics/calls.js';
import type { CallEndReason, CallEvent, CallMode, CallRole } from './call.events.js';

export interface CallParty {
  party: string;
  role: CallRole;
  status: CallPartyStatus;
  /** The connection the party is in the room through, while joined. */
  peerId: string | null;
}

export interface CallContext {
  instanceId: string;
  itemId: string;
  organisationId: string;
  mode: CallMode;
  host: string;
  maxParticipants: number | null;
  /** In the order they were first rung or joined. */
  parties: CallParty[];
  /** The operator who took a round-robin call, while it is taken. */
  operator: string | null;
  /** The queued call's live offer to one operator. */
  offer: { operator: string; expiresAt: number } | null;
  /** Operators offered this call, least recently first: the round-robin's rotation. */
  offeredTo: string[];
  callback: boolean;
  queuedAt: number | null;
  startedAt: number;
  endedAt: number | null;
  endReason: CallEndReason | null;
}

const initial: CallContext = {
  instanceId: '',
  itemId: '',
  organisationId: '',
  mode: 'instant',
  host: '',
  maxParticipants: null,
  parties: [],
  operator: null,
  offer: null,
  offeredTo: [],
  callback: false,
  queuedAt: null,
  startedAt: 0,
  endedAt: null,
  endReason: null,
};

/** The parties with `party` set to `change` (added at the end when new). */
function withParty(parties: readonly CallParty[], party: string, change: Omit<CallParty, 'party'>): CallParty[] {
  const existing = parties.some((entry) => entry.party === party);
  if (!existing) return [...parties, { party, ...change }];
  return parties.map((entry) => (entry.party === party ? { party, ...change } : entry));
}

const roleOf = (parties: readonly CallParty[], party: string, fallback: CallRole): CallRole => parties.find((entry) => entry.party === party)?.role ?? fallback;

/**
 * A call's evolve: idle -> ringing (instant) | queued (round-robin) | active (group); ringing
 * -> active on the first accept; queued -> active when an operator takes it, and back on a
 * recall; any -> ended, final (the runtime then drops the actor).
 */
export const callMachine = setup({
  types: { context: {} as CallContext, events: {} as CallEvent },
  guards: {
    instant: ({ event }) => event.type === 'CallStarted' && event.data.mode === 'instant',
    group: ({ event }) => event.type === 'CallStarted' && event.data.mode === 'group',
  },
  actions: {
    ring: assign(({ context, event }) => {
      if (event.type !== 'CallRinging') return {};
      let parties = context.parties;
      for (const party of event.data.parties) parties = withParty(parties, party, { role: roleOf(parties, party, 'participant'), status: 'ringing', peerId: null });
      return { parties };
    }),
    join: assign(({ context, event }) => {
      if (event.type !== 'CallJoined') return {};
      return { parties: withParty(context.parties, event.data.party, { role: event.data.role, status: 'joined', peerId: event.data.peerId }) };
    }),
    leave: assign(({ context, event }) => {
      if (event.type !== 'CallLeft') return {};
      return { parties: withParty(context.parties, event.data.party, { role: roleOf(context.parties, event.data.party, 'participant'), status: 'left', peerId: null }) };
    }),
    callback: assign({ callback: true }),
    start: assign(({ event }) => {
      if (event.type !== 'CallStarted') return {};
      const { instanceId, itemId, organisationId, mode, host, maxParticipants, startedAt } = event.data;
      return { ...initial, instanceId, itemId, organisationId, mode, host, maxParticipants, startedAt };
    }),
    end: assign(({ context, event }) => {
      if (event.type !== 'CallEnded') return {};
      return {
        parties: context.parties.map((entry) => ({ ...entry, status: 'left' as const, peerId: null })),
        offer: null,
        endedAt: event.data.endedAt,
        endReason: event.data.reason,
      };
    }),
  },
}).createMachine({
  id: 'call',
  initial: 'idle',
  context: initial,
  on: {
    CallRinging: { actions: 'ring' },
    CallJoined: { actions: 'join' },
    CallLeft: { actions: 'leave' },
    CallbackRequested: { actions: 'callback' },
    CallEnded: { target: '.ended', actions: 'end' },
  },
  states: {
    idle: {
      on: {
        CallStarted: [
          { guard: 'instant', target: 'ringing', actions: 'start' },
          { guard: 'group', target: 'active', actions: 'start' },
          { target: 'queued', actions: 'start' },
        ],
      },
    },
    ringing: {
      on: { CallAccepted: { target: 'active' } },
    },
    queued: {
      on: {
        CallQueued: { actions: assign(({ event }) => ({ queuedAt: event.data.queuedAt })) },
        CallOffered: {
          actions: assign(({ context, event }) => ({
            offer: { operator: event.data.operator, expiresAt: event.data.expiresAt },
            offeredTo: [...context.offeredTo.filter((operator) => operator !== event.data.operator), event.data.operator],
          })),
        },
        CallOfferExpired: { actions: assign({ offer: null }) },
        CallAssigned: { target: 'active', actions: assign(({ event }) => ({ operator: event.data.operator, offer: null })) },
      },
    },
    active: {
      on: {
        // A consumer's accept of an operator's call-back, or a late participant's.
        CallAccepted: {},
        CallReturned: { target: 'queued', actions: assign({ operator: null }) },
      },
    },
    ended: { type: 'final' },
  },
});
