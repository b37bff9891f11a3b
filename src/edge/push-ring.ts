import type { OutboundFrame } from '../protocol/index.js';

/** What a resume with `since` gets from a connection's kept pushes (PROTOCOL.md section 11). */
export type Replay =
  | { kind: 'replay'; frames: OutboundFrame[] }
  /** A push after `since` is no longer kept (evicted, or never kept): replaying would hide a loss. */
  | { kind: 'gap' }
  /** `since` is past every seq this connection was sent: not a position of this session. */
  | { kind: 'future' };

/**
 * The last pushes with a `seq` one connection was sent (attached or detached), in send order,
 * for a resume to replay. Made at the first such push (an idle socket has none), grown up to
 * `capacity`, then circular. Entries are the frames themselves, shared with every other
 * recipient of a fan-out: a ring costs a reference per push, not a copy.
 *
 * `since` is the seq of the last push the client saw (the SDK sends the highest it saw). Pushes
 * are not always in seq order on one socket: two processors handling one commit batch, or a
 * topic's push right after its commit, interleave (A:100, A:101, B:100, B:101). The socket
 * delivers a prefix of the send order, so the replay is everything sent after the first kept
 * push with seq == since, in send order: nothing the client may have missed is left out, and in
 * the interleaved case a push it did see can come again (the SDK drops those by seq and event).
 * When no kept push has that seq, it is everything kept with seq > since, provided nothing
 * with a higher seq was dropped; otherwise the answer is a gap, never a silent loss.
 */
export class PushRing {
  /** Made at the first push kept: an anonymous connection only counts. */
  private entries: OutboundFrame[] | undefined;
  /** Index of the oldest entry once the ring is full. */
  private start = 0;
  /** The highest seq this connection was sent: a `since` above it is `future`. */
  newest = 0;
  /** The highest seq sent but not kept (evicted from a full ring, or sent while not kept at all). */
  highestDropped = 0;

  constructor(private readonly capacity: number) {}

  /** Records a push with a seq; `keep` false only counts it (the connection is not resumable now: anonymous). */
  add(frame: OutboundFrame & { seq: number }, keep: boolean): void {
    if (frame.seq > this.newest) this.newest = frame.seq;
    if (!keep || this.capacity === 0) {
      if (frame.seq > this.highestDropped) this.highestDropped = frame.seq;
      // What is kept must be contiguous in send order: a replay after an older push must not
      // skip this one.
      this.entries = undefined;
      this.start = 0;
      return;
    }
    // A direct answer's id names a request of the old socket (a Socket.IO ack number of its
    // session): a replay on a new socket must not answer an unrelated request of the same number.
    const kept = frame.id === undefined && frame.interim === undefined ? frame : { event: frame.event, data: frame.data, seq: frame.seq };
    const entries = (this.entries ??= []);
    if (entries.length < this.capacity) {
      entries.push(kept);
      return;
    }
    const evicted = entries[this.start]!;
    if (evicted.seq! > this.highestDropped) this.highestDropped = evicted.seq!;
    entries[this.start] = kept;
    this.start = (this.start + 1) % this.capacity;
  }

  get size(): number {
    return this.entries?.length ?? 0;
  }

  /** What to replay to a client that last saw `since`. */
  replay(since: number): Replay {
    if (since > this.newest) return { kind: 'future' };
    const ordered = this.inOrder();
    const seen = ordered.findIndex((frame) => frame.seq === since);
    if (seen !== -1) return { kind: 'replay', frames: ordered.slice(seen + 1) };
    if (since < this.highestDropped) return { kind: 'gap' };
    return { kind: 'replay', frames: ordered.filter((frame) => frame.seq! > since) };
  }

  private inOrder(): OutboundFrame[] {
    const entries = this.entries ?? [];
    return this.start === 0 ? entries : [...entries.slice(this.start), ...entries.slice(0, this.start)];
  }
}
