import type { MessageSource } from '../cluster/index.js';
import type { RecordedEvent } from '../core/index.js';
import type { CheckpointStore } from '../store/index.js';

export type { CheckpointStore } from '../store/index.js';

/**
 * A reaction to the log: a projector (an async read model) or a reactor (pushes, socket
 * closes, directory updates, later mails and fan-out). Every consumer of the log is one of
 * these, fed by one MessageSource, instead of each area polling or subscribing its own way.
 */
export interface Processor {
  readonly name: string;
  /**
   * - `now`: live reactions (pushes to sockets, closes): they start at the head of the log
   *   when the process starts, since a reaction to an event from before the start has no
   *   socket left to act on; they keep no checkpoint.
   * - `checkpoint`: resumable work (async read models, mails): they start after their stored
   *   checkpoint (from the beginning the first time), and store it after each batch, so a
   *   restart neither skips nor repeats one.
   */
  readonly startFrom: 'now' | 'checkpoint';
  /** Cheap filter: only the events it returns true for reach `handle`. */
  canHandle(event: RecordedEvent): boolean;
  /** Handles a batch in position order. A throw is logged; a checkpointed processor retries it. */
  handle(events: readonly RecordedEvent[]): void | Promise<void>;
}


export interface ProcessorLogger {
  error(details: Record<string, unknown>, message: string): void;
}

/** Checkpointed work is batched: commits within this window share one checkpoint write (an fsync). */
const CHECKPOINT_BATCH_DELAY_MS = 50;
const RETRY_DELAY_MS = 1000;
const READ_BATCH = 500;

interface Running {
  processor: Processor;
  stopFollowing?: () => void;
  /** Checkpointed: the position it has stored; events after it are still to do. */
  checkpoint: number;
  scheduled: NodeJS.Timeout | undefined;
  /** The batch being handled, for a processor whose handle is asynchronous. */
  busy: Promise<void> | undefined;
}

/** Runs every processor over one MessageSource. */
export class ProcessorRunner {
  private readonly running: Running[] = [];
  private started = false;

  constructor(
    private readonly source: MessageSource,
    private readonly checkpoints: CheckpointStore,
    private readonly logger: ProcessorLogger,
  ) {}

  add(processor: Processor): void {
    if (this.running.some((entry) => entry.processor.name === processor.name)) throw new Error(`processor ${processor.name} added twice`);
    const entry: Running = { processor, checkpoint: 0, scheduled: undefined, busy: undefined };
    this.running.push(entry);
    if (this.started) this.startOne(entry);
  }

  /** Live processors start at the head; checkpointed ones catch up from their checkpoints first. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const entry of this.running) this.startOne(entry);
  }

  /** Runs every checkpointed processor up to the head now (tests, replay, shutdown). */
  async drain(): Promise<void> {
    for (const entry of this.running) {
      if (entry.processor.startFrom !== 'checkpoint') continue;
      await entry.busy;
      await this.catchUp(entry);
    }
  }

  async stop(): Promise<void> {
    for (const entry of this.running) {
      entry.stopFollowing?.();
      entry.stopFollowing = undefined;
      clearTimeout(entry.scheduled);
      entry.scheduled = undefined;
    }
    await Promise.allSettled(this.running.map((entry) => entry.busy));
    this.started = false;
  }

  get names(): string[] {
    return this.running.map((entry) => entry.processor.name);
  }

  private startOne(entry: Running): void {
    const { processor } = entry;
    if (processor.startFrom === 'now') {
      entry.stopFollowing = this.source.follow(this.source.head(), (events) => this.runLive(entry, events));
      return;
    }
    entry.checkpoint = this.checkpoints.load(processor.name);
    // Checkpointed work reads the log itself from its checkpoint; live batches only wake it.
    entry.stopFollowing = this.source.follow(this.source.head(), () => this.schedule(entry, CHECKPOINT_BATCH_DELAY_MS));
    this.schedule(entry, 0);
  }

  private runLive(entry: Running, events: readonly RecordedEvent[]): void {
    const wanted = events.filter((event) => entry.processor.canHandle(event));
    if (wanted.length === 0) return;
    try {
      const result = entry.processor.handle(wanted);
      if (result instanceof Promise) result.catch((error: unknown) => this.failed(entry, error));
    } catch (error) {
      this.failed(entry, error);
    }
  }

  private schedule(entry: Running, delayMs: number): void {
    if (entry.scheduled || !entry.stopFollowing) return;
    entry.scheduled = setTimeout(() => {
      entry.scheduled = undefined;
      if (entry.busy) {
        this.schedule(entry, delayMs);
        return;
      }
      entry.busy = this.catchUp(entry).finally(() => {
        entry.busy = undefined;
      });
    }, delayMs);
    entry.scheduled.unref();
  }

  private async catchUp(entry: Running): Promise<void> {
    const { processor } = entry;
    try {
      for (;;) {
        const events = this.source.read(entry.checkpoint, READ_BATCH);
        if (events.length === 0) return;
        const last = events[events.length - 1]!.position;
        const wanted = events.filter((event) => processor.canHandle(event));
        if (wanted.length === 0) {
          this.checkpoints.save(processor.name, last);
        } else {
          // A synchronous handler and its checkpoint commit in one transaction; an
          // asynchronous one (a mail) first finishes, then its checkpoint is stored.
          const pending = this.checkpoints.atomically(() => {
            const result = processor.handle(wanted);
            if (result instanceof Promise) return result;
            this.checkpoints.save(processor.name, last);
            return undefined;
          });
          if (pending) {
            await pending;
            this.checkpoints.save(processor.name, last);
          }
        }
        entry.checkpoint = last;
        if (events.length < READ_BATCH) return;
      }
    } catch (error) {
      // It stays at its checkpoint and tries again a little later.
      this.failed(entry, error);
      this.schedule(entry, RETRY_DELAY_MS);
    }
  }

  private failed(entry: Running, error: unknown): void {
    this.logger.error({ err: error, processor: entry.processor.name }, 'processor failed');
  }
}
