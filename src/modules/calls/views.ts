import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { CallView } from '../../protocol/topics/calls.js';
import type { CallRecord } from './projection.js';

/** Display names of parties, for answers and pushes (users by username; others have none here). */
export type NameOf = (party: string) => string | null;

export interface ViewOptions {
  nameOf: NameOf;
  /** Place in its item's queue (1 = next), for queued calls. */
  queuePosition?: number | null;
  /** The consumer whose view this is: their own place in the call is shown as `you`. */
  viewer?: string;
  /** Operators see where a queued call's offer stands. */
  operatorView?: boolean;
}

/** A call as answers show it (PROTOCOL.md section 8): times ISO 8601 UTC, parties by id and name. */
export function callView(call: CallRecord, options: ViewOptions): CallView {
  const view: CallView = {
    instance: call.instanceId,
    item: call.itemId,
    mode: call.mode,
    status: call.status,
    room: call.instanceId,
    host: call.host,
    operator: call.operator,
    participants: call.parties.map((party) => ({ user: party.party, name: options.nameOf(party.party), role: party.role, status: party.status })),
    max_participants: call.maxParticipants,
    callback: call.callback,
    queue_position: call.status === 'queued' ? (options.queuePosition ?? null) : null,
    started_at: formatExtreamDateTime(call.startedAt),
    ended_at: formatExtreamDateTime(call.endedAt),
    reason: call.endReason,
  };
  if (options.operatorView) {
    view.offered_to = call.offeredTo;
    view.offer_expires_at = formatExtreamDateTime(call.offerExpiresAt);
  }
  if (options.viewer !== undefined) {
    const own = call.parties.find((party) => party.party === options.viewer);
    view.you = own ? { role: own.role, status: own.status } : call.host === options.viewer ? { role: 'host', status: 'left' } : null;
  }
  return view;
}

/** Queue positions of an item's queued calls, from its queue in order. */
export const queuePositions = (queue: readonly CallRecord[]): Map<string, number> => new Map(queue.map((call, index) => [call.instanceId, index + 1]));
