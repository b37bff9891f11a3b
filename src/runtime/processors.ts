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
/** The default of `ProcessorRunnerOptions.maxBufferedEvents`. */
const MAX_BUFFERED_EVENTS = 10_000;

export interface ProcessorRunnerOptions {
  /**
   * The wanted events a checkpointed processor keeps from live batches until its next run;
   * past this many (a handler stuck on a slow mail server) it lets them go and reads them
   * back from the log instead, so memory stays bounded.
   */
  maxBufferedEvents?: number;
}

interface Running {
  processor: Processor;
  stopFollowing?: () => void;
  /** Checkpointed: the position it has stored; events after it are still to do. */
  checkpoint: number;
  scheduled: NodeJS.Timeout | undefined;
  /** The batch being handled, for a processor whose handle is asynchronous. */
  busy: Promise<void> | undefined;
  /**
   * Checkpointed: where its next run takes its events from. `log` reads them back from its
   * checkpoint (at the start, after a failure, after the buffer overflowed); `live` takes the
   * wanted events of the live batches since, kept in `buffered`, without reading the log:
   * a storm of commits is not read back and parsed again for a mail processor that wants none.
   */
  from: 'log' | 'live';
  buffered: RecordedEvent[];
  /** The last position the live batches have shown it (in `live`); the checkpoint its next run stores. */
  bufferedUpTo: number;
}

/** Runs every processor over one MessageSource. */
export class ProcessorRunner {
  private readonly running: Running[] = [];
  private started = false;

  constructor(
    private readonly source: MessageSource,
    private readonly checkpoints: CheckpointStore,
    private readonly logger: ProcessorLogger,
    private readonly options: ProcessorRunnerOptions = {},
  ) {}

  add(processor: Processor): void {
    if (this.running.some((entry) => entry.processor.name === processor.name)) throw new Error(`processor ${processor.name} added twice`);
    const entry: Running = { processor, checkpoint: 0, scheduled: undefined, busy: undefined, from: 'log', buffered: [], bufferedUpTo: 0 };
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
      while (entry.busy) await entry.busy;
      // From the log: events another process appended may not have been polled yet.
      this.readFromLog(entry);
      await this.run(entry);
    }
  }

  async stop(): Promise<void> {
    for (const entry of this.running) {
      entry.stopFollowing?.();
      entry.stopFollowing = undefined;
      clearTimeout(entry.scheduled);
      entry.scheduled = undefined;
      this.readFromLog(entry);
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
    // It first reads the log from its checkpoint to the end, then lives on the live batches:
    // they follow on from the head at this moment, which that first read reaches.
    this.readFromLog(entry);
    entry.stopFollowing = this.source.follow(this.source.head(), (events) => this.keepLive(entry, events));
    this.schedule(entry, 0);
  }

  /** Buffers a live batch's wanted events for a checkpointed processor's next run, and schedules it. */
  private keepLive(entry: Running, events: readonly RecordedEvent[]): void {
    if (entry.from === 'live') {
      for (const event of events) {
        // A batch can overlap what the last read of the log already handed over.
        if (event.position <= entry.bufferedUpTo) continue;
        entry.bufferedUpTo = event.position;
        if (entry.processor.canHandle(event)) entry.buffered.push(event);
      }
      if (entry.buffered.length > (this.options.maxBufferedEvents ?? MAX_BUFFERED_EVENTS)) this.readFromLog(entry);
    }
    this.schedule(entry, CHECKPOINT_BATCH_DELAY_MS);
  }

  /** Its next run reads the log from its checkpoint; what the buffer held is there too. */
  private readFromLog(entry: Running): void {
    entry.from = 'log';
    entry.buffered = [];
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
      void this.run(entry);
    }, delayMs);
    entry.scheduled.unref();
  }

  /** One run of a checkpointed processor, as `busy`: never two at once, or a batch could be handled twice. */
  private run(entry: Running): Promise<void> {
    entry.busy = this.catchUp(entry).finally(() => {
      entry.busy = undefined;
    });
    return entry.busy;
  }

  private async catchUp(entry: Running): Promise<void> {
    try {
      if (entry.from === 'live') {
        const last = entry.bufferedUpTo;
        if (last <= entry.checkpoint) return;
        const wanted = entry.buffered;
        entry.buffered = [];
        await this.handleUpTo(entry, wanted, last);
        return;
      }
      for (;;) {
        const events = this.source.read(entry.checkpoint, READ_BATCH);
        const reachedTheEnd = events.length < READ_BATCH;
        if (reachedTheEnd) {
          // Everything committed until now is in this read (reads are synchronous): from
          // here on the live batches hold what comes next.
          entry.from = 'live';
          entry.bufferedUpTo = events.at(-1)?.position ?? entry.checkpoint;
        }
        if (events.length > 0) {
          const wanted = events.filter((event) => entry.processor.canHandle(event));
          await this.handleUpTo(entry, wanted, events[events.length - 1]!.position);
        }
        if (reachedTheEnd) return;
      }
    } catch (error) {
      // It stays at its checkpoint and tries again a little later, from the log.
      this.readFromLog(entry);
      this.failed(entry, error);
      this.schedule(entry, RETRY_DELAY_MS);
    }
  }

  /** Hands `wanted` to the processor and stores `last` as its checkpoint once they are done. */
  private async handleUpTo(entry: Running, wanted: readonly RecordedEvent[], last: number): Promise<void> {
    const { processor } = entry;
    if (wanted.length === 0) {
      this.checkpoints.save(processor.name, last);
    } else {
      // A synchronous handler and its checkpoint commit in one transaction; an
      // asynchronous one (a mail) first finishes, then its checkpoint is stored. Its promise
      // must not be the transaction's result: SQLite's transaction cannot span an await
      // (better-sqlite3 throws, and the batch would be retried forever).
      let pending: Promise<void> | undefined;
      this.checkpoints.atomically(() => {
        const result = processor.handle(wanted);
        if (result instanceof Promise) pending = result;
        else this.checkpoints.save(processor.name, last);
      });
      if (pending) {
        await pending;
        this.checkpoints.save(processor.name, last);
      }
    }
    entry.checkpoint = last;
  }

  private failed(entry: Running, error: unknown): void {
    this.logger.error({ err: error, processor: entry.processor.name }, 'processor failed');
  }
}
