import type { RecordedEvent } from '../../../core/index.js';
import type { CallMode, CallRole } from '../../../protocol/topics/calls.js';

/**
 * Events of one call (PROTOCOL.md section 8): stream `call-<instanceId>`. A call's parties
 * are named by `party`: a user id, `guest:<invitationId>` or `organisation:<id>` (the
 * organisation's own credential). A party is in the call's room through one connection at a
 * time (`peerId`); the room (section 5) follows these events, and the relay checks the room.
 * Times are epoch milliseconds.
 */

export const CALL_CATEGORY = 'call';

export type { CallMode, CallRole };

export type CallLeaveReason = 'left' | 'declined' | 'disconnected' | 'returned' | 'refused' | 'gateway restarted';
export type CallEndReason = 'ended' | 'empty' | 'cancelled' | 'declined' | 'room closed' | 'item removed' | 'gateway restarted';
export type OfferEndReason = 'timeout' | 'gateway restarted';

export interface CallStartedData {
  instanceId: string;
  itemId: string;
  organisationId: string;
  mode: CallMode;
  /** Who started it: the caller (instant, round-robin) or the host operator (group). */
  host: string;
  /** Whom it rings (instant) or lets in (group) at the start. */
  participants: string[];
  /** The item's max_participants when the call started: later edits do not change a running call. */
  maxParticipants: number | null;
  startedAt: number;
}

export type CallEvent =
  | { type: 'CallStarted'; data: CallStartedData }
  | { type: 'CallRinging'; data: { instanceId: string; parties: string[]; by: string; ringingAt: number } }
  | { type: 'CallAccepted'; data: { instanceId: string; party: string; peerId: string; acceptedAt: number } }
  | { type: 'CallJoined'; data: { instanceId: string; party: string; peerId: string; role: CallRole; joinedAt: number } }
  | { type: 'CallLeft'; data: { instanceId: string; party: string; peerId: string | null; reason: CallLeaveReason; leftAt: number } }
  | { type: 'CallQueued'; data: { instanceId: string; itemId: string; caller: string; queuedAt: number } }
  | { type: 'CallOffered'; data: { instanceId: string; operator: string; offeredAt: number; expiresAt: number } }
  | { type: 'CallOfferExpired'; data: { instanceId: string; operator: string; reason: OfferEndReason } }
  | { type: 'CallAssigned'; data: { instanceId: string; operator: string; by: string; assignedAt: number } }
  | { type: 'CallReturned'; data: { instanceId: string; operator: string; by: string; returnedAt: number } }
  | { type: 'CallbackRequested'; data: { instanceId: string; party: string; requestedAt: number } }
  | { type: 'CallEnded'; data: { instanceId: string; itemId: string; reason: CallEndReason; by: string; endedAt: number } };

export type RecordedCallEvent = RecordedEvent & CallEvent;

/** Every CallEvent type; `satisfies` fails to compile when the union gains one not listed. */
export const CALL_EVENT_TYPES = Object.keys({
  CallStarted: true,
  CallRinging: true,
  CallAccepted: true,
  CallJoined: true,
  CallLeft: true,
  CallQueued: true,
  CallOffered: true,
  CallOfferExpired: true,
  CallAssigned: true,
  CallReturned: true,
  CallbackRequested: true,
  CallEnded: true,
} satisfies Record<CallEvent['type'], true>) as readonly CallEvent['type'][];

const EVENT_TYPES: ReadonlySet<string> = new Set(CALL_EVENT_TYPES);
const STREAM_PREFIX = `${CALL_CATEGORY}-`;

/** A call's event: on a `call-<instance>` stream and of one of its types (the log is the only writer). */
export function isCallEvent(event: RecordedEvent): event is RecordedCallEvent {
  return EVENT_TYPES.has(event.type) && event.streamId.startsWith(STREAM_PREFIX);
}
