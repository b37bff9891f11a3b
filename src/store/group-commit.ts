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
 * Lets another party hold commits back for a moment: the WAL checkpointer, whose rewinding
 * checkpoint (RESTART) needs the write lock and would otherwise starve behind back-to-back commits.
 */
export interface CommitGate {
  /**
   * True while commits should wait. Asked only between two transactions (`flush` commits
   * synchronously), so the gate may take the call as word that the write lock is free.
   */
  held(): boolean;
  /** Resolves when the gate opens, or after a bounded wait whatever happens (a dead worker). */
  opened(): Promise<void>;
}

export type AppendOutcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

/**
 * Makes what was committed so far durable, off the event loop (the WAL's fdatasync in a worker):
 * calls `done` once every commit made before the call is on disk, or with the failure.
 */
export type DurabilityBarrier = (done: (error: Error | undefined) => void) => void;

interface CommittedBatch {
  batch: readonly PendingAppend[];
  outcomes: AppendOutcome[];
}

/**
 * Group commit shared by both stores. Appends that arrive in the same event-loop turn are
 * queued and committed together in one transaction on the next `setImmediate`; each caller's
 * promise settles only after that commit, so an acknowledgement always means "on disk".
 * One append failing its version check fails alone; a failed COMMIT fails the whole batch.
 *
 * With a durability barrier (the SQLite log: COMMIT without fsync, then the WAL's fdatasync in
 * a worker), the fsync leaves the event loop: while a sync runs, frames are decoded and
 * commands decided, and the appends they make wait; when it returns, they commit as one
 * transaction and the next sync starts. Callers and the
 * committed listeners (pushes) hear of an append only after its sync. A failed sync is fatal
 * to the log (after a failed fsync the kernel may have dropped the dirty pages, so retrying
 * proves nothing): every waiting and later append fails UNAVAILABLE until a restart, which
 * reads back what the disk really holds.
 */
export class GroupCommitter {
  private queue: PendingAppend[] = [];
  private scheduled = false;
  private closed = false;
  private readonly listeners = new Set<(events: readonly RecordedEvent[]) => void>();
  /** Committed, not yet covered by a sync: the next barrier's group. */
  private unsynced: CommittedBatch[] = [];
  private barrierRunning = false;
  /** Set by a failed sync: the log takes no more appends. */
  private syncFailure: Error | undefined;
  private drainedListeners: (() => void)[] = [];

  constructor(
    private readonly commitBatch: (batch: readonly PendingAppend[]) => AppendOutcome[],
    private readonly maxBatch: number,
    private readonly observer: StoreObserver | undefined,
    private readonly gate?: CommitGate,
    private readonly barrier?: DurabilityBarrier,
  ) {}

  append(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new AppError('UNAVAILABLE', 'event log is closed'));
    if (this.syncFailure) return Promise.reject(this.unavailableAfterSyncFailure());
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
    // A sync in flight: what arrives meanwhile commits as one transaction once it returns (see
    // startBarrier). Committing at once would turn 20,000 appends/s into thousands of two-append
    // transactions, each writing its own WAL pages, for acknowledgements no sooner: they would
    // wait for the next sync anyway. `close()` drains regardless.
    if (!this.closed && this.barrierRunning) {
      this.scheduled = true;
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

  /** Whether a sync failed: the log is unwritable until the process restarts. */
  get failed(): boolean {
    return this.syncFailure !== undefined;
  }

  /** Resolves once nothing committed is still waiting for its sync (shutdown). */
  drained(): Promise<void> {
    if (!this.barrierRunning && this.unsynced.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainedListeners.push(resolve));
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
    if (!this.barrier) {
      this.acknowledge(batch, outcomes);
      return;
    }
    this.unsynced.push({ batch, outcomes });
    this.startBarrier();
  }

  private startBarrier(): void {
    if (this.barrierRunning) return;
    if (this.unsynced.length === 0) {
      for (const resolve of this.drainedListeners.splice(0)) resolve();
      return;
    }
    const group = this.unsynced;
    this.unsynced = [];
    this.barrierRunning = true;
    this.barrier!((error) => {
      this.barrierRunning = false;
      if (error) {
        this.syncFailure ??= error;
        const failure = this.unavailableAfterSyncFailure();
        for (const { batch, outcomes } of [...group, ...this.unsynced.splice(0)]) {
          batch.forEach((pending, index) => {
            const outcome = outcomes[index]!;
            pending.reject(outcome.ok ? failure : outcome.error);
          });
        }
      } else {
        for (const { batch, outcomes } of group) this.acknowledge(batch, outcomes);
      }
      // Appends held back while this sync ran commit now, and start the next sync.
      if (this.scheduled) this.flush();
      this.startBarrier();
    });
  }

  private unavailableAfterSyncFailure(): AppError {
    const failure = new AppError('UNAVAILABLE', 'event log write failed');
    failure.cause = this.syncFailure;
    return failure;
  }

  private acknowledge(batch: readonly PendingAppend[], outcomes: readonly AppendOutcome[]): void {
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
