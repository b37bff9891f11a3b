import type { SocketSink } from '../connection.js';

/**
 * A WebSocket sink that can give what it has just written a TCP read of its own at the
 * client: after `boundary()`, what is sent next is held, in order, and written a timer turn
 * later.
 *
 * Why: socket.io writes a namespace's CONNECT answer before it runs the namespace's
 * connection handlers, and engine.io writes each packet to the socket as it is sent, so what
 * those handlers emit is a second write, some 0.1-0.3 ms of socket.io's own work after the
 * answer; a client nearly always reads the answer on its own. uWS corks every send made inside
 * one message callback into a single write, so the answer and what follows it reached the
 * client in one read. Clients that re-arm a one-shot listener per message in a promise
 * continuation (the official socket.io-protocol suite's `waitFor`, over `ws`, which emits every
 * message of one read synchronously) lose every message after the first of a read.
 *
 * Why a timer (Node's least, 1 ms) and not `setImmediate`: after `setImmediate` the second
 * write follows the first by some 50 µs, often before a client has woken up to read the first
 * (measured with the suite's client on an idle machine: 60% of CONNECTs read as one, against
 * 5% with socket.io 4.8; with the timer, under 1%). The held messages cost that much latency
 * once per CONNECT, nothing else: without a boundary, sends go straight through.
 */
export class WriteBoundarySink implements SocketSink {
  private held: { message: string | Uint8Array; isBinary: boolean }[] | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: SocketSink,
    private readonly maxBufferedBytes: number,
    /** Held messages overflowed the socket's buffer when written (its backpressure cap): the connection must close. */
    private readonly overflowed: () => void,
  ) {}

  /** What is sent from now until the timer fires goes out then, in one later write. */
  boundary(): void {
    if (this.held) return;
    this.held = [];
    this.timer = setTimeout(() => this.flush(), 0);
  }

  send(message: string | Uint8Array, isBinary: boolean): number {
    if (!this.held) return this.socket.send(message, isBinary);
    this.held.push({ message, isBinary });
    // Queued here, not in the socket: the cap is checked as they are written (`flush`).
    return 0;
  }

  bufferedAmount(): number {
    return this.socket.bufferedAmount();
  }

  /** What was sent before the close goes out before it. */
  end(code: number, reason: string): void {
    this.flush();
    this.socket.end(code, reason);
  }

  /** The socket has closed: nothing held may be written to it any more. */
  discard(): void {
    clearTimeout(this.timer);
    this.held = undefined;
  }

  private flush(): void {
    const held = this.held;
    this.discard();
    if (!held) return;
    for (const { message, isBinary } of held) {
      // The same check as ClientConnection.sendEncoded makes for a send that is not held.
      const status = this.socket.send(message, isBinary);
      if (status === 2 || (status === 0 && this.socket.bufferedAmount() > this.maxBufferedBytes)) {
        this.overflowed();
        return;
      }
    }
  }
}
