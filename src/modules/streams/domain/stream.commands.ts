import type { SchedulePhase } from './stream.events.js';

/**
 * Commands carry `now` and the schedule's phase at `now` (computed by the service from the
 * item's dates): domain code never reads the clock or the itineraries read model.
 * `presentedKeyHash` is the SHA-256 of the key the streaming service sent, or null when it
 * authenticated with a credential holding `stream_rtmp` (checked before the command).
 */
export type StreamCommand =
  /** `replace` false: only when the stream has no key yet (two first asks at once get one key, not two). */
  | { type: 'IssueStreamKey'; itemId: string; keyHash: string; sealedSecret: string; replace: boolean; now: number }
  | { type: 'ActivateStream'; itemId: string; phase: SchedulePhase; presentedKeyHash: string | null; now: number }
  | { type: 'CompleteStream'; itemId: string; phase: SchedulePhase; presentedKeyHash: string | null; recordingUrl: string | null; now: number }
  | { type: 'RecordStreamStatus'; itemId: string; phase: SchedulePhase; now: number };
