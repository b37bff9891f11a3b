import type { Database } from 'better-sqlite3';
import { ensureCheckpointTable } from './schema.js';
import type { Projection, RecordedEvent } from './types.js';

const BATCH = 500;
const BATCH_DELAY_MS = 50;

/**
 * Feeds async projections from their stored checkpoints. Each batch of events and the new
 * checkpoint are written in one transaction, so a crash replays at most an uncommitted batch
 * and a read model never counts an event twice. Runs after every commit and on a timer, the
 * timer catching events other processes (the CLI) appended.
 */
export class AsyncProjector {
  private scheduled = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly getCheckpoint;
  private readonly setCheckpoint;

  constructor(
    private readonly db: Database,
    private readonly projections: readonly Projection[],
    private readonly readAfter: (after: number, limit: number) => RecordedEvent[],
    pollMs: number,
    private readonly onError: (projection: string, error: unknown) => void = () => {},
  ) {
    ensureCheckpointTable(db);
    this.getCheckpoint = db.prepare('SELECT position FROM projection_checkpoints WHERE name = ?').pluck();
    this.setCheckpoint = db.prepare(
      'INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position',
    );
    if (projections.length > 0 && pollMs > 0) {
      this.timer = setInterval(() => this.schedule(), pollMs);
      this.timer.unref();
    }
  }

  /**
   * Runs the projections a little later, not at once: each run writes its checkpoint in a
   * transaction of its own (an fsync), and running after every group commit would double the
   * commits of a busy log. Commits within `BATCH_DELAY_MS` share one run.
   */
  schedule(): void {
    if (this.scheduled || this.projections.length === 0) return;
    this.scheduled = true;
    const run = setTimeout(() => {
      this.scheduled = false;
      if (this.db.open) this.runOnce();
    }, BATCH_DELAY_MS);
    run.unref();
  }

  /** Catches every async projection up to the head of the log. */
  runOnce(): void {
    if (!this.db.open) return;
    for (const projection of this.projections) {
      try {
        this.catchUp(projection);
      } catch (error) {
        // The projection stays at its checkpoint and retries on the next run; others go on.
        this.onError(projection.name, error);
      }
    }
  }

  private catchUp(projection: Projection): void {
    // The checkpoint is read inside the write transaction: should two processes project the
    // same database (server and CLI), the second waits and sees the first one's checkpoint
    // instead of applying the same events twice.
    const step = this.db.transaction((): number => {
      const from = (this.getCheckpoint.get(projection.name) as number | undefined) ?? 0;
      const events = this.readAfter(from, BATCH);
      for (const event of events) projection.apply(this.db, event);
      if (events.length > 0) this.setCheckpoint.run(projection.name, events[events.length - 1]!.position);
      return events.length;
    });
    while (step.immediate() === BATCH) {
      // a full batch: there may be more
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
