import type { SchedulePhase, StreamStatus } from './stream.events.js';

/**
 * An rtmp item's status from its schedule's phase and what the streaming service said
 * (PROTOCOL.md section 8, as Switchyard reads it):
 *
 * - complete: the streaming service completed it (final), or the recording window after the
 *   end has passed;
 * - recording: after the end, until complete;
 * - live: inside the live window (30 minutes before the start until the end; always, for an
 *   item without dates) once the broadcaster is on air (activated);
 * - rehearsing: before the live window, activated or not (a rehearsal only the crew watches),
 *   and inside it until the broadcaster goes on air: the audience has nothing to watch yet.
 */
export function streamStatus(phase: SchedulePhase, stream: { activatedAt: number | null; completedAt: number | null }): StreamStatus {
  if (stream.completedAt !== null || phase === 'complete') return 'complete';
  if (phase === 'recording') return 'recording';
  if (phase === 'live' && stream.activatedAt !== null) return 'live';
  return 'rehearsing';
}
