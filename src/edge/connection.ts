import { DISCONNECT, type Disconnect } from '../core/index.js';
import { ANONYMOUS, type Codec, type Principal, type Transport } from '../core/index.js';
import { encodeFrame, type OutboundFrame } from '../protocol/index.js';
import { PushRing, type Replay } from './push-ring.js';

/** Part of the sink's contract below: when a buffer handed to `send` may be reused. */
export { sendTurnsCompleted } from './send-coalescing.js';

/**
 * What a connection needs of its socket. uws.ts implements it over a uWS WebSocket
 * (send-coalescing.ts's CoalescingWriter); the indirection keeps uWS in one file and lets the
 * frame logic be tested without a socket.
 */
export interface SocketSink {
  /**
   * 1 sent, 0 sent but buffered (backpressure, or queued for the end of this turn: then
   * `bufferedAmount` counts it), 2 dropped. The sink may write `message` later in this
   * macrotask: its bytes must not change until `sendTurnsCompleted()` has moved on.
   */
  send(message: string | Uint8Array, isBinary: boolean): number;
  end(code: number, reason: string): void;
  bufferedAmount(): number;
}

export interface ConnectionLimits {
  maxBackpressureBytes: number;
  badFrameLimit: number;
  badFrameWindowMs: number;
  /**
   * Pushes with a `seq` each connection keeps for a resume (PROTOCOL.md section 11,
   * `resumeBufferPushes`); absent when resume is off: nothing is kept or counted.
   */
  resumeBufferPushes?: number | undefined;
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
  /**
   * This encoder's socket now carries `connection`, an earlier connection it resumed
   * (PROTOCOL.md section 11): called once `connection` writes here, before the replay.
   */
  adopt?(connection: ClientConnection): void;
}

export interface ConnectionInfo {
  id: string;
  codec: Codec;
  transport: Transport;
  remoteAddress: string;
  userAgent: string | null;
  origin: string | null;
}

/** Where a connection writes once its socket has closed: nowhere (it is closed, or about to be detached). */
const SOCKET_GONE: SocketSink = { send: () => 2, end: () => {}, bufferedAmount: () => 0 };

/** A push with its log position, as kept for a resume. */
type SequencedFrame = OutboundFrame & { seq: number };

/**
 * One client connection's state at the edge: its codec, counters, abuse window and the way
 * out. Every send goes through `send()`, which enforces the backpressure cap.
 *
 * Lifetime (PROTOCOL.md section 11): a connection is opened on a socket and usually ends with
 * it (`closed`). An authenticated one whose socket is cut is instead `detached` by the
 * connections module: it stays what rooms, audiences and subscriptions hold, writes nowhere,
 * and keeps its pushes with a `seq`, until a new socket resumes it (`attach`: the new socket's
 * own connection is then its carrier, `handedTo` it) or its window ends (`close`).
 */
export class ClientConnection {
  framesIn = 0;
  framesOut = 0;
  /** Frames that reached the dispatcher: a `resume` must be the first (it may not adopt a socket with state). */
  framesDispatched = 0;
  /** Set once the connection has ended; the sink must not be touched after. */
  closed = false;
  /** Without a socket but kept within the resume window: not closed, frames dropped, pushes with a seq kept. */
  detached = false;
  /** On the connection a resuming socket opened as: the earlier connection that socket now carries. */
  handedTo: ClientConnection | undefined = undefined;
  /** The server's close of this connection, while its socket closes: whether it keeps the session is read from it. */
  endedBy: Disconnect | undefined = undefined;
  /** The secret of this connection's resume token (the connections module makes and checks it). */
  resumeSecret: string | undefined = undefined;
  /** Who this socket speaks for; set by the identity handlers, read by everything else. */
  principal: Principal = ANONYMOUS;
  /** Made at the first bad frame: an idle socket keeps no array (issue 15, memory per socket). */
  private badFrameTimes: number[] | undefined = undefined;
  /** Made at the first push with a seq: an idle socket keeps none. */
  private pushes: PushRing | undefined = undefined;
  /** Where frames go: `socket`, a resuming socket's sink, a detached sink, or nowhere. */
  private sink: SocketSink;
  private currentEncoder: FrameEncoder | undefined;

  constructor(
    readonly info: ConnectionInfo,
    /** The socket this connection was opened on; it never changes (a resume moves `sink`). */
    readonly socket: SocketSink,
    private readonly limits: ConnectionLimits,
    private readonly countOut: (codec: Codec) => void,
    encoder?: FrameEncoder,
  ) {
    this.sink = socket;
    this.currentEncoder = encoder;
  }

  get id(): string {
    return this.info.id;
  }

  get codec(): Codec {
    return this.info.codec;
  }

  /** How frames reach the socket this connection writes to (undefined: native frames). */
  get encoder(): FrameEncoder | undefined {
    return this.currentEncoder;
  }

  /** Whether the socket closed just now and the connections module has not yet kept or closed the connection. */
  get socketLost(): boolean {
    return this.sink === SOCKET_GONE;
  }

  send(frame: OutboundFrame): void {
    if (this.closed) return;
    if (frame.seq !== undefined) this.keep(frame as SequencedFrame);
    if (this.detached) return;
    this.deliver(frame);
  }

  /** Sends bytes already in this connection's codec (the relay path forwards these). */
  sendEncoded(message: string | Uint8Array, isBinary: boolean): void {
    if (this.closed || this.detached) return;
    const status = this.sink.send(message, isBinary);
    this.framesOut += 1;
    this.countOut(this.info.codec);
    // A reader that does not keep up would make us buffer without bound: past the cap it
    // is closed, its buffer freed, and it may reconnect (4008 is in the retryable range).
    // Status 1 means written with nothing left queued: only a buffered send needs the count
    // (a send queued for the end of the turn is one, its count kept in JavaScript).
    if (status === 2 || (status === 0 && this.sink.bufferedAmount() > this.limits.maxBackpressureBytes)) {
      this.close(DISCONNECT.slowConsumer);
    }
  }

  /**
   * Records a push with a seq for a resume, without sending it: `sendToAll` sends the shared
   * bytes itself. Anonymous connections cannot be resumed, so theirs are only counted.
   */
  keep(frame: SequencedFrame): void {
    const capacity = this.limits.resumeBufferPushes;
    if (capacity === undefined) return;
    const kind = this.principal.kind;
    (this.pushes ??= new PushRing(capacity)).add(frame, kind !== 'anonymous' && kind !== 'mfa-pending');
  }

  /** What a resume from `since` replays (PROTOCOL.md section 11). */
  replayFrom(since: number): Replay {
    return this.pushes?.replay(since) ?? (since > 0 ? { kind: 'future' } : { kind: 'replay', frames: [] });
  }

  /** Sends kept pushes again (a resume's replay): they are in the ring already. */
  replay(frames: readonly OutboundFrame[]): void {
    for (const frame of frames) {
      if (this.closed || this.detached) return;
      this.deliver(frame);
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
    const recent = (this.badFrameTimes ?? []).filter((time) => time > windowStart);
    recent.push(now);
    this.badFrameTimes = recent;
    if (recent.length >= this.limits.badFrameLimit) this.close(DISCONNECT.badFrames);
  }

  /**
   * Ends the connection the catalogued way; `detail` replaces the catalogue's reason text
   * (same code). The socket's close follows at once (uWS runs it inside `end`), and with it the
   * connections module's decision: a code that keeps the session (`keepsSession`) on a
   * resumable connection leaves it detached instead of closed.
   */
  close(disconnect: Disconnect, detail?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.endedBy = disconnect;
    const { code } = disconnect;
    const reason = detail ?? disconnect.reason;
    // Straight to the sink: the socket is closing, so backpressure no longer matters.
    const sink = this.sink;
    for (const message of this.currentEncoder?.closing?.(code, reason) ?? []) sink.send(message, typeof message !== 'string');
    sink.end(code, reason);
  }

  /**
   * The route's close callback: this object's socket is gone. The connection writing to it
   * (this one, or the one it carried since a resume) is marked closed and writes nowhere; the
   * connections module then closes it or detaches it. The late close of a socket a resume has
   * replaced touches nothing but its carrier.
   */
  socketClosed(): void {
    const owner = this.handedTo ?? this;
    if (owner !== this) this.closed = true;
    if (owner.sink !== this.socket) return;
    owner.sink = SOCKET_GONE;
    owner.closed = true;
    owner.endedBy ??= this.endedBy;
  }

  /** Keeps the connection without a socket (the connections module): `sink` is where a later `close` goes. */
  detach(sink: SocketSink): void {
    this.sink = sink;
    this.currentEncoder = undefined;
    this.detached = true;
    this.closed = false;
    this.endedBy = undefined;
  }

  /** Ends the socket this connection writes to and keeps the connection, detached: another socket resumes it. */
  releaseSocket(disconnect: Disconnect, sink: SocketSink): void {
    const socket = this.sink;
    const encoder = this.currentEncoder;
    this.detach(sink);
    for (const message of encoder?.closing?.(disconnect.code, disconnect.reason) ?? []) socket.send(message, typeof message !== 'string');
    socket.end(disconnect.code, disconnect.reason);
  }

  /**
   * A connection of a lost cluster node that this socket resumes (PROTOCOL.md section 12): a new
   * object under the old connection's `info`, with this socket's limits, writing nowhere until
   * `attach(this)`.
   */
  successor(info: ConnectionInfo): ClientConnection {
    return new ClientConnection(info, SOCKET_GONE, this.limits, this.countOut);
  }

  /** Writes to the socket `carrier` was opened on from now on (a resume): `carrier` is handed to this one. */
  attach(carrier: ClientConnection): void {
    this.sink = carrier.socket;
    this.currentEncoder = carrier.encoder;
    this.detached = false;
    this.closed = false;
    this.endedBy = undefined;
    carrier.handedTo = this;
    this.currentEncoder?.adopt?.(this);
  }

  private deliver(frame: OutboundFrame): void {
    if (this.currentEncoder) {
      for (const message of this.currentEncoder.encode(frame)) this.sendEncoded(message, typeof message !== 'string');
      return;
    }
    const encoded = encodeFrame(this.info.codec, frame);
    this.sendEncoded(encoded, typeof encoded !== 'string');
  }
}
