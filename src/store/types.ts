import type { ReadModelDatabase } from './projection.js';
import type { NewEvent, RecordedEvent } from '../core/index.js';

export type { EventMetadata, NewEvent, RecordedEvent } from '../core/index.js';
export type { Projection, ReadModelDatabase } from './projection.js';

/**
 * What the caller believes the stream's version is.
 * - a number: the stream's current version (0 means the stream is empty, as `no_stream`)
 * - `no_stream`: the stream must not exist yet
 * - `stream_exists`: the stream must have at least one event
 * - `any`: no check
 */
export type ExpectedVersion = number | 'no_stream' | 'stream_exists' | 'any';

export interface AppendResult {
  /** Version of the stream after the append. */
  nextVersion: number;
  /** Global position of the last appended event. */
  lastPosition: number;
  events: RecordedEvent[];
}

export interface ReadAllOptions {
  /** Return events with position strictly greater than this. */
  after?: number;
  limit?: number;
  streamId?: string;
  type?: string;
}

/**
 * Where checkpointed processors (runtime/processors.ts) keep their positions, in the
 * database that holds the read models. `atomically` runs its work in one transaction, so an
 * async read model's rows and its checkpoint commit together.
 */
export interface CheckpointStore {
  load(name: string): number;
  save(name: string, position: number): void;
  atomically<T>(work: () => T): T;
}

export interface StoreObserver {
  /** Called once per committed batch with each append's wait-to-commit time in seconds. */
  committed?(appendLatenciesSeconds: readonly number[], eventCount: number): void;
}

export interface EventStore {
  append(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult>;
  readStream(streamId: string, fromVersion?: number): RecordedEvent[];
  readAll(options?: ReadAllOptions): RecordedEvent[];
  /** Current version of a stream, 0 when it has no events. */
  streamVersion(streamId: string): number;
  /** Position of the newest committed event, 0 for an empty log. */
  headPosition(): number;
  /** The database that holds the read models (for queries by projections). */
  readonly readModels: ReadModelDatabase;
  /** Commits whatever is queued, then closes. Appends after close are refused. */
  close(): Promise<void>;
  /** Processor checkpoints, next to the read models they describe. */
  readonly checkpoints: CheckpointStore;
  /** Registers a listener called after each commit with the new events, in order. */
  onCommitted(listener: (events: readonly RecordedEvent[]) => void): () => void;
  /**
   * A log read through a copy that may lag its writers (a cluster node's mirror): resolves
   * once the copy holds everything written when asked. Absent where reads are never behind.
   */
  catchUp?(): Promise<void>;
}
