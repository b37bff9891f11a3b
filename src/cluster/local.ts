import type { EventStore, RecordedEvent } from '../store/types.js';

/**
 * Delivers every committed event exactly once and in position order, whether this process
 * wrote it or another did (the CLI appends while the server runs). Own commits arrive at
 * once through `onCommitted`; others are found by polling, within `pollMs`.
 */
export class LogFollower {
  private cursor: number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly listeners: ((events: readonly RecordedEvent[]) => void)[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.cursor = store.headPosition();
  }

  subscribe(listener: (events: readonly RecordedEvent[]) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.unsubscribe = this.store.onCommitted((events) => {
      // The common case: our own batch follows straight on from what was delivered.
      if (events.length > 0 && events[0]!.position === this.cursor + 1) this.deliver(events);
      else this.catchUp();
    });
    this.timer = setInterval(() => this.catchUp(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
  }

  catchUp(): void {
    try {
      if (this.store.headPosition() <= this.cursor) return;
      for (;;) {
        const events = this.store.readAll({ after: this.cursor, limit: 1000 });
        if (events.length === 0) return;
        this.deliver(events);
        if (events.length < 1000) return;
      }
    } catch (error) {
      this.onError(error);
    }
  }

  private deliver(events: readonly RecordedEvent[]): void {
    const fresh = events.filter((event) => event.position > this.cursor);
    if (fresh.length === 0) return;
    this.cursor = fresh[fresh.length - 1]!.position;
    for (const listener of this.listeners) {
      try {
        listener(fresh);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
