/**
 * Reconnect delays: exponential backoff with full jitter (the AWS Architecture Blog's "Full
 * Jitter"): attempt n waits a uniformly random time in [0, min(maxMs, baseMs * 2^(n-1))).
 * Spreading the retries of many clients over the whole window keeps a gateway that just came
 * back from being hit by every client in the same instant.
 */
export interface BackoffOptions {
  /** The first attempt's window, in ms. */
  baseMs: number;
  /** The largest window, in ms. */
  maxMs: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const window = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  return Math.floor(random() * window);
}
