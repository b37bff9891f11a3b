import type { CallEndReason, CallLeaveReason, CallMode, CallRole, OfferEndReason } from './call.events.js';

/** A party and the connection it joins through. */
export interface Joiner {
  party: string;
  peerId: string;
}

/**
 * Commands carry `now`: domain code never reads the clock. The service resolves who is who
 * (parties, operators, connections) before a command; decide checks it against the call.
 */
export type CallCommand =
  | {
      type: 'StartCall';
      instanceId: string;
      itemId: string;
      organisationId: string;
      mode: CallMode;
      host: string;
      /** The host's connection; null when it has none (a command over HTTP). */
      hostPeerId: string | null;
      /** Instant: whom to ring. */
      ring: string[];
      /** Group: who is waiting on the item, in the order they came; let in up to the capacity. */
      waiting: Joiner[];
      maxParticipants: number | null;
      /** Round-robin: the caller asks to be called back rather than wait. */
      callback: boolean;
      now: number;
    }
  | { type: 'AcceptCall'; party: string; peerId: string; now: number }
  | { type: 'JoinCall'; party: string; peerId: string; role: CallRole; now: number }
  /** By party: a member leaves (refused if it is not in the call). By peer: its room membership ended (never refused). */
  | { type: 'LeaveCall'; by: { party: string } | { peerId: string }; reason: CallLeaveReason; now: number }
  /** `operator`: the actor operates the item's calls, and may end any of them. */
  | { type: 'EndCall'; by: string; operator: boolean; reason: CallEndReason; now: number }
  | { type: 'OfferCall'; operator: string; expiresAt: number; now: number }
  | { type: 'ExpireOffer'; operator: string; reason: OfferEndReason; now: number }
  /** An operator takes the call (activate: `by` is the operator) or is handed it (assign). */
  | { type: 'AssignCall'; operator: string; operatorPeerId: string; callerPeerId: string | null; by: string; now: number }
  | { type: 'RecallCall'; by: string; now: number }
  | { type: 'RequestCallback'; party: string; now: number }
  /** An operator calls the consumer of a queued call back: it joins, and the caller is rung unless in the room already. */
  | { type: 'CallBack'; operator: string; operatorPeerId: string; now: number }
  /** At start: nobody is connected any more. */
  | { type: 'RecoverCall'; now: number };
