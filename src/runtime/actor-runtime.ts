import { createActor, type ActorScope, type AnyMachineSnapshot, type AnyStateMachine, type EventObject, type SnapshotFrom } from 'xstate';
import { AppError, ConflictError } from '../core/index.js';
import { categoryOf } from '../core/index.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../store/index.js';
import type { AnyAggregate } from '../core/index.js';
import { Mailboxes } from './mailbox.js';

interface LiveActor {
  /**
   * The machine's snapshot after the events applied so far (immutable, replaced per event).
   * Read it through `stateOf`, which applies `unapplied` first.
   */
  snapshot: AnyMachineSnapshot;
  aggregate: AnyAggregate;
  /** Stream version the actor's state reflects (`unapplied` included). */
  version: number;
  /**
   * Events of a stream not kept in memory, not yet fed to its machine: applied when its state
   * is first asked for, which a connection's or a session's one command usually never does
   * (its actor is dropped right after the append). Empty for kept streams, which apply at once.
   */
  unapplied: RecordedEvent[];
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

export interface ExecuteOptions {
  /**
   * The caller named this stream just now (a socket's fresh random connection id): its history,
   * surely empty, is not read from the log. A hint, not a trust: the append still expects
   * version 0, so should the stream exist after all it fails as a conflict, and the command is
   * decided again on the stream's real history (as after another process's append).
   */
  newStream?: boolean;
}

export interface RuntimeLogger {
  error(details: Record<string, unknown>, message: string): void;
}

/** The event shape machines receive: the stored event, with its type as XState's `type`. */
export function toMachineEvent(event: RecordedEvent): { type: string; data: unknown; version: number; recordedAt: number } {
  return { type: event.type, data: event.data, version: event.version, recordedAt: event.recordedAt };
}

/**
 * Steps one aggregate's machine as a pure function, `machine.transition(snapshot, event)`,
 * instead of through an XState `Actor` per stream. An actor costs its construction, start and
 * stop (and the initial snapshot computed anew) for every stream it holds: per socket of a
 * connection storm, two such actors (connection, session) came and went for one event each,
 * about a quarter of the runtime's CPU (issue 15). Machines hold no I/O (DESIGN.md), so nothing
 * an actor adds (its mailbox, observers, delayed events, children) is used: the snapshot and
 * the machine are the whole state. The initial snapshot is computed once and shared (snapshots
 * are immutable; every transition makes a new one), so entry actions of a machine's initial
 * state, which no machine here has, would run once at registration rather than per stream.
 */
class MachineStepper {
  readonly initial: AnyMachineSnapshot;
  private readonly scope: ActorScope<AnyMachineSnapshot, EventObject>;

  constructor(private readonly machine: AnyStateMachine) {
    // The scope a transition is given: never started, it only lends `self` and `system` to
    // action arguments. Custom (non-assign) actions run at once, as a running actor runs them.
    const self = createActor(machine);
    this.scope = {
      self,
      id: '',
      sessionId: '',
      system: self.system,
      logger: () => {},
      defer: () => {},
      emit: () => {},
      stopChild: () => {},
      actionExecutor: (action) => action.exec?.(action.info, action.params),
    };
    this.initial = machine.getInitialSnapshot(this.scope);
  }

  /** The snapshot after `event`; a machine that throws (a bug) leaves an `error` snapshot, as an actor did. */
  next(snapshot: AnyMachineSnapshot, event: EventObject): { snapshot: AnyMachineSnapshot; failed: false } | { snapshot: AnyMachineSnapshot; failed: true; error: unknown } {
    try {
      return { snapshot: this.machine.transition(snapshot, event, this.scope), failed: false };
    } catch (error) {
      return { snapshot: { ...snapshot, status: 'error', output: undefined, error }, failed: true, error };
    }
  }
}

/**
 * Registry of stream states (XState machine snapshots) keyed by stream id, with a mailbox per
 * stream. A command runs decide -> append (expected version = the state's version) -> evolve;
 * the caller runs its effects after the returned promise resolves, i.e. after the commit.
 * "Actor" below is a stream's live state: its snapshot and version.
 */
export class ActorRuntime {
  private readonly aggregates = new Map<string, AnyAggregate>();
  private readonly steppers = new Map<AnyAggregate, MachineStepper>();
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
    this.steppers.set(aggregate, new MachineStepper(aggregate.machine));
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
    options: ExecuteOptions = {},
  ): Promise<CommandResult<Snapshot>> {
    return this.executeWith<Snapshot>(streamId, () => command, metadata, options);
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
    options: ExecuteOptions = {},
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
        const live = this.liveActor(streamId, aggregate, options.newStream !== true);
        const command = await build(this.stateOf(live) as Snapshot);
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
    const live = this.actors.get(streamId);
    return live && (this.stateOf(live) as SnapshotFrom<Machine>);
  }

  /** The stream's events past the log position `after`, oldest first; its last event is read first, to read no more when none is. */
  eventsAfter(streamId: string, after: number): RecordedEvent[] {
    const version = this.store.streamVersion(streamId);
    const last = version === 0 ? undefined : this.store.readStream(streamId, version)[0];
    return last === undefined || last.position <= after ? [] : this.store.readStream(streamId).filter((event) => event.position > after);
  }

  /** On a cluster node: reads what other nodes committed up to now into the local copy first. */
  async catchUp(): Promise<void> {
    await this.store.catchUp?.();
  }

  /** The stream's current state, loading it from the log when no actor is live. */
  read<Machine extends AnyStateMachine>(streamId: string): SnapshotFrom<Machine> {
    const aggregate = this.aggregates.get(categoryOf(streamId));
    if (!aggregate) throw new AppError('NOT_FOUND', `no aggregate for stream ${streamId}`);
    const existing = this.actors.has(streamId);
    const live = this.liveActor(streamId, aggregate, true);
    const snapshot = this.stateOf(live) as SnapshotFrom<Machine>;
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
    let caughtUp = false;
    for (;;) {
      const before = this.stateOf(live);
      let decided: ReturnType<AnyAggregate['decide']>;
      try {
        decided = aggregate.decide(command, before);
      } catch (error) {
        // On a cluster node the stream may have been written on another node a moment ago
        // (a join request for a room just created there): catch the log up once, decide again.
        if (!caughtUp && this.store.catchUp && error instanceof AppError && error.code === 'NOT_FOUND') {
          caughtUp = true;
          await this.store.catchUp();
          this.evolve(live, this.store.readStream(streamId, live.version + 1));
          continue;
        }
        throw error;
      }
      if (decided.length === 0) return { events: [], snapshot: before as Snapshot };
      const events = decided.map((event) => ({ ...event, metadata: { ...metadata, ...event.metadata } }));
      try {
        const result = await this.store.append(streamId, events, live.version);
        this.evolve(live, result.events);
        return this.commandResult<Snapshot>(live, before, result.events);
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

  /**
   * A command's outcome. For a stream not kept in memory its snapshot is computed only if the
   * caller reads it: from the live state while that is still exactly this command's, else from
   * the state it was decided on and its events (another command has moved the stream on since).
   */
  private commandResult<Snapshot>(live: LiveActor, before: AnyMachineSnapshot, events: RecordedEvent[]): CommandResult<Snapshot> {
    if (live.aggregate.keepInMemory !== false) return { events, snapshot: live.snapshot as Snapshot };
    const version = events.at(-1)?.version ?? live.version;
    let after: AnyMachineSnapshot | undefined;
    const compute = () => (live.version === version ? this.stateOf(live) : this.fold(live.aggregate, before, events));
    return {
      events,
      get snapshot() {
        after ??= compute();
        return after as Snapshot;
      },
    };
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
    const snapshot = this.stateOf(live);
    return snapshot.status !== 'done' && live.aggregate.keepWhile?.(snapshot) !== false;
  }

  private liveActor(streamId: string, aggregate: AnyAggregate, loadHistory: boolean): LiveActor {
    const existing = this.actors.get(streamId);
    if (existing) {
      existing.usedAt = USED_SINCE_SWEEP;
      return existing;
    }
    const live: LiveActor = { snapshot: this.steppers.get(aggregate)!.initial, aggregate, version: 0, unapplied: [], usedAt: USED_SINCE_SWEEP };
    this.actors.set(streamId, live);
    if (loadHistory) this.evolve(live, this.store.readStream(streamId));
    return live;
  }

  private evolve(live: LiveActor, events: readonly RecordedEvent[]): void {
    const lazy = live.aggregate.keepInMemory === false;
    for (const event of events) {
      if (event.version <= live.version) continue;
      live.version = event.version;
      if (lazy) live.unapplied.push(event);
      else live.snapshot = this.fold(live.aggregate, live.snapshot, [event]);
    }
  }

  /** The stream's state, its unapplied events applied first. */
  private stateOf(live: LiveActor): AnyMachineSnapshot {
    if (live.unapplied.length > 0) {
      const events = live.unapplied;
      live.unapplied = [];
      live.snapshot = this.fold(live.aggregate, live.snapshot, events);
    }
    return live.snapshot;
  }

  /** `snapshot` after `events`, through the aggregate's machine. */
  private fold(aggregate: AnyAggregate, snapshot: AnyMachineSnapshot, events: readonly RecordedEvent[]): AnyMachineSnapshot {
    const stepper = this.steppers.get(aggregate)!;
    let state = snapshot;
    for (const event of events) {
      // A failed machine takes no more events, as a failed actor stopped; its version still counts them.
      if (state.status === 'error') break;
      const next = stepper.next(state, toMachineEvent(event));
      state = next.snapshot;
      // Machines hold no I/O, so an error here is a bug in a machine: log it, keep the process.
      if (next.failed) this.logger?.error({ err: next.error, streamId: event.streamId }, 'actor failed');
    }
    return state;
  }

  private evict(streamId: string): void {
    this.actors.delete(streamId);
  }
}
