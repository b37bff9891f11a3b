import type { Clock } from '../core/index.js';

export interface SchedulerLogger {
  error(details: Record<string, unknown>, message: string): void;
}

/** What a timer does when it fires: usually it executes a command on an actor, stamped with `now`. */
export type TimerCommand = (now: number) => unknown;

/** The longest delay setTimeout honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Repeating {
  intervalMs: number;
  run: TimerCommand;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Domain timers as commands (DESIGN.md "How the domain is written"): machines hold no timers,
 * modules call no setTimeout; they ask the scheduler, which issues the command with the
 * clock's `now` when the time comes. One place to stop them all at shutdown, and to wait for
 * the commands they started.
 */
export class Scheduler {
  private readonly repeating = new Map<string, Repeating>();
  private readonly once = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  private started = false;

  constructor(
    private readonly clock: Clock,
    private readonly logger: SchedulerLogger,
  ) {}

  /** Issues `run` every `intervalMs` from `start()` until `stop()`. */
  every(name: string, intervalMs: number, run: TimerCommand): void {
    if (this.repeating.has(name)) throw new Error(`timer ${name} scheduled twice`);
    const entry: Repeating = { intervalMs, run, timer: undefined };
    this.repeating.set(name, entry);
    if (this.started) this.arm(name, entry);
  }

  /**
   * Issues `run` once at `at` (clock time); the same key again replaces the earlier one. A time
   * further off than setTimeout can wait (2^31 - 1 ms, about 24.8 days: Node fires longer
   * delays at once) is reached in steps, each re-reading the clock.
   */
  at(key: string, at: number, run: TimerCommand): void {
    this.cancel(key);
    const delay = Math.max(0, at - this.clock.now());
    const timer = setTimeout(() => {
      this.once.delete(key);
      if (delay > MAX_TIMEOUT_MS && this.clock.now() < at) this.at(key, at, run);
      else this.fire(key, run);
    }, Math.min(delay, MAX_TIMEOUT_MS));
    timer.unref();
    this.once.set(key, timer);
  }

  cancel(key: string): void {
    const timer = this.once.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.once.delete(key);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const [name, entry] of this.repeating) this.arm(name, entry);
  }

  /** Stops every timer and waits for the commands already issued. */
  async stop(): Promise<void> {
    this.started = false;
    for (const entry of this.repeating.values()) clearInterval(entry.timer);
    for (const timer of this.once.values()) clearTimeout(timer);
    this.once.clear();
    await Promise.allSettled([...this.running]);
  }

  /** Timers pending (one-shot) and repeating, for tests and metrics. */
  get size(): number {
    return this.once.size + this.repeating.size;
  }

  private arm(name: string, entry: Repeating): void {
    entry.timer = setInterval(() => this.fire(name, entry.run), entry.intervalMs);
    entry.timer.unref();
  }

  private fire(name: string, run: TimerCommand): void {
    try {
      const result = run(this.clock.now());
      if (result instanceof Promise) {
        this.running.add(result);
        result.then(
          () => this.running.delete(result),
          (error: unknown) => {
            this.running.delete(result);
            this.logger.error({ err: error, timer: name }, 'timer command failed');
          },
        );
      }
    } catch (error) {
      this.logger.error({ err: error, timer: name }, 'timer command failed');
    }
  }
}
