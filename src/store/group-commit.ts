import { performance } from 'node:perf_hooks';
import { AppError } from '../core/index.js';
import { serializeEvents, validateExpectedVersion, type SerializedEvent } from './expected-version.js';
import type { AppendResult, ExpectedVersion, NewEvent, RecordedEvent, StoreObserver } from './types.js';

export interface PendingAppend {
  streamId: string;
  events: readonly NewEvent[];
  serialized: SerializedEvent[];
  expected: ExpectedVersion;
  enqueuedAt: number;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/**
 * Lets another party hold commits back for a moment: the WAL checkpointer, whose TRUNCATE
 * needs the write lock and would otherwise starve behind back-to-back commits.
 */
export interface CommitGate {
  /** True while commits should wait. */
  held(): boolean;
  /** Resolves when the gate opens, or after a bounded wait whatever happens (a dead worker). */
  opened(): Promise<void>;
}

export type AppendOutcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

/**
 * Group commit shared by both stores. Appends that arrive in the same event-loop turn are
 * queued and committed together in one transaction on the next `setImmediate`; each caller's
 * promise settles only after that commit, so an acknowledgement always means "on disk".
 * One append failing its version check fails alone; a failed COMMIT fails the whole batch.
 */
export class GroupCommitter {
  private queue: PendingAppend[] = [];
  private scheduled = false;
  private closed = false;
  private readonly listeners = new Set<(events: readonly RecordedEvent[]) => void>();

  constructor(
    private readonly commitBatch: (batch: readonly PendingAppend[]) => AppendOutcome[],
    private readonly maxBatch: number,
    private readonly observer: StoreObserver | undefined,
    private readonly gate?: CommitGate,
  ) {}

  append(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new AppError('UNAVAILABLE', 'event log is closed'));
    let serialized: SerializedEvent[];
    try {
      validateExpectedVersion(expected);
      serialized = serializeEvents(streamId, events);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ streamId, events, serialized, expected, enqueuedAt: performance.now(), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  onCommitted(listener: (events: readonly RecordedEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Commits everything queued so far. Public so `close()` can drain synchronously. */
  readonly flush = (): void => {
    this.scheduled = false;
    // Held: the queue keeps growing and commits as one larger batch once the gate opens; the
    // event loop is not blocked meanwhile. `close()` drains regardless (its commit then waits on
    // SQLite's busy timeout instead).
    if (!this.closed && this.queue.length > 0 && this.gate?.held()) {
      this.scheduled = true;
      void this.gate.opened().then(this.flush);
      return;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
      this.settle(batch);
    }
  };

  get pending(): number {
    return this.queue.length;
  }

  /** Refuses new appends; what is queued still commits on the next flush. */
  close(): void {
    this.closed = true;
  }

  private settle(batch: readonly PendingAppend[]): void {
    let outcomes: AppendOutcome[];
    try {
      outcomes = this.commitBatch(batch);
    } catch (error) {
      // The transaction as a whole failed (disk full, I/O error): nobody was committed.
      const failure = new AppError('UNAVAILABLE', 'event log write failed');
      failure.cause = error;
      for (const pending of batch) pending.reject(failure);
      return;
    }
    const committedAt = performance.now();
    const latencies: number[] = [];
    const committed: RecordedEvent[] = [];
    for (let index = 0; index < batch.length; index++) {
      const outcome = outcomes[index]!;
      const pending = batch[index]!;
      if (outcome.ok) {
        latencies.push((committedAt - pending.enqueuedAt) / 1000);
        for (const event of outcome.result.events) committed.push(event);
        pending.resolve(outcome.result);
      } else {
        pending.reject(outcome.error);
      }
    }
    if (committed.length === 0) return;
    this.observer?.committed?.(latencies, committed.length);
    for (const listener of this.listeners) {
      try {
        listener(committed);
      } catch {
        // A listener's bug must not undo or block a commit that already happened.
      }
    }
  }
}
