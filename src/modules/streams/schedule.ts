import { rtmpStatus, type JoinedItem } from '../itineraries/index.js';
import type { SchedulePhase } from './domain/index.js';

/**
 * When an rtmp item's status changes by the clock alone. The phases are the itineraries
 * module's (`rtmpStatus`: rehearsing, live from 30 minutes before the start, recording for
 * `recordingSeconds` after the end, then complete), so the join answer and these timers read
 * one definition; this file only knows where its boundaries lie, and a unit test checks the
 * two agree at each of them.
 */

/** The live window opens this long before the start (PROTOCOL.md section 8). */
export const LIVE_WINDOW_BEFORE_START_MS = 30 * 60_000;

export type Schedule = Pick<JoinedItem, 'startDate' | 'endDate'>;

export const phaseAt = (item: Schedule, now: number, recordingSeconds: number): SchedulePhase => rtmpStatus(item, now, recordingSeconds);

/**
 * The first time after `now` at which the item's phase changes; undefined when it never will
 * (no dates: live for ever; or the recording window has passed).
 */
export function nextPhaseChangeAt(item: Schedule, now: number, recordingSeconds: number): number | undefined {
  if (item.startDate === null || item.endDate === null) return undefined;
  const boundaries = [item.startDate - LIVE_WINDOW_BEFORE_START_MS, item.endDate, item.endDate + recordingSeconds * 1000];
  return boundaries.find((at) => at > now);
}
