import { jetstream, type Consumer, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { LogMessage } from './mirror.js';

/**
 * The one consumer that feeds a node's mirror: JetStream messages in stream order, handed over
 * in batches (whatever arrived within one event-loop turn) to a sink that ingests them in one
 * SQLite transaction.
 *
 * It is an ORDERED consumer (ephemeral, R1, no acks), started after the mirror's own
 * checkpoint each time, and not a durable consumer: the checkpoint that must be exact is the
 * one committed with the rows in SQLite, and a durable consumer would keep a second position
 * on the servers that can disagree with it (a mirror restored from a backup, or a tail lost to
 * `synchronous = NORMAL`), and would have to be deleted or rewound to follow the first. An
 * ordered consumer keeps nothing on the servers worth keeping, resumes from any sequence, and
 * its client notices a gap in delivery and recreates it. Whenever it falls silent anyway (its
 * server died, NATS was down), the feed replaces it, again from the mirror's checkpoint.
 */

export interface MirrorFeedOptions {
  connection: NatsConnection;
  streamName: string;
  /** The last sequence the sink holds: a (re)started consumer begins right after it. */
  position(): number;
  /** Keeps a batch, in stream order; throws when it could not (the feed restarts from `position()`). */
  sink(messages: LogMessage[]): void;
  onError(error: unknown, what: string): void;
  /** A consumer with neither a message nor a heartbeat for this long is replaced. Default 4 s. */
  stallMs?: number;
  /** Messages per pull request and at most per ingest transaction. Default 1000. */
  batch?: number;
}

const MSG_ID_HEADER = 'Nats-Msg-Id';

export class MirrorFeed {
  private readonly js: JetStreamClient;
  private readonly stallMs: number;
  private readonly batch: number;
  /** Bumped on every (re)start: deliveries and loops of an older consumer are ignored. */
  private generation = 0;
  private stopped = false;
  private messages: ConsumerMessages | undefined;
  /** The server-side consumer of the current generation, deleted when replaced rather than left to expire. */
  private consumer: Consumer | undefined;
  private buffer: LogMessage[] = [];
  private drainScheduled = false;
  private lastActivity = 0;
  private sinkFailed = false;
  private readonly watchdog: NodeJS.Timeout;
  private status: AsyncIterable<unknown> | undefined;
  private markStarted: () => void = () => {};
  /** Resolves once the first consumer is delivering. */
  readonly started = new Promise<void>((resolve) => (this.markStarted = resolve));

  constructor(private readonly options: MirrorFeedOptions) {
    // A short API timeout: while JetStream recovers, a consumer request is retried sooner.
    this.js = jetstream(options.connection, { timeout: 2000 });
    this.stallMs = options.stallMs ?? 4000;
    this.batch = options.batch ?? 1000;
    this.watchdog = setInterval(() => this.checkStall(), Math.max(250, Math.floor(this.stallMs / 4)));
    this.watchdog.unref();
  }

  start(): void {
    this.restart();
    void this.restartOnReconnect();
  }

  /**
   * Whether a consumer is delivering (messages or heartbeats within `stallMs`) and the sink
   * took the last batch: when false, appends cannot be answered, since each waits for its ingest.
   */
  get healthy(): boolean {
    return !this.stopped && !this.sinkFailed && this.messages !== undefined && performance.now() - this.lastActivity < this.stallMs;
  }

  /** Stops delivering; messages received but not yet handed over are dropped (the checkpoint is before them). */
  stop(): void {
    this.stopped = true;
    this.generation += 1;
    clearInterval(this.watchdog);
    const stopStatus: unknown = this.status && Reflect.get(this.status, 'stop');
    if (typeof stopStatus === 'function') stopStatus.call(this.status);
    this.dropConsumer();
  }

  /** Replaces the consumer with a new one after the sink's position. */
  restart(): void {
    if (this.stopped) return;
    this.generation += 1;
    this.dropConsumer();
    void this.run(this.generation);
  }

  private dropConsumer(): void {
    this.messages?.stop();
    this.messages = undefined;
    this.buffer = [];
    // Best effort: when its server is gone, the consumer went with it.
    void this.consumer?.delete().catch(() => {});
    this.consumer = undefined;
  }

  private async run(generation: number): Promise<void> {
    for (let attempt = 0; this.current(generation); attempt++) {
      try {
        const consumer = await this.js.consumers.get(this.options.streamName, {
          opt_start_seq: this.options.position() + 1,
          // Long enough that a blocked event loop does not lose it, short enough that the
          // consumers of stopped feeds do not pile up on the servers.
          inactive_threshold: 30_000,
        });
        if (!this.current(generation)) {
          void consumer.delete().catch(() => {});
          return;
        }
        this.consumer = consumer;
        const messages = await consumer.consume({
          max_messages: this.batch,
          // Heartbeats every second (half of this): a silent consumer is noticed within stallMs.
          expires: 2000,
          callback: (message) => this.receive(generation, message),
        });
        if (!this.current(generation)) {
          messages.stop();
          return;
        }
        this.messages = messages;
        this.lastActivity = performance.now();
        this.markStarted();
        void this.watchActivity(generation, messages);
        attempt = 0;
        const ended = await messages.closed();
        if (!this.current(generation)) return;
        this.messages = undefined;
        this.options.onError(ended ?? new Error('consumer ended'), 'mirror consumer ended');
      } catch (error) {
        if (!this.current(generation)) return;
        this.options.onError(error, 'mirror consumer could not start');
      }
      await delay(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
    }
  }

  /**
   * After a reconnect the consumer may be gone (its server restarted) or its pull requests
   * lost; rather than wait for the stall watchdog, a new one starts from the checkpoint.
   */
  private async restartOnReconnect(): Promise<void> {
    const status = this.options.connection.status();
    this.status = status;
    for await (const event of status) {
      if (this.stopped) return;
      if (event.type === 'reconnect') this.restart();
    }
  }

  private current(generation: number): boolean {
    return !this.stopped && generation === this.generation;
  }

  private async watchActivity(generation: number, messages: ConsumerMessages): Promise<void> {
    for await (const notification of messages.status()) {
      if (!this.current(generation)) return;
      if (notification.type === 'heartbeat') this.lastActivity = performance.now();
    }
  }

  private checkStall(): void {
    if (this.messages === undefined || this.stopped) return;
    if (performance.now() - this.lastActivity < this.stallMs) return;
    this.options.onError(new Error(`no message or heartbeat for ${this.stallMs} ms`), 'mirror consumer stalled; replacing it');
    this.restart();
  }

  private receive(generation: number, message: JsMsg): void {
    if (!this.current(generation)) return;
    this.lastActivity = performance.now();
    this.buffer.push({
      sequence: message.seq,
      subject: message.subject,
      msgId: message.headers?.get(MSG_ID_HEADER) || undefined,
      payload: message.data,
    });
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.drainScheduled = false;
    while (this.buffer.length > 0 && !this.stopped) {
      const batch = this.buffer.length <= this.batch ? this.buffer : this.buffer.slice(0, this.batch);
      this.buffer = batch === this.buffer ? [] : this.buffer.slice(this.batch);
      try {
        this.options.sink(batch);
        this.sinkFailed = false;
      } catch (error) {
        // Nothing of the batch was kept (one transaction). What this consumer delivers next
        // would not follow on from the checkpoint, so it is dropped at once, and a new
        // consumer reads the batch again from the checkpoint a little later.
        this.sinkFailed = true;
        this.options.onError(error, 'mirror ingest failed; restarting from its checkpoint');
        const generation = ++this.generation;
        this.dropConsumer();
        setTimeout(() => {
          if (this.current(generation)) this.restart();
        }, 500).unref();
        return;
      }
    }
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
