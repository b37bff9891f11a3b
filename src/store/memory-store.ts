import BetterSqlite3, { type Database } from 'better-sqlite3';
import { systemClock, type Clock } from '../core/index.js';
import { assertExpectedVersion } from './expected-version.js';
import { GroupCommitter, type AppendOutcome, type PendingAppend } from './group-commit.js';
import { AsyncProjector } from './async-projector.js';
import { checkpointStoreOf } from './sqlite-store.js';
import type {
  CheckpointStore,
  AppendResult,
  EventStore,
  ExpectedVersion,
  NewEvent,
  Projection,
  ReadAllOptions,
  RecordedEvent,
  StoreObserver,
} from './types.js';

export interface MemoryStoreOptions {
  projections?: readonly Projection[];
  observer?: StoreObserver;
  clock?: Clock;
}

/**
 * The in-memory twin of the SQLite log, for fast tests. Same contract (the store contract
 * suite runs against both): group commit, expected versions, inline and async projections.
 * Events are kept as their JSON text and parsed on read, as the SQLite store does, so a test
 * cannot pass by mutating an object it still holds.
 */
export class InMemoryEventStore implements EventStore {
  readonly readModels: Database;
  readonly checkpoints: CheckpointStore;
  private readonly log: { event: RecordedEvent; data: string; metadata: string }[] = [];
  private readonly streams = new Map<string, number[]>();
  private readonly committer: GroupCommitter;
  private readonly projector: AsyncProjector;
  private readonly inline: readonly Projection[];
  private readonly clock: Clock;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.readModels = new BetterSqlite3(':memory:');
    const projections = options.projections ?? [];
    for (const projection of projections) projection.setup(this.readModels);
    this.checkpoints = checkpointStoreOf(this.readModels);
    this.inline = projections.filter((projection) => projection.mode === 'inline');
    this.committer = new GroupCommitter(this.commitBatch, 2000, options.observer);
    this.projector = new AsyncProjector(
      this.readModels,
      projections.filter((projection) => projection.mode === 'async'),
      (after, limit) => this.readAll({ after, limit }),
      0,
    );
    this.committer.onCommitted(() => this.projector.schedule());
  }

  append(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return this.committer.append(streamId, events, expected);
  }

  onCommitted(listener: (events: readonly RecordedEvent[]) => void): () => void {
    return this.committer.onCommitted(listener);
  }

  readStream(streamId: string, fromVersion = 1): RecordedEvent[] {
    const positions = this.streams.get(streamId) ?? [];
    return positions.slice(Math.max(0, fromVersion - 1)).map((position) => this.materialize(position));
  }

  readAll(options: ReadAllOptions = {}): RecordedEvent[] {
    const result: RecordedEvent[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    for (let index = options.after ?? 0; index < this.log.length && result.length < limit; index++) {
      const { event } = this.log[index]!;
      if (options.streamId !== undefined && event.streamId !== options.streamId) continue;
      if (options.type !== undefined && event.type !== options.type) continue;
      result.push(this.materialize(index + 1));
    }
    return result;
  }

  streamVersion(streamId: string): number {
    return this.streams.get(streamId)?.length ?? 0;
  }

  headPosition(): number {
    return this.log.length;
  }

  async close(): Promise<void> {
    this.committer.close();
    this.committer.flush();
    this.projector.stop();
    this.projector.runOnce();
    this.readModels.close();
  }

  private materialize(position: number): RecordedEvent {
    const stored = this.log[position - 1]!;
    return { ...stored.event, data: JSON.parse(stored.data), metadata: JSON.parse(stored.metadata) };
  }

  private readonly commitBatch = (batch: readonly PendingAppend[]): AppendOutcome[] => {
    const recordedAt = this.clock.now();
    return batch.map((pending): AppendOutcome => {
      const { streamId, serialized, expected } = pending;
      const current = this.streamVersion(streamId);
      try {
        assertExpectedVersion(streamId, expected, current);
      } catch (error) {
        return { ok: false, error };
      }
      const recorded: RecordedEvent[] = serialized.map((row, index) => ({
        position: this.log.length + index + 1,
        streamId,
        version: current + index + 1,
        type: row.type,
        data: JSON.parse(row.data) as unknown,
        metadata: JSON.parse(row.metadata) as RecordedEvent['metadata'],
        recordedAt,
      }));
      // Inline projections run first, in a read-model transaction: if one throws, neither
      // the read model nor the log keeps anything of this append.
      try {
        this.readModels.transaction(() => {
          for (const projection of this.inline) {
            for (const event of recorded) projection.apply(this.readModels, event);
          }
        })();
      } catch (error) {
        return { ok: false, error };
      }
      for (let index = 0; index < recorded.length; index++) {
        const event = recorded[index]!;
        this.log.push({ event, data: serialized[index]!.data, metadata: serialized[index]!.metadata });
        const positions = this.streams.get(streamId) ?? [];
        positions.push(event.position);
        this.streams.set(streamId, positions);
      }
      return { ok: true, result: { nextVersion: current + recorded.length, lastPosition: this.log.length, events: recorded } };
    });
  };
}
