import { AppError, ConflictError } from '../core/index.js';
import type { ExpectedVersion, NewEvent } from './types.js';

/** Throws CONFLICT unless a stream at `current` satisfies `expected`. Shared by both stores. */
export function assertExpectedVersion(streamId: string, expected: ExpectedVersion, current: number): void {
  if (expected === 'any') return;
  if (expected === 'no_stream') {
    if (current !== 0) throw new ConflictError(streamId, 'no_stream', current);
    return;
  }
  if (expected === 'stream_exists') {
    if (current === 0) throw new ConflictError(streamId, 'stream_exists', current);
    return;
  }
  if (current !== expected) throw new ConflictError(streamId, String(expected), current);
}

export function validateExpectedVersion(expected: ExpectedVersion): void {
  if (typeof expected === 'number') {
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw new AppError('BAD_REQUEST', `expected version must be a non-negative integer, got ${expected}`);
    }
    return;
  }
  if (expected !== 'any' && expected !== 'no_stream' && expected !== 'stream_exists') {
    throw new AppError('BAD_REQUEST', `unknown expected version ${String(expected)}`);
  }
}

export interface SerializedEvent {
  type: string;
  data: string;
  metadata: string;
}

/**
 * Serializes before the event reaches a transaction, so a value JSON cannot hold (a BigInt,
 * a cycle) fails its own append with BAD_REQUEST instead of the whole batch.
 */
export function serializeEvents(streamId: string, events: readonly NewEvent[]): SerializedEvent[] {
  if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > 200) {
    throw new AppError('BAD_REQUEST', 'stream id must be a non-empty string of at most 200 characters');
  }
  if (events.length === 0) throw new AppError('BAD_REQUEST', 'an append needs at least one event');
  return events.map((event) => {
    if (typeof event.type !== 'string' || event.type.length === 0) {
      throw new AppError('BAD_REQUEST', 'every event needs a type');
    }
    let data: string | undefined;
    let metadata: string | undefined;
    try {
      data = JSON.stringify(event.data ?? null);
      metadata = JSON.stringify(event.metadata ?? {});
    } catch {
      throw new AppError('BAD_REQUEST', `event ${event.type} cannot be stored as JSON`);
    }
    // JSON.stringify returns undefined instead of throwing for a function or a symbol; such an
    // event would otherwise reach the transaction and fail the whole batch (NOT NULL, JSON.parse).
    if (typeof data !== 'string' || typeof metadata !== 'string') {
      throw new AppError('BAD_REQUEST', `event ${event.type} cannot be stored as JSON`);
    }
    return { type: event.type, data, metadata };
  });
}
