import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AppError, ConflictError, systemClock, type Clock } from '../core/index.js';
import { assertExpectedVersion, serializeEvents, validateExpectedVersion, type SerializedEvent } from './expected-version.js';
import { encodeAppend, subjectOf } from './jetstream-codec.js';
import { MirrorFeed } from './jetstream-feed.js';
import { DEFAULT_PUBLISH_TIMEOUT_MS, openMirror, progressTo, rebuildMirror, type MirrorOpenOptions, type OpenedMirror } from './jetstream-open.js';
import { LogPublisher, wrongLastSequence, type PublishExpectation } from './jetstream-publisher.js';
import type { LogStreamSpec } from './jetstream-stream.js';
import type { LogMessage, LogMirror, MessageOutcome } from './mirror.js';
import type { ReadModelDatabase } from './projection.js';
import type { AppendResult, CheckpointStore, EventStore, ExpectedVersion, NewEvent, ReadAllOptions, RecordedEvent, StoreObserver } from './types.js';

export type { JetStreamLogger } from './jetstream-open.js';

export interface JetStreamStoreOptions extends MirrorOpenOptions {
  /** Told of this node's appends once readable: their latencies and event count. */
  observer?: StoreObserver;
  /** Stamps `recordedAt`; deadlines use the monotonic clock whatever this is. */
  clock?: Clock;
}

/** An append of this node that JetStream has or may have, waiting for its ingest. */
interface InFlight {
  startedAt: number;
  /** Its JetStream sequence, once acknowledged. */
  sequence?: number;
  outcome?: MessageOutcome;
  settle?: (outcome: MessageOutcome) => void;
}

interface CatchUp {
  sequence: number;
  resolve(): void;
}

/** Re-publishes after a VOID message moved a stream's last sequence but not its version. */
const MAX_EXPECTATION_ATTEMPTS = 3;
/** Room left in a message for its headers under the server's max_payload. */
const HEADER_ALLOWANCE = 1024;

/**
 * The event log of a cluster node. JetStream (replicated, R3) is the log; a local SQLite
 * mirror (mirror.ts), fed by one consumer (jetstream-feed.ts), holds the readable copy and the
 * read models. An append is one JetStream message; its expected version travels as the
 * expected last per-subject sequence (JetStream refuses most losers at once) and in the body
 * (the mirror's ingest, the same on every node, voids any loser JetStream let through). It
 * resolves once JetStream acknowledged it (on a quorum) and this node's mirror ingested it,
 * with the events as the mirror holds them: a command's answer sees its own events in the
 * read models. Appends are pipelined: none waits for another to publish.
 */
export class JetStreamEventStore implements EventStore {
  readonly readModels: ReadModelDatabase;
  readonly checkpoints: CheckpointStore;
  private readonly mirror: LogMirror;
  private readonly spec: LogStreamSpec;
  private readonly publisher: LogPublisher;
  private readonly feed: MirrorFeed;
  private readonly clock: Clock;
  private readonly publishTimeoutMs: number;
  /** Message ids are this prefix and a counter: unique per store instance, recognisable at ingest. */
  private readonly idPrefix = `${randomBytes(9).toString('base64url')}-`;
  private nextId = 0;
  private readonly inFlight = new Map<string, InFlight>();
  /** Acknowledged, not yet ingested: answered by the ingest that reaches their sequence. */
  private readonly awaiting = new Set<InFlight>();
  private readonly appends = new Set<Promise<unknown>>();
  private catchUps: CatchUp[] = [];
  private readonly listeners = new Set<(events: readonly RecordedEvent[]) => void>();
  private closing: Promise<void> | undefined;

  /** Finds or creates the JetStream stream, opens the mirror, and returns once it holds the whole stream. */
  static async open(options: JetStreamStoreOptions): Promise<JetStreamEventStore> {
    const opened = await openMirror(options);
    const store = new JetStreamEventStore(options, opened);
    const openTimeoutMs = options.openTimeoutMs ?? 30_000;
    try {
      await progressTo(() => store.mirror.lastSequence, opened.lastSequence, openTimeoutMs);
      // Until its consumer runs the store is not writable: no append could be answered.
      await progressTo(() => (store.feed.healthy ? 1 : 0), 1, openTimeoutMs);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /**
   * Replay from the log: builds a fresh mirror at `mirrorPath` from JetStream alone, from
   * sequence 1 up to `upToSequence` (default: the stream's end). For a node whose mirror was
   * lost, and to check that a live mirror equals what its log makes.
   */
  static rebuildMirror(options: JetStreamStoreOptions & { upToSequence?: number }): Promise<{ lastSequence: number; headPosition: number }> {
    return rebuildMirror(options);
  }

  private constructor(
    private readonly options: JetStreamStoreOptions,
    { manager, mirror, spec }: OpenedMirror,
  ) {
    this.mirror = mirror;
    this.spec = spec;
    this.clock = options.clock ?? systemClock;
    this.publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.readModels = mirror.db;
    this.checkpoints = mirror.checkpoints;
    this.publisher = new LogPublisher(options.connection, manager, spec.name, this.publishTimeoutMs);
    this.feed = new MirrorFeed({
      connection: options.connection,
      streamName: spec.name,
      position: () => this.mirror.lastSequence,
      sink: this.ingest,
      onError: (error, what) => this.options.logger?.warn({ err: error, stream: spec.name }, what),
    });
    this.feed.start();
  }

  append(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    if (this.closing) return Promise.reject(new AppError('UNAVAILABLE', 'event log is closed'));
    let serialized: SerializedEvent[];
    try {
      validateExpectedVersion(expected);
      serialized = serializeEvents(streamId, events);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.publisher.connected) return Promise.reject(new AppError('UNAVAILABLE', 'the event log is unreachable: not connected to NATS'));
    const append = this.appendToJetStream(streamId, serialized, expected);
    this.appends.add(append);
    const forget = () => this.appends.delete(append);
    append.then(forget, forget);
    return append;
  }

  onCommitted(listener: (events: readonly RecordedEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readStream(streamId: string, fromVersion = 1): RecordedEvent[] {
    return this.mirror.readStream(streamId, fromVersion);
  }

  readAll(options: ReadAllOptions = {}): RecordedEvent[] {
    return this.mirror.readAll(options);
  }

  streamVersion(streamId: string): number {
    return this.mirror.streamVersion(streamId);
  }

  headPosition(): number {
    return this.mirror.headPosition();
  }

  /** The last JetStream sequence the mirror holds. */
  get lastIngestedSequence(): number {
    return this.mirror.lastSequence;
  }

  /** Appends of this node not yet answered (for shutdown and metrics). */
  get pendingAppends(): number {
    return this.appends.size;
  }

  /**
   * Whether appends can be answered now: connected to NATS, JetStream's stream answering
   * (after a failure, once a probe finds its leader), and the mirror's consumer delivering (an
   * append waits for its own ingest). `/readyz` answers 503 on false.
   */
  get writable(): boolean {
    if (this.closing || !this.mirror.open) return false;
    return this.publisher.healthy && this.feed.healthy;
  }

  /** The replay check: a fresh mirror at `path`, from JetStream, up to what this one has ingested. */
  rebuildMirror(path: string): Promise<{ lastSequence: number; headPosition: number }> {
    return rebuildMirror({ ...this.options, mirrorPath: path, upToSequence: this.mirror.lastSequence });
  }

  /** Refuses new appends, waits for those in flight, stops the consumer and closes the mirror; the NATS connection stays open. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.appends]);
      this.feed.stop();
      this.publisher.stop();
      for (const waiter of this.catchUps.splice(0)) waiter.resolve();
      this.mirror.close();
    })();
    return this.closing;
  }

  private async appendToJetStream(streamId: string, serialized: SerializedEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const startedAt = performance.now();
    const deadline = startedAt + this.publishTimeoutMs;
    const recordedAt = this.clock.now();
    const subject = subjectOf(this.spec.subjectPrefix, streamId);
    const payload = encodeAppend({ streamId, expected, recordedAt, events: serialized });
    const maxPayload = (this.options.connection.info?.max_payload ?? 1024 * 1024) - HEADER_ALLOWANCE;
    if (payload.byteLength > maxPayload) {
      throw new AppError('PAYLOAD_TOO_LARGE', `an append of ${payload.byteLength} bytes exceeds the cluster log's ${maxPayload} bytes per append`);
    }
    let caughtUp = false;
    for (let attempt = 1; ; attempt++) {
      // Up to the publish all is synchronous on the common path, so the appends made in one
      // turn reach JetStream in call order.
      let expectation = this.expectationFor(streamId, expected, caughtUp);
      if (expectation === 'catch-up') {
        await this.catchUpWithStream(0, deadline);
        caughtUp = true;
        expectation = this.expectationFor(streamId, expected, true) as PublishExpectation;
      }
      this.mirror.dryRun(streamId, serialized, recordedAt);
      const msgId = `${this.idPrefix}${this.nextId++}`;
      const flight: InFlight = { startedAt };
      this.inFlight.set(msgId, flight);
      try {
        const sequence = await this.publisher.publish(subject, payload, msgId, expectation, deadline);
        return toResult(await this.outcomeOf(flight, sequence, deadline));
      } catch (error) {
        const subjectEnd = wrongLastSequence(error);
        if (subjectEnd === undefined) throw error;
        // Another message came first on this subject. Once the mirror holds it, the version
        // tells: moved on, a CONFLICT the caller can re-read and decide on; the same (the other
        // was VOID), publish again after it.
        await this.catchUpWithStream(subjectEnd, deadline);
        caughtUp = true;
        const version = this.mirror.streamVersion(streamId);
        assertExpectedVersion(streamId, expected, version);
        if (attempt >= MAX_EXPECTATION_ATTEMPTS) throw new ConflictError(streamId, String(expected), version);
      } finally {
        this.inFlight.delete(msgId);
      }
    }
  }

  /**
   * The expected version as JetStream's expected last subject sequence, the fast first check
   * (the mirror's ingest makes the final one). The mirror may lag JetStream but never leads
   * it, so a stream already past the expectation is a CONFLICT at once, and one not yet at it
   * is checked again after catching up. No expectation is sent for a subject without
   * messages: nats-server 2.9 checks an expected 0 on each replica of a clustered stream
   * separately, a path with known replica divergence (nats-server#5644); the ingest decides.
   */
  private expectationFor(streamId: string, expected: ExpectedVersion, caughtUp: boolean): PublishExpectation | 'catch-up' {
    const { version, lastSequence } = this.mirror.streamState(streamId);
    if (expected === 'any') return {};
    // A stream that exists keeps existing: any later append is fine, so nothing to expect.
    if (expected === 'stream_exists' && version > 0) return {};
    const wanted = expected === 'no_stream' ? 0 : expected === 'stream_exists' ? 1 : expected;
    if (version < wanted && !caughtUp) return 'catch-up';
    assertExpectedVersion(streamId, expected, version);
    return lastSequence > 0 ? { expect: { lastSubjectSequence: lastSequence } } : {};
  }

  /** The ingest outcome of this node's message at `sequence`, once the mirror has it. */
  private outcomeOf(flight: InFlight, sequence: number, deadline: number): Promise<MessageOutcome> {
    flight.sequence = sequence;
    // Ingested before the ack arrived, or by another process sharing the mirror file (an
    // operator command beside the gateway), whose ingest this process's consumer then skips.
    if (!flight.outcome && this.mirror.lastSequence >= sequence) flight.outcome = this.mirror.outcomeOf(sequence);
    if (flight.outcome) {
      this.observe([flight]);
      return Promise.resolve(flight.outcome);
    }
    return new Promise<MessageOutcome>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.awaiting.delete(flight);
          reject(new AppError('UNAVAILABLE', `the append is in the event log (sequence ${sequence}) but this node has not read it back yet`));
        },
        Math.max(this.publishTimeoutMs, deadline - performance.now()),
      );
      flight.settle = (outcome) => {
        clearTimeout(timer);
        this.awaiting.delete(flight);
        resolve(outcome);
      };
      this.awaiting.add(flight);
    });
  }

  /** The consumer hands over a batch: ingest it, tell listeners, answer this node's appends in it. */
  private readonly ingest = (messages: LogMessage[]): void => {
    const report = this.mirror.ingest(messages);
    for (const message of messages) {
      if (message.msgId === undefined || !message.msgId.startsWith(this.idPrefix)) continue;
      const flight = this.inFlight.get(message.msgId);
      const outcome = report.outcomes.get(message.sequence);
      if (flight && outcome) flight.outcome = outcome;
    }
    const answered: InFlight[] = [];
    for (const flight of this.awaiting) {
      // Not in this batch's outcomes: another process sharing the file ingested it first.
      if (!flight.outcome && flight.sequence! <= report.lastSequence) flight.outcome = this.mirror.outcomeOf(flight.sequence!);
      if (flight.outcome) answered.push(flight);
    }
    if (report.events.length > 0) {
      for (const listener of this.listeners) {
        try {
          listener(report.events);
        } catch {
          // A listener's bug must not undo or block an ingest that already happened.
        }
      }
    }
    if (answered.length > 0) {
      this.observe(answered);
      for (const flight of answered) flight.settle!(flight.outcome!);
    }
    if (this.catchUps.length > 0) {
      const reached = this.catchUps.filter((waiter) => waiter.sequence <= report.lastSequence);
      this.catchUps = this.catchUps.filter((waiter) => waiter.sequence > report.lastSequence);
      for (const waiter of reached) waiter.resolve();
    }
  };

  /** Tells the observer of appends made readable together: one call, their latencies. */
  private observe(flights: readonly InFlight[]): void {
    const now = performance.now();
    const latencies: number[] = [];
    let eventCount = 0;
    for (const flight of flights) {
      if (!flight.outcome?.ok) continue;
      latencies.push((now - flight.startedAt) / 1000);
      eventCount += flight.outcome.events.length;
    }
    if (latencies.length > 0) this.options.observer?.committed?.(latencies, eventCount);
  }

  /**
   * Resolves once this node's mirror holds everything JetStream held when asked: a command
   * that found no stream (a room created on another node a moment ago) looks again after it.
   */
  catchUp(): Promise<void> {
    return this.catchUpWithStream(0, performance.now() + this.publishTimeoutMs);
  }

  /**
   * Waits until the mirror holds everything JetStream held when asked (and at least
   * `atLeast`, the subject's end a refusal named): then a re-read sees the winner.
   */
  private async catchUpWithStream(atLeast: number, deadline: number): Promise<void> {
    const end = Math.max(atLeast, await this.publisher.lastSequence());
    if (this.mirror.lastSequence >= end || this.closing) return;
    await new Promise<void>((resolve, reject) => {
      const waiter: CatchUp = {
        sequence: end,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(
        () => {
          this.catchUps = this.catchUps.filter((other) => other !== waiter);
          reject(new AppError('UNAVAILABLE', `this node's copy of the event log has not caught up with JetStream (sequence ${end})`));
        },
        Math.max(1, deadline - performance.now()),
      );
      this.catchUps.push(waiter);
    });
  }
}

function toResult(outcome: MessageOutcome): AppendResult {
  if (!outcome.ok) throw outcome.error;
  const last = outcome.events[outcome.events.length - 1]!;
  return { nextVersion: last.version, lastPosition: last.position, events: outcome.events };
}
