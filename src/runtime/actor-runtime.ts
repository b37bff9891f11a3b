import { createActor, type Actor, type AnyStateMachine, type SnapshotFrom } from 'xstate';
import { AppError, ConflictError } from '../core/index.js';
import { categoryOf } from '../core/index.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../store/index.js';
import type { AnyAggregate } from '../core/index.js';
import { Mailboxes } from './mailbox.js';

interface LiveActor {
  actor: Actor<AnyStateMachine>;
  aggregate: AnyAggregate;
  /** Stream version the actor's state reflects. */
  version: number;
  /**
   * When the actor was last used, in the time of `evictIdle`'s calls: USED_SINCE_SWEEP until
   * the next sweep stamps it with its `now`. The runtime reads no clock of its own (the
   * gateway's may be a test's), so idle time is measured between sweeps.
   */
  usedAt: number;
}

/** `usedAt` of an actor used (a command, a read) since the last idle sweep. */
const USED_SINCE_SWEEP = Number.POSITIVE_INFINITY;

export interface IdleEviction {
  /** Actors neither commanded nor read for at least this long are dropped. */
  idleMs: number;
  /** At most this many actors of the category stay after a sweep; the least recently used go first. */
  maxActors?: number;
}

export interface CommandResult<Snapshot = unknown> {
  events: RecordedEvent[];
  snapshot: Snapshot;
}

export interface RuntimeLogger {
  error(details: Record<string, unknown>, message: string): void;
}

/** The event shape machines receive: the stored event, with its type as XState's `type`. */
export function toMachineEvent(event: RecordedEvent): { type: string; data: unknown; version: number; recordedAt: number } {
  return { type: event.type, data: event.data, version: event.version, recordedAt: event.recordedAt };
}

/**
 * Registry of XState actors keyed by stream id, with a mailbox per stream. A command runs
 * decide -> append (expected version = the actor's version) -> evolve; the caller runs its
 * effects after the returned promise resolves, i.e. after the commit.
 */
export class ActorRuntime {
  private readonly aggregates = new Map<string, AnyAggregate>();
  private readonly actors = new Map<string, LiveActor>();
  private readonly mailboxes = new Mailboxes();
  /**
   * Commands accepted and not yet settled, per stream (queued ones included): an actor with
   * one is never evicted by a sweep or a committed event, since its command holds it.
   */
  private readonly pending = new Map<string, number>();

  constructor(
    private readonly store: EventStore,
    private readonly logger?: RuntimeLogger,
  ) {}

  register(aggregate: AnyAggregate): void {
    if (this.aggregates.has(aggregate.category)) throw new Error(`aggregate ${aggregate.category} registered twice`);
    this.aggregates.set(aggregate.category, aggregate);
  }

  /**
   * Rebuilds every live actor from the log, oldest event first. Aggregates with a
   * `liveAfter` filter get actors only for the streams it finds live at the log's end (the
   * rooms still open, not every room ever created), each loaded from its own stream once the
   * log is read. Streams whose machine has reached a final state, or that `keepWhile` would
   * not keep, are dropped afterwards: they can take no more commands (or need no actor until
   * one comes), and keeping them would grow memory with every connection ever opened.
   */
  rebuild(batchSize = 10_000): { streams: number; events: number } {
    let after = 0;
    let events = 0;
    // Only the streams live so far: a stream leaves the set when it closes.
    const filtered = new Set<string>();
    for (;;) {
      const batch = this.store.readAll({ after, limit: batchSize });
      for (const event of batch) {
        const aggregate = this.aggregates.get(categoryOf(event.streamId));
        if (!aggregate || aggregate.rebuildAtStart === false) continue;
        if (!aggregate.liveAfter) {
          this.evolve(this.liveActor(event.streamId, aggregate, false), [event]);
          continue;
        }
        const live = aggregate.liveAfter(event);
        if (live === true) filtered.add(event.streamId);
        else if (live === false) filtered.delete(event.streamId);
      }
      events += batch.length;
      if (batch.length < batchSize) break;
      after = batch[batch.length - 1]!.position;
    }
    for (const streamId of filtered) this.liveActor(streamId, this.aggregates.get(categoryOf(streamId))!, true);
    for (const [streamId, live] of this.actors) {
      if (!this.alive(live)) this.evict(streamId);
    }
    return { streams: this.actors.size, events };
  }

  /** Runs a command on a stream; resolves after its events are committed and applied. */
  execute<Snapshot = unknown, Command extends { type: string } = { type: string }>(
    streamId: string,
    command: Command,
    metadata: EventMetadata = {},
  ): Promise<CommandResult<Snapshot>> {
    return this.executeWith<Snapshot>(streamId, () => command, metadata);
  }

  /**
   * Like `execute`, but builds the command inside the stream's mailbox from its current
   * state: for checks that depend on that state (a TOTP code against the last used step)
   * and must not race another command on the same stream.
   */
  executeWith<Snapshot = unknown>(
    streamId: string,
    build: (snapshot: Snapshot) => { type: string } | Promise<{ type: string }>,
    metadata: EventMetadata = {},
  ): Promise<CommandResult<Snapshot>> {
    const aggregate = this.aggregates.get(categoryOf(streamId));
    if (!aggregate) return Promise.reject(new AppError('NOT_FOUND', `no aggregate for stream ${streamId}`));
    this.pending.set(streamId, (this.pending.get(streamId) ?? 0) + 1);
    const settled = () => {
      const left = this.pending.get(streamId)! - 1;
      if (left === 0) this.pending.delete(streamId);
      else this.pending.set(streamId, left);
    };
    return this.mailboxes.run(streamId, async () => {
      try {
        const live = this.liveActor(streamId, aggregate, true);
        const command = await build(live.actor.getSnapshot() as Snapshot);
        return await this.handle<Snapshot>(streamId, aggregate, command, metadata);
      } finally {
        // A finished stream takes no more commands. Drop its actor however the command ended,
        // not only after an append: a second close or a refused command on a closed (evicted,
        // then reloaded) stream would otherwise keep one actor in memory per such command.
        // Streams that are not kept in memory (connections, sessions) or not in this state (a
        // closed room, or one that never existed and was refused a join) are dropped likewise;
        // when another command is queued on the stream, the last one decides, to spare a reload.
        const live = this.actors.get(streamId);
        if (live && !this.keeps(live) && this.pending.get(streamId)! <= 1) this.evict(streamId);
        settled();
      }
    });
  }

  snapshot<Machine extends AnyStateMachine>(streamId: string): SnapshotFrom<Machine> | undefined {
    return this.actors.get(streamId)?.actor.getSnapshot() as SnapshotFrom<Machine> | undefined;
  }

  /** The stream's current state, loading it from the log when no actor is live. */
  read<Machine extends AnyStateMachine>(streamId: string): SnapshotFrom<Machine> {
    const aggregate = this.aggregates.get(categoryOf(streamId));
    if (!aggregate) throw new AppError('NOT_FOUND', `no aggregate for stream ${streamId}`);
    const existing = this.actors.has(streamId);
    const live = this.liveActor(streamId, aggregate, true);
    const snapshot = live.actor.getSnapshot() as SnapshotFrom<Machine>;
    // A read must not leave behind an actor the runtime would not keep after a command (a
    // room that never existed, asked about by a refused join, stays out of memory).
    if (!existing && !this.keeps(live)) this.evict(streamId);
    return snapshot;
  }

  /**
   * Feeds committed events (from this process or another, e.g. the CLI) to live actors.
   * Idempotent: events at or below an actor's version are skipped.
   */
  applyCommitted(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      const live = this.actors.get(event.streamId);
      if (!live) continue;
      if (event.version !== live.version + 1) {
        // A gap means events this actor never saw: reload the rest of its stream.
        if (event.version > live.version) this.evolve(live, this.store.readStream(event.streamId, live.version + 1));
      } else {
        this.evolve(live, [event]);
      }
      // Closed elsewhere (the CLI closed a room): dropped here, unless a command of ours holds it.
      if (!this.pending.has(event.streamId) && !this.alive(live)) this.evict(event.streamId);
    }
  }

  /**
   * Drops the actors of `category` idle for at least `idleMs` (no command, no read), and
   * past `maxActors` the least recently used ones; never one a command is pending on. They
   * are reloaded from the log when a command or read reaches them again. The runtime has no
   * timers: the module that owns the category calls this from the scheduler. Idle time is
   * counted from the first sweep after the last use, so an actor goes after at least `idleMs`
   * and at most `idleMs` plus two sweep intervals. Returns how many it dropped.
   */
  evictIdle(category: string, now: number, options: IdleEviction): number {
    const prefix = `${category}-`;
    const kept: [string, LiveActor][] = [];
    let evicted = 0;
    for (const [streamId, live] of this.actors) {
      if (!streamId.startsWith(prefix) || this.pending.has(streamId)) continue;
      if (live.usedAt === USED_SINCE_SWEEP) live.usedAt = now;
      if (now - live.usedAt >= options.idleMs) {
        this.evict(streamId);
        evicted += 1;
      } else {
        kept.push([streamId, live]);
      }
    }
    const excess = options.maxActors === undefined ? 0 : kept.length - options.maxActors;
    if (excess > 0) {
      kept.sort((a, b) => a[1].usedAt - b[1].usedAt);
      for (const [streamId] of kept.slice(0, excess)) this.evict(streamId);
      evicted += excess;
    }
    return evicted;
  }

  /** Drops a live actor from memory (it is reloaded from the log if needed again). */
  release(streamId: string): void {
    this.evict(streamId);
  }

  /** Stream ids of live actors in a category (e.g. every open connection after a restart). */
  streams(category: string): string[] {
    const prefix = `${category}-`;
    return [...this.actors.keys()].filter((streamId) => streamId.startsWith(prefix));
  }

  get size(): number {
    return this.actors.size;
  }

  private async handle<Snapshot>(
    streamId: string,
    aggregate: AnyAggregate,
    command: { type: string },
    metadata: EventMetadata,
  ): Promise<CommandResult<Snapshot>> {
    const live = this.liveActor(streamId, aggregate, true);
    let attempt = 0;
    for (;;) {
      const decided = aggregate.decide(command, live.actor.getSnapshot());
      if (decided.length === 0) return { events: [], snapshot: live.actor.getSnapshot() as Snapshot };
      const events = decided.map((event) => ({ ...event, metadata: { ...metadata, ...event.metadata } }));
      try {
        const result = await this.store.append(streamId, events, live.version);
        this.evolve(live, result.events);
        return { events: result.events, snapshot: live.actor.getSnapshot() as Snapshot };
      } catch (error) {
        // Another process (the CLI) appended to this stream: catch up and decide again once.
        if (error instanceof ConflictError && attempt === 0) {
          attempt += 1;
          this.evolve(live, this.store.readStream(streamId, live.version + 1));
          continue;
        }
        throw error;
      }
    }
  }

  /** Whether the runtime keeps this actor in memory between commands. */
  private keeps(live: LiveActor): boolean {
    return live.aggregate.keepInMemory !== false && this.alive(live);
  }

  /**
   * Whether the stream can take commands and is in a state worth an actor. Not `keeps`, for
   * the start and committed events: streams not kept between commands (connections) are
   * rebuilt all the same, for their module to find and close the ones a crash left open.
   */
  private alive(live: LiveActor): boolean {
    const snapshot = live.actor.getSnapshot();
    return snapshot.status !== 'done' && live.aggregate.keepWhile?.(snapshot) !== false;
  }

  private liveActor(streamId: string, aggregate: AnyAggregate, loadHistory: boolean): LiveActor {
    const existing = this.actors.get(streamId);
    if (existing) {
      existing.usedAt = USED_SINCE_SWEEP;
      return existing;
    }
    const actor = createActor(aggregate.machine);
    // Machines hold no I/O, so an error here is a bug in a machine: log it, keep the process.
    actor.subscribe({
      error: (error) => this.logger?.error({ err: error, streamId }, 'actor failed'),
    });
    actor.start();
    const live: LiveActor = { actor, aggregate, version: 0, usedAt: USED_SINCE_SWEEP };
    this.actors.set(streamId, live);
    if (loadHistory) this.evolve(live, this.store.readStream(streamId));
    return live;
  }

  private evolve(live: LiveActor, events: readonly RecordedEvent[]): void {
    for (const event of events) {
      if (event.version <= live.version) continue;
      live.actor.send(toMachineEvent(event));
      live.version = event.version;
    }
  }

  private evict(streamId: string): void {
    this.actors.get(streamId)?.actor.stop();
    this.actors.delete(streamId);
  }
}
