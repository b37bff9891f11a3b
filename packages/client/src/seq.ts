import type { IncomingFrame } from './wire.js';

/**
 * Which pushes from the log (those with a `seq`, PROTOCOL.md section 11) this client has
 * delivered, so none is delivered twice, and the highest one seen: what `resume` sends as
 * `since`.
 *
 * A push is known by its event and seq (one committed event may push under two names, e.g.
 * a change and a notice). The set remembers the last `capacity` of them: enough to cover the
 * pushes a resume replays plus any the server had already sent on the old socket.
 *
 * Live pushes are delivered as they come, even below the highest seq seen: pushes of two
 * different server paths (a processor, a topic right after its commit) may cross, and both
 * are new. Ordering is enforced where the protocol promises it, on a resume (`resumeBatch`).
 */
export class SeqTracker {
  private seen = new Set<string>();
  private order: string[] = [];
  private highest = 0;

  constructor(private readonly capacity = 4096) {}

  /** The highest seq delivered; 0 before any. */
  get lastSeq(): number {
    return this.highest;
  }

  /** Whether to deliver this push; records it when so. Pushes without a seq are always delivered. */
  admit(frame: IncomingFrame): boolean {
    if (frame.seq === undefined) return true;
    const key = `${frame.seq}:${frame.event}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.order.push(key);
    if (this.order.length > this.capacity) this.seen.delete(this.order.shift()!);
    if (frame.seq > this.highest) this.highest = frame.seq;
    return true;
  }

  /**
   * The pushes received between `resume` and `resumed`, in delivery order: those from the log
   * by seq (the replay and any live push that overtook it, merged), the ones already delivered
   * (same seq and event) left out; then the others, in arrival order. Not "everything above
   * `since`": two modules' pushes of one commit can arrive interleaved (A:101 before B:100), so
   * a replayed push at or below `since` may be one this client never got.
   */
  resumeBatch(frames: readonly IncomingFrame[]): IncomingFrame[] {
    const logged = frames.filter((frame) => frame.seq !== undefined);
    // Array.prototype.sort is stable: two pushes of one seq keep their arrival order.
    logged.sort((a, b) => a.seq! - b.seq!);
    const unlogged = frames.filter((frame) => frame.seq === undefined);
    return [...logged, ...unlogged].filter((frame) => this.admit(frame));
  }

  /** A fresh session: its log positions may start anywhere (another data dir), so nothing seen counts. */
  reset(): void {
    this.seen = new Set();
    this.order = [];
    this.highest = 0;
  }
}
