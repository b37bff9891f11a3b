import { afterEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../src/runtime/scheduler.js';

/** Timers as commands: the one-shot timer's reach beyond what setTimeout can wait. */
describe('Scheduler.at', () => {
  afterEach(() => vi.useRealTimers());

  const DAY = 86_400_000;
  const logger = { error: () => undefined };

  it('fires a time 30 days off then, not at once (setTimeout alone fires delays past 2^31 - 1 ms at once)', () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
    const scheduler = new Scheduler({ now: () => Date.now() }, logger);
    const fired: number[] = [];
    const at = Date.now() + 30 * DAY;
    scheduler.at('far', at, (now) => fired.push(now));
    vi.advanceTimersByTime(DAY);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(25 * DAY);
    expect(fired).toEqual([]);
    expect(scheduler.size).toBe(1);
    vi.advanceTimersByTime(4 * DAY);
    expect(fired).toEqual([at]);
    expect(scheduler.size).toBe(0);
  });

  it('a far timer can still be cancelled or replaced by its key', () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
    const scheduler = new Scheduler({ now: () => Date.now() }, logger);
    const fired: string[] = [];
    scheduler.at('far', Date.now() + 40 * DAY, () => fired.push('first'));
    vi.advanceTimersByTime(26 * DAY);
    scheduler.at('far', Date.now() + DAY, () => fired.push('second'));
    vi.advanceTimersByTime(20 * DAY);
    expect(fired).toEqual(['second']);
    scheduler.at('gone', Date.now() + 50 * DAY, () => fired.push('gone'));
    vi.advanceTimersByTime(30 * DAY);
    scheduler.cancel('gone');
    vi.advanceTimersByTime(30 * DAY);
    expect(fired).toEqual(['second']);
  });
});
