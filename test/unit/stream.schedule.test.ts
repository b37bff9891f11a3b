import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rtmpStatus } from '../../src/modules/itineraries/index.js';
import { LIVE_WINDOW_BEFORE_START_MS, nextPhaseChangeAt } from '../../src/modules/streams/schedule.js';

const START = Date.UTC(2030, 4, 4, 10, 0);
const END = Date.UTC(2030, 4, 4, 11, 0);
const RECORDING_SECONDS = 3600;
const item = { startDate: START, endDate: END };

describe('stream schedule', () => {
  it('names the next boundary of the itineraries module phases', () => {
    expect(nextPhaseChangeAt(item, START - 2 * LIVE_WINDOW_BEFORE_START_MS, RECORDING_SECONDS)).toBe(START - LIVE_WINDOW_BEFORE_START_MS);
    expect(nextPhaseChangeAt(item, START - LIVE_WINDOW_BEFORE_START_MS, RECORDING_SECONDS)).toBe(END);
    expect(nextPhaseChangeAt(item, END, RECORDING_SECONDS)).toBe(END + RECORDING_SECONDS * 1000);
    expect(nextPhaseChangeAt(item, END + RECORDING_SECONDS * 1000, RECORDING_SECONDS)).toBeUndefined();
    expect(nextPhaseChangeAt({ startDate: null, endDate: null }, START, RECORDING_SECONDS)).toBeUndefined();
  });

  it('agrees with rtmpStatus: the phase is constant until the boundary it names, and changes there', () => {
    fc.assert(
      fc.property(fc.integer({ min: START - 3 * 3600_000, max: END + 2 * RECORDING_SECONDS * 1000 }), fc.integer({ min: 0, max: 7200 }), (now, recordingSeconds) => {
        const next = nextPhaseChangeAt(item, now, recordingSeconds);
        const phase = rtmpStatus(item, now, recordingSeconds);
        if (next === undefined) {
          expect(phase).toBe('complete');
          return;
        }
        expect(next).toBeGreaterThan(now);
        expect(rtmpStatus(item, next - 1, recordingSeconds)).toBe(phase);
        expect(rtmpStatus(item, next, recordingSeconds)).not.toBe(phase);
      }),
    );
  });
});
