/**
 * Waiting on conditions instead of sleeping (DESIGN.md rule 8). `until` re-checks a
 * condition on every turn of the event loop (setImmediate, so commits and projector runs
 * scheduled with setImmediate get their turn) and gives up after a generous bound that only
 * a broken implementation ever reaches; the bound is a hang guard, not a timing assertion.
 */
export async function until(condition: () => boolean, description: string, maxTurns = 200_000): Promise<void> {
  for (let turn = 0; turn < maxTurns; turn++) {
    if (condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`condition never held: ${description}`);
}

/** A promise with its resolve/reject exposed, to open gates by hand in ordering tests. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles every promise and splits them, keeping the order of the input. */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<{
  fulfilled: T[];
  rejected: unknown[];
  outcomes: PromiseSettledResult<T>[];
}> {
  const outcomes = await Promise.allSettled(promises);
  const fulfilled: T[] = [];
  const rejected: unknown[] = [];
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') fulfilled.push(outcome.value);
    else rejected.push(outcome.reason);
  }
  return { fulfilled, rejected, outcomes };
}
