import type { RecordedEvent } from '../../../core/index.js';

/**
 * Events of one user's presence settings (PROTOCOL.md section 8): one stream per user,
 * `presence-<userId>`. Who is online is not in the log (it is which sockets are open, and dies
 * with them); whether a user lets others see them online is a choice that outlives sockets and
 * restarts, so it is. Times are epoch milliseconds.
 */

export const PRESENCE_CATEGORY = 'presence';

export interface PresenceVisibilitySetData {
  userId: string;
  /** False: the user is left out of online lists and their joins and leaves are not pushed. */
  visible: boolean;
  setAt: number;
}

export type PresenceEvent = { type: 'PresenceVisibilitySet'; data: PresenceVisibilitySetData };

export type RecordedPresenceEvent = RecordedEvent & PresenceEvent;

/** Every PresenceEvent type; `satisfies` fails to compile when the union gains one not listed. */
export const PRESENCE_EVENT_TYPES = Object.keys({
  PresenceVisibilitySet: true,
} satisfies Record<PresenceEvent['type'], true>) as readonly PresenceEvent['type'][];

const EVENT_TYPES: ReadonlySet<string> = new Set(PRESENCE_EVENT_TYPES);
const STREAM_PREFIX = `${PRESENCE_CATEGORY}-`;

/** A presence event: on a `presence-<userId>` stream and of one of its types (the log is the only writer). */
export function isPresenceEvent(event: RecordedEvent): event is RecordedPresenceEvent {
  return EVENT_TYPES.has(event.type) && event.streamId.startsWith(STREAM_PREFIX);
}
