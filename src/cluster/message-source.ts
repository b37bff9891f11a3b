import type { RecordedEvent } from '../core/index.js';

/**
 * Where processors read the log from. On one node it is the SQLite log itself (local.ts);
 * in a cluster it will be a JetStream consumer. Processors see only this interface, so a
 * reaction written today runs unchanged on either.
 */
export interface MessageSource {
  /** Position of the newest committed event (0 for an empty log). */
  head(): number;
  /** Committed events after `position`, oldest first, at most `limit`. */
  read(after: number, limit: number): readonly RecordedEvent[];
  /**
   * Calls `listener` with every event committed after `after`, in position order, each
   * exactly once, whether this process appended it or another did (the CLI). Returns the
   * function that stops the subscription.
   */
  follow(after: number, listener: (events: readonly RecordedEvent[]) => void): () => void;
}
