/**
 * Time is passed in, never read, by domain code (DESIGN.md house rule 1). The edge owns a
 * Clock and stamps `now` on every command; tests use a fixed or stepping clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function fixedClock(start: number, stepMs = 0): Clock {
  let current = start;
  return {
    now() {
      const value = current;
      current += stepMs;
      return value;
    },
  };
}
