/**
 * The shapes of the event log, shared by every layer: domain code builds NewEvents, the store
 * records them, processors and projections read RecordedEvents. Pure types, no I/O.
 */

/** Who caused an event and why: the audit trail's answer to "who did this, from where". */
export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  /** The principal that issued the command: a user id, `connection:<id>`, `operator`, `system`. */
  actor?: string;
  [key: string]: unknown;
}

export interface NewEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
  metadata?: EventMetadata;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> {
  /** Global position in the log, 1-based, gap-free (rows are never deleted). */
  position: number;
  streamId: string;
  /** Version within the stream, 1-based: a stream's first event has version 1. */
  version: number;
  type: Type;
  data: Data;
  metadata: EventMetadata;
  /** Milliseconds since the epoch, stamped by the store at append. */
  recordedAt: number;
}
