import type { RecordedEvent } from '../core/index.js';
import type { EventStore } from '../store/index.js';
import type { MessageSource } from './message-source.js';

interface Subscription {
  cursor: number;
  listener: (events: readonly RecordedEvent[]) => void;
}

const READ_BATCH = 1000;

/**
 * The single-node MessageSource: the SQLite log. Own commits arrive at once through the
 * store's `onCommitted` (before the appender's promise resolves, so a processor has seen an
 * event by the time its command is answered); events other processes appended (the CLI) are
 * found by polling, within `pollMs`. Each subscription keeps its own cursor, so a late or
 * checkpointed subscriber catches up from the log before it gets live batches.
 */
export class LocalLogSource implements MessageSource {
  private readonly subscriptions = new Set<Subscription>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  head(): number {
    return this.store.headPosition();
  }

  read(after: number, limit: number): readonly RecordedEvent[] {
    return this.store.readAll({ after, limit });
  }

  follow(after: number, listener: (events: readonly RecordedEvent[]) => void): () => void {
    const subscription: Subscription = { cursor: after, listener };
    this.subscriptions.add(subscription);
    this.ensureStarted();
    this.catchUp(subscription);
    return () => {
      this.subscriptions.delete(subscription);
      if (this.subscriptions.size === 0) this.stop();
    };
  }

  /** Reads what was committed since the last delivery: after another process appended. */
  poll(): void {
    for (const subscription of this.subscriptions) this.catchUp(subscription);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private ensureStarted(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.store.onCommitted((events) => {
      for (const subscription of this.subscriptions) {
        // The common case: our own batch follows straight on from what was delivered.
        if (events.length > 0 && events[0]!.position === subscription.cursor + 1) this.deliver(subscription, events);
        else this.catchUp(subscription);
      }
    });
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  private catchUp(subscription: Subscription): void {
    try {
      if (this.store.headPosition() <= subscription.cursor) return;
      for (;;) {
        const events = this.store.readAll({ after: subscription.cursor, limit: READ_BATCH });
        if (events.length === 0) return;
        this.deliver(subscription, events);
        if (events.length < READ_BATCH || !this.subscriptions.has(subscription)) return;
      }
    } catch (error) {
      this.onError(error);
    }
  }

  private deliver(subscription: Subscription, events: readonly RecordedEvent[]): void {
    const fresh = events[0]!.position > subscription.cursor ? events : events.filter((event) => event.position > subscription.cursor);
    if (fresh.length === 0) return;
    subscription.cursor = fresh[fresh.length - 1]!.position;
    try {
      subscription.listener(fresh);
    } catch (error) {
      this.onError(error);
    }
  }
}
