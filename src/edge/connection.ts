import { DISCONNECT, type Disconnect } from '../core/index.js';
import { ANONYMOUS, type Codec, type Principal, type Transport } from '../core/index.js';
import { encodeFrame, type OutboundFrame } from '../protocol/index.js';

/**
 * What a connection needs of its socket. `app.ts` implements it over a uWS WebSocket; the
 * indirection keeps uWS in one file and lets the frame logic be tested without a socket.
 */
export interface SocketSink {
  /** 1 sent, 0 sent but buffered (backpressure), 2 dropped. */
  send(message: string | Uint8Array, isBinary: boolean): number;
  end(code: number, reason: string): void;
  bufferedAmount(): number;
}

export interface ConnectionLimits {
  maxBackpressureBytes: number;
  badFrameLimit: number;
  badFrameWindowMs: number;
}

/**
 * How a connection that does not speak native frames (Socket.IO) puts a frame on the wire.
 * Its messages bypass `encodeFrame`, so anything that pre-encodes one frame for many
 * connections must skip connections that have an encoder.
 */
export interface FrameEncoder {
  /** The WebSocket messages carrying `frame`: none, one, or several (binary attachments). */
  encode(frame: OutboundFrame): Iterable<string | Uint8Array>;
  /** Messages to send just before the server closes the socket with `code` (Socket.IO: DISCONNECT). */
  closing?(code: number, reason: string): Iterable<string | Uint8Array>;
  /**
   * A key naming every encoder that turns the same push (a frame without `id`) into the same
   * messages right now (Socket.IO: one Engine.IO version and transport, `/` connected), so a
   * fan-out encodes a push once per key; undefined when this one must encode its own.
   */
  sharedPushKey?(): string | undefined;
}

export interface ConnectionInfo {
  id: string;
  codec: Codec;
  transport: Transport;
  remoteAddress: string;
  userAgent: string | null;
  origin: string | null;
}

/**
 * One client socket's state at the edge: its codec, counters, abuse window and the way
 * out. Every send goes through `send()`, which enforces the backpressure cap.
 */
export class ClientConnection {
  framesIn = 0;
  framesOut = 0;
  /** Set once the socket is closed (by either side); the sink must not be touched after. */
  closed = false;
  /** Who this socket speaks for; set by the identity handlers, read by everything else. */
  principal: Principal = ANONYMOUS;
  /** Cleared when the connection closes (the authentication deadline). */
  timers: NodeJS.Timeout[] = [];
  private badFrameTimes: number[] = [];

  constructor(
    readonly info: ConnectionInfo,
    private readonly sink: SocketSink,
    private readonly limits: ConnectionLimits,
    private readonly countOut: (codec: Codec) => void,
    readonly encoder?: FrameEncoder,
  ) {}

  get id(): string {
    return this.info.id;
  }

  get codec(): Codec {
    return this.info.codec;
  }

  send(frame: OutboundFrame): void {
    if (this.closed) return;
    if (this.encoder) {
      for (const message of this.encoder.encode(frame)) this.sendEncoded(message, typeof message !== 'string');
      return;
    }
    const encoded = encodeFrame(this.info.codec, frame);
    this.sendEncoded(encoded, typeof encoded !== 'string');
  }

  /** Sends bytes already in this connection's codec (the relay path forwards these). */
  sendEncoded(message: string | Uint8Array, isBinary: boolean): void {
    if (this.closed) return;
    const status = this.sink.send(message, isBinary);
    this.framesOut += 1;
    this.countOut(this.info.codec);
    // A reader that does not keep up would make us buffer without bound: past the cap it
    // is closed, its buffer freed, and it may reconnect (4008 is in the retryable range).
    // Status 1 means written with nothing left queued: only a buffered send needs the count.
    if (status === 2 || (status === 0 && this.sink.bufferedAmount() > this.limits.maxBackpressureBytes)) {
      this.close(DISCONNECT.slowConsumer);
    }
  }

  reply(id: number | undefined, event: string, data: unknown): void {
    this.send({ event, data, id });
  }

  /**
   * Counts a frame that was the client's fault (edge/dispatch.ts decides which); past
   * `badFrameLimit` within the window the socket is closed (4400).
   */
  countBadFrame(now: number): void {
    const windowStart = now - this.limits.badFrameWindowMs;
    this.badFrameTimes = this.badFrameTimes.filter((time) => time > windowStart);
    this.badFrameTimes.push(now);
    if (this.badFrameTimes.length >= this.limits.badFrameLimit) this.close(DISCONNECT.badFrames);
  }

  /** Ends the socket the catalogued way; `detail` replaces the catalogue's reason text (same code). */
  close(disconnect: Disconnect, detail?: string): void {
    if (this.closed) return;
    this.closed = true;
    const { code } = disconnect;
    const reason = detail ?? disconnect.reason;
    // Straight to the sink: the socket is closing, so backpressure no longer matters.
    for (const message of this.encoder?.closing?.(code, reason) ?? []) this.sink.send(message, typeof message !== 'string');
    this.sink.end(code, reason);
  }
}

