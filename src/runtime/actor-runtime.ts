import { createActor, type Actor, type AnyStateMachine, type SnapshotFrom } from 'xstate';
import { AppError, ConflictError } from '../core/errors.js';
import { categoryOf } from '../core/ids.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../store/types.js';
import type { AnyAggregate } from '../core/decider.js';
import { Mailboxes } from './mailbox.js';

interface LiveActor {
  actor: Actor<AnyStateMachine>;
  aggregate: AnyAggregate;
  /** Stream version the actor's state reflects. */
  version: number;
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

  constructor(
    private readonly store: EventStore,
    private readonly logger?: RuntimeLogger,
  ) {}

  register(aggregate: AnyAggregate): void {
    if (this.aggregates.has(aggregate.category)) throw new Error(`aggregate ${aggregate.category} registered twice`);
    this.aggregates.set(aggregate.category, aggregate);
  }

  /**
   * Rebuilds every live actor from the log, oldest event first. Streams whose machine has
   * reached a final state are dropped afterwards: they can take no more commands, and
   * keeping them would grow memory with every connection ever opened.
   */
  rebuild(batchSize = 10_000): { streams: number; events: number } {
    let after = 0;
    let events = 0;
    for (;;) {
      const batch = this.store.readAll({ after, limit: batchSize });
      for (const event of batch) {
        const aggregate = this.aggregates.get(categoryOf(event.streamId));
        if (aggregate && aggregate.rebuildAtStart !== false) this.evolve(this.liveActor(event.streamId, aggregate, false), [event]);
      }
      events += batch.length;
      if (batch.length < batchSize) break;
      after = batch[batch.length - 1]!.position;
    }
    for (const [streamId, live] of this.actors) {
      if (live.actor.getSnapshot().status === 'done') this.evict(streamId);
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
    return this.mailboxes.run(streamId, async () => {
      const live = this.liveActor(streamId, aggregate, true);
      const command = await build(live.actor.getSnapshot() as Snapshot);
      return this.handle<Snapshot>(streamId, aggregate, command, metadata);
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
    const snapshot = this.liveActor(streamId, aggregate, true).actor.getSnapshot() as SnapshotFrom<Machine>;
    // A read must not leave behind an actor the runtime would not keep after a command.
    if (!existing && ((snapshot as { status?: string }).status === 'done' || aggregate.keepInMemory === false)) this.evict(streamId);
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
        continue;
      }
      this.evolve(live, [event]);
    }
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
    try {
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
    } finally {
      // A finished stream takes no more commands. Drop its actor however the command ended,
      // not only after an append: a second close or a refused command on a closed (evicted,
      // then reloaded) stream would otherwise keep one actor in memory per such command.
      // Streams that are not kept in memory (connections, sessions) are dropped likewise.
      if (live.actor.getSnapshot().status === 'done' || aggregate.keepInMemory === false) this.evict(streamId);
    }
  }

  private liveActor(streamId: string, aggregate: AnyAggregate, loadHistory: boolean): LiveActor {
    const existing = this.actors.get(streamId);
    if (existing) return existing;
    const actor = createActor(aggregate.machine);
    // Machines hold no I/O, so an error here is a bug in a machine: log it, keep the process.
    actor.subscribe({
      error: (error) => this.logger?.error({ err: error, streamId }, 'actor failed'),
    });
    actor.start();
    const live: LiveActor = { actor, aggregate, version: 0 };
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
