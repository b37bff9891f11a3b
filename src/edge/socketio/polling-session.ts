import { DISCONNECT } from '../../core/index.js';
import { encodeV3Payload, encodeV4Payload, type EngineMessage, type EngineVersion } from '../../protocol/index.js';
import type { WebSocketRoute } from '../uws.js';
import type { SocketSink } from '../connection.js';
import type { HttpRequest, HttpResponse } from '../http.js';
import { CLIENT_CLOSED_SESSION, HEARTBEAT_TIMEOUT, type EngineIoOptions, type EngineRouteState } from './engineio-socket.js';

/**
 * One Engine.IO session on HTTP long-polling (polling.ts serves the requests): the sink of
 * its connection, queueing what the layers above send and answering it to the client's held
 * GET. Close semantics follow the reference server (engine.io's Socket and Polling transport).
 */

const NOOP = '6';
const CLOSE = '1';
/** The reason of the gateway's own deadline for a v3 client that stopped polling (`armPollDeadline`). */
const STOPPED_POLLING = 'client stopped polling';

export const engineError = (status: number, error: { code: number; message: string }, headers: Record<string, string> = {}): HttpResponse =>
  ({ status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(error) });

export const BAD_REQUEST = { code: 3, message: 'Bad request' };

/** Bytes a message holds in the queue; UTF-16 units for text, close enough for a cap. */
const sizeOf = (message: EngineMessage): number => (typeof message === 'string' ? message.length : message.byteLength);

function toArrayBuffer(message: EngineMessage): ArrayBuffer {
  const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  // A copy of exactly these bytes: small Buffers share a pooled ArrayBuffer.
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/**
 * Closes after which engine.io forgets the session at once (its `Socket.onClose` for "ping
 * timeout", "parse error", "transport error"): the client is gone or broke the protocol, so
 * no later GET is owed anything and its sid is unknown from then on (400). A GET held at that
 * moment still gets the CLOSE. Other closes wait for the session's next GET, which takes what
 * is queued and the CLOSE: the server's own (engine.io's `socket.close()`), and, unlike
 * engine.io, the client's own CLOSE, whose NOOP answers a GET still on its way (engine.io-client
 * POSTs the CLOSE while its poll is out, on another connection that may arrive first).
 */
function sessionLost(code: number, reason: string): boolean {
  return code === DISCONNECT.badFrames.code || reason === HEARTBEAT_TIMEOUT || reason === STOPPED_POLLING;
}

/** What a polling session needs of the server that holds it (polling.ts). */
export interface PollingHost {
  readonly deps: { options: EngineIoOptions; limits: { maxBackpressureBytes: number } };
  /** The route functions the session's packets run on. */
  readonly route: WebSocketRoute;
  forget(session: PollingSession): void;
  /** The session's upgrade probe (a WebSocket that sent `2probe`), if one is open. */
  probeOf(session: PollingSession): { end(code: number, reason: string): void } | undefined;
}

export class PollingSession implements SocketSink {
  /** What the route's `open` returned: handed back to its `message` and `close`. */
  routeState: unknown;
  /** The same, when it has a connection (every route polling serves). */
  state: EngineRouteState | undefined;
  /** The held GET's answer, while one is held. */
  private held: ((response: HttpResponse) => void) | undefined;
  private heldHeaders: Record<string, string> = {};
  private queue: EngineMessage[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private pollDeadline: NodeJS.Timeout | undefined;
  private forgetTimer: NodeJS.Timeout | undefined;
  /** After `2probe` on a WebSocket: held GETs are answered at once so the client can pause polling. */
  upgrading = false;
  /** After `5`: everything goes to the WebSocket. */
  ws: SocketSink | undefined;
  ended = false;

  constructor(
    readonly sid: string,
    readonly version: EngineVersion,
    private readonly supportsBinary: boolean,
    private readonly host: PollingHost,
  ) {}

  send(message: string | Uint8Array, isBinary: boolean): number {
    if (this.ws) return this.ws.send(message, isBinary);
    if (this.ended) return 2;
    // A fan-out hands text over as UTF-8 bytes (edge/fan-out.ts): a payload tells text from
    // binary by type, so text goes back to a string here.
    this.queue.push(!isBinary && typeof message !== 'string' ? Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('utf8') : message);
    this.queuedBytes += sizeOf(message);
    this.scheduleFlush();
    // Buffered: the connection compares bufferedAmount with its backpressure cap (4008).
    return 0;
  }

  bufferedAmount(): number {
    return this.ws ? this.ws.bufferedAmount() : this.queuedBytes;
  }

  end(code: number, reason: string): void {
    if (this.ws) {
      this.ws.end(code, reason);
      return;
    }
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.pollDeadline);
    const lost = sessionLost(code, reason);
    // A slow consumer's backlog is dropped, and so is everything queued for a client that is
    // gone (engine.io drops its write buffer); otherwise what was sent goes out before CLOSE.
    if (lost || this.queuedBytes > this.host.deps.limits.maxBackpressureBytes) this.queue = [];
    // The client closed (its own CLOSE packet): the held GET just lets go with a NOOP, as the
    // reference server answers; a close of ours is announced with CLOSE.
    this.queue.push(code === DISCONNECT.clientLeft.code && reason === CLIENT_CLOSED_SESSION ? NOOP : CLOSE);
    this.host.probeOf(this)?.end(code, reason);
    if (this.state) this.host.route.close(this.routeState, code, reason);
    if (this.held) this.flush();
    else if (lost) this.host.forget(this);
    // The client may never come back for the CLOSE: forget the session after a while anyway.
    else this.forgetTimer = setTimeout(() => this.host.forget(this), this.host.deps.options.pingTimeoutMs);
  }

  /** A GET with this sid: answered now when there is something to say, else held. */
  poll(request: HttpRequest, headers: Record<string, string>): HttpResponse | Promise<HttpResponse> {
    if (this.held) {
      // Two GETs at once: the reference server answers 400 and closes the session.
      this.state?.connection.close(DISCONNECT.badFrames, 'overlapping long-poll GET');
      return engineError(400, BAD_REQUEST, headers);
    }
    clearTimeout(this.pollDeadline);
    if (this.queue.length > 0 || this.upgrading) return this.answer(headers);
    return new Promise((resolve) => {
      this.held = resolve;
      this.heldHeaders = headers;
      request.signal?.addEventListener('abort', () => {
        if (this.held !== resolve) return;
        // The client went away mid-poll: what is queued waits for its next GET.
        this.held = undefined;
        this.armPollDeadline();
      }, { once: true });
    });
  }

  /** The client's packets, in order; stops at the first that closes the connection. */
  post(messages: readonly EngineMessage[]): void {
    for (const message of messages) {
      if (!this.state || this.state.connection.closed) return;
      this.host.route.message(this.routeState, toArrayBuffer(message), typeof message !== 'string');
    }
  }

  /** The WebSocket took over (`5`): the queue goes to it in order, the held GET gets a NOOP. */
  upgradeTo(sink: SocketSink): void {
    clearTimeout(this.pollDeadline);
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.ws = sink;
    if (this.held) this.respond([NOOP]);
    for (const message of queued) {
      if (this.state?.connection.closed) break;
      if (sink.send(message, typeof message !== 'string') === 2) break;
    }
  }

  /** Answers a held GET at once (the probe: the client waits for it before sending `5`). */
  release(): void {
    if (this.held) this.flush();
  }

  /**
   * engine.io has no deadline of its own for a client that stops polling. In v4 none is
   * needed: the heartbeat closes it (it never fetches the ping it should answer). In v3 the
   * client pings by POST, so one that keeps POSTing but never GETs would hold its session,
   * and a growing queue, for good: the gateway closes it after pingInterval + pingTimeout
   * without a GET.
   */
  armPollDeadline(): void {
    if (this.version === 4 || this.ended || this.ws) return;
    const { pingIntervalMs, pingTimeoutMs } = this.host.deps.options;
    clearTimeout(this.pollDeadline);
    this.pollDeadline = setTimeout(() => {
      if (!this.held && !this.ws) this.state?.connection.close(DISCONNECT.timeout, STOPPED_POLLING);
    }, pingIntervalMs + pingTimeoutMs);
  }

  private scheduleFlush(): void {
    if (!this.held || this.flushScheduled) return;
    // Everything sent in this turn goes out in one answer.
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.held && this.queue.length > 0) this.flush();
    });
  }

  private flush(): void {
    const resolve = this.held;
    if (!resolve) return;
    this.held = undefined;
    resolve(this.answer(this.heldHeaders));
  }

  private respond(messages: readonly EngineMessage[]): void {
    const resolve = this.held;
    this.held = undefined;
    resolve?.(this.encode(messages, this.heldHeaders));
  }

  /** Everything queued (or a NOOP), now. */
  answer(headers: Record<string, string>): HttpResponse {
    const messages = this.queue.length > 0 ? this.queue : [NOOP];
    this.queue = [];
    this.queuedBytes = 0;
    if (this.ended) {
      clearTimeout(this.forgetTimer);
      this.host.forget(this);
    } else {
      this.armPollDeadline();
    }
    return this.encode(messages, headers);
  }

  private encode(messages: readonly EngineMessage[], headers: Record<string, string>): HttpResponse {
    if (this.version === 4) return { status: 200, headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers }, body: encodeV4Payload(messages) };
    const body = encodeV3Payload(messages, this.supportsBinary);
    return typeof body === 'string'
      ? { status: 200, headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers }, body }
      : { status: 200, headers: { 'content-type': 'application/octet-stream', ...headers }, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
  }
}
