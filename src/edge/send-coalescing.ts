import { DISCONNECT } from '../core/index.js';
import type { SocketSink } from './connection.js';

/**
 * Send coalescing (issue 15): every message for one socket within one turn of the event loop
 * leaves in one write.
 *
 * uWS corks the socket whose message callback runs: what is sent to that socket there is
 * written once, when the callback returns. Every other send is written at once, one syscall
 * per message: a relay to its target (sent from the sender's callback), a push after a
 * commit, a timer's frame. Here such a send waits in its socket's queue until the end of this
 * macrotask (`setImmediate`, which runs after every read of this poll), and each queue then
 * goes out inside one `cork`: a target that 16 relays reached in one turn gets one write
 * instead of 16 (bench/RESULTS.md, send coalescing).
 *
 * What does not change:
 * - order: a socket's messages leave in the order they were sent. A send to the socket in
 *   its own callback (direct, into uWS's cork) first writes what is queued; `end` writes the
 *   queue before the close frame;
 * - backpressure (PROTOCOL.md section 2, `maxBackpressureBytes`): what is queued counts as
 *   buffered. A queued send answers 0 ("buffered"), so the connection compares
 *   `bufferedAmount()`, the queue plus uWS's own buffer, with its cap, and closes a slow
 *   reader with 4008 exactly as before. A send uWS would drop (its buffer past the route's
 *   hard limit, counting the queue) answers 2 at once, as uWS would;
 * - a message's bytes must not change until the end of the macrotask (the relay carves each
 *   spliced frame from a slab instead of reusing one buffer; every other sender's bytes are
 *   its own already).
 */

/** What a writer needs of a uWS WebSocket, structurally (uws.ts stays the only uWS importer). */
export interface CorkableSocket {
  send(message: string | Uint8Array, isBinary: boolean): number;
  cork(work: () => void): unknown;
  getBufferedAmount(): number;
  end(code: number, reason: string): void;
}

/** Coalescers (one per edge; tests run several in a process) whose flush is scheduled. */
let coalescersPending = 0;
/** See `sendTurnsCompleted`. */
let turnsCompleted = 0;

/**
 * Advances whenever no coalescer of the process has anything left to write: every message
 * handed to a sink before then has been written to its socket (uWS copies what it writes) or
 * dropped with it. A buffer given to `send` may be reused once this has moved on since (the
 * relay's frame slab is, instead of allocating bytes for every spliced frame).
 */
export function sendTurnsCompleted(): number {
  return turnsCompleted;
}

/** uWS's send statuses: 1 written, 0 written but (partly) left in its buffer, 2 dropped. */
const SENT = 1;
const BUFFERED = 0;
const DROPPED = 2;

/** The writers of one edge: which socket's callback runs now, and which have queued messages. */
export class SendCoalescer {
  /** The writer whose uWS message callback is running: uWS corks it, so its sends go straight out. */
  current: CoalescingWriter | undefined = undefined;
  private scheduled: CoalescingWriter[] = [];
  private immediate: NodeJS.Immediate | undefined = undefined;

  constructor(
    /** A write that failed: logged and counted by the edge; the other sockets' writes go on. */
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * A socket's message callback starts: `writer`'s socket is the one uWS has corked. Returns
   * the writer to restore with `leave` when it ends (no closure per message on the hot path).
   */
  enter(writer: CoalescingWriter): CoalescingWriter | undefined {
    const outer = this.current;
    this.current = writer;
    return outer;
  }

  leave(outer: CoalescingWriter | undefined): void {
    this.current = outer;
  }

  /** `writer` has queued its first message of this turn. */
  schedule(writer: CoalescingWriter): void {
    this.scheduled.push(writer);
    if (this.immediate) return;
    coalescersPending += 1;
    this.immediate = setImmediate(() => this.flushAll());
  }

  private flushAll(): void {
    // Writers queueing while this runs (a close that sends) go into the next turn's list.
    const writers = this.scheduled;
    this.scheduled = [];
    this.immediate = undefined;
    for (const writer of writers) {
      try {
        writer.flush();
      } catch (error) {
        this.onError(error);
      }
    }
    coalescersPending -= 1;
    if (coalescersPending === 0) turnsCompleted += 1;
  }
}

/**
 * One socket's sink: sends in its own callback go straight to uWS, all others are queued for
 * the end of the turn. Valid from the socket's open to its close (`closed`), after which it
 * never touches the socket again.
 */
export class CoalescingWriter implements SocketSink {
  /**
   * Messages and their kinds, alternating, in the order sent; undefined while nothing is queued.
   * Made by a turn's first queued send and let go by its flush: an idle socket keeps no array
   * (issue 15, memory per socket; a small array per busy turn is cheap young garbage).
   */
  private queue: (string | Uint8Array | boolean)[] | undefined = undefined;
  private queuedBytes = 0;
  private scheduled = false;
  /**
   * uWS's own buffer for this socket was empty when last read after a write (a flush, a
   * drain), and nothing was written since: `bufferedAmount` can skip the native call.
   */
  private clean = true;
  private closed = false;

  constructor(
    private readonly socket: CorkableSocket,
    private readonly coalescer: SendCoalescer,
    /** The route's uWS `maxBackpressure`: past it uWS drops a send. */
    private readonly hardLimit: number,
  ) {}

  send(message: string | Uint8Array, isBinary: boolean): number {
    if (this.closed) return DROPPED;
    if (this.coalescer.current === this) {
      // Inside the socket's own callback: uWS's cork already makes one write of it all.
      if (this.queue !== undefined) this.flush();
      this.clean = false;
      return this.socket.send(message, isBinary);
    }
    if (this.queuedBytes + (this.clean ? 0 : this.socket.getBufferedAmount()) > this.hardLimit) return DROPPED;
    (this.queue ??= []).push(message, isBinary);
    // A string's length, not its UTF-8 size: within 3x of it, and the cap is a bound, not a budget.
    this.queuedBytes += typeof message === 'string' ? message.length : message.byteLength;
    if (!this.scheduled) {
      this.scheduled = true;
      this.coalescer.schedule(this);
    }
    return BUFFERED;
  }

  bufferedAmount(): number {
    if (this.closed) return 0;
    return this.queuedBytes + (this.clean ? 0 : this.socket.getBufferedAmount());
  }

  /** What was sent before the close goes out before the close frame. */
  end(code: number, reason: string): void {
    if (this.closed) return;
    this.flush();
    if (!this.closed) this.socket.end(code, reason);
  }

  /** uWS drained some of the socket's buffer (its drain callback). */
  drained(): void {
    if (!this.closed) this.clean = this.socket.getBufferedAmount() === 0;
  }

  /** The socket's close callback ran: what is still queued is dropped, as it would be in a closed socket's buffer. */
  socketClosed(): void {
    this.closed = true;
    this.queue = undefined;
    this.queuedBytes = 0;
  }

  /** Writes the queue in one corked write (inside the socket's own callback: into uWS's cork). */
  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    if (this.closed || queue === undefined) return;
    // Nothing queues while this runs (uWS's send and cork call no JavaScript back but `work`).
    this.queue = undefined;
    this.queuedBytes = 0;
    let dropped = false;
    if (queue.length === 2) {
      // One message (a fan-out's push to each of its sockets): uWS writes a lone send in one
      // syscall anyway, and its status, uncorked, says whether any of it stayed buffered.
      const status = this.socket.send(queue[0] as string | Uint8Array, queue[1] as boolean);
      dropped = status === DROPPED;
      this.clean = status === SENT;
    } else {
      this.socket.cork(() => {
        for (let index = 0; index < queue.length; index += 2) {
          if (this.socket.send(queue[index] as string | Uint8Array, queue[index + 1] as boolean) === DROPPED) dropped = true;
        }
      });
      // Inside a cork every send reports success; what stayed buffered shows only now.
      this.clean = this.socket.getBufferedAmount() === 0;
    }
    // Cannot happen while every queued send was admitted against the hard limit above (uWS's
    // buffer only shrinks meanwhile); should it, a message is lost and the reader must not
    // go on as if it were not: the socket is closed as a slow consumer.
    if (dropped && !this.closed) this.socket.end(DISCONNECT.slowConsumer.code, DISCONNECT.slowConsumer.reason);
  }
}
