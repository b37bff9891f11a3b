import type { RecordedEvent } from '../../../core/index.js';

/**
 * Events of one rtmp item's live stream (PROTOCOL.md section 8): one stream per item,
 * `stream-<itemId>`, so a key's rotation, the streaming service's activate and complete and
 * the scheduler's status changes are decided in order on one state. Times are epoch ms.
 *
 * No event holds a usable stream key in clear: StreamKeyIssued records the key's SHA-256
 * (what activate and complete are checked against) and the key sealed with the gateway's
 * secrets key (AES-256-GCM, data/keys/secrets.key), so `client_rtmp_get` can show it again to
 * whoever may stream; the operator's events view redacts the sealed field by its name.
 */

export const STREAM_CATEGORY = 'stream';

export type StreamStatus = 'rehearsing' | 'live' | 'recording' | 'complete';

/** What the clock alone says of an item's stream (itineraries' rtmpStatus): the phase of its schedule. */
export type SchedulePhase = StreamStatus;

/** How the streaming service proved itself: its stream key, or a credential holding `stream_rtmp`. */
export type StreamAuthentication = 'key' | 'credential';

export interface StreamKeyIssuedData {
  itemId: string;
  /** 1 for the first key; each new key revokes every earlier one. */
  generation: number;
  /** SHA-256 of the key, base64url. */
  keyHash: string;
  /** The key sealed with the secrets key (named so the events view redacts it). */
  sealedSecret: string;
  issuedAt: number;
}

export interface StreamActivatedData {
  itemId: string;
  activatedAt: number;
  via: StreamAuthentication;
}

export interface StreamCompletedData {
  itemId: string;
  /** Where the recording plays from, when the streaming service said. */
  recordingUrl: string | null;
  completedAt: number;
  via: StreamAuthentication;
}

export interface StreamStatusChangedData {
  itemId: string;
  status: StreamStatus;
  previous: StreamStatus;
  at: number;
  /** What moved it: the clock (a scheduler timer or a schedule change), an activation or a completion. */
  cause: 'schedule' | 'activation' | 'completion';
}

export type StreamEvent =
  | { type: 'StreamKeyIssued'; data: StreamKeyIssuedData }
  | { type: 'StreamActivated'; data: StreamActivatedData }
  | { type: 'StreamCompleted'; data: StreamCompletedData }
  | { type: 'StreamStatusChanged'; data: StreamStatusChangedData };

export type RecordedStreamEvent = RecordedEvent & StreamEvent;

/** Every StreamEvent type; `satisfies` fails to compile when the union gains one not listed. */
export const STREAM_EVENT_TYPES = Object.keys({
  StreamKeyIssued: true,
  StreamActivated: true,
  StreamCompleted: true,
  StreamStatusChanged: true,
} satisfies Record<StreamEvent['type'], true>) as readonly StreamEvent['type'][];

const EVENT_TYPES: ReadonlySet<string> = new Set(STREAM_EVENT_TYPES);
const STREAM_PREFIX = `${STREAM_CATEGORY}-`;

/** A stream's event: on a `stream-<itemId>` stream and of one of its types (the log is the only writer). */
export function isStreamEvent(event: RecordedEvent): event is RecordedStreamEvent {
  return EVENT_TYPES.has(event.type) && event.streamId.startsWith(STREAM_PREFIX);
}
