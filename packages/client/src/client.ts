import { reconnectAllowed } from '../../../src/core/disconnect.js';
import type { ResumeData } from '../../../src/protocol/topics/resume.js';
import { backoffDelay } from './backoff.js';
import { isSwitchyardError, SwitchyardError, type Receipt } from './errors.js';
import type { ClientOptions, ReconnectOptions, RestartInfo } from './options.js';
import { RequestBook, type Pending } from './requests.js';
import { Heartbeat } from './heartbeat.js';
import { SeqTracker } from './seq.js';
import { EventSurface } from './surface.js';
import { credentialsAfter, missedOf, readWelcome, resumeFailure, RoomBook, signInFrame, type Credentials, type Welcome } from './session.js';
import type { Answer, AnswerOf, CommandData, CommandEvent, CommandResponse, CommandResult, RequestData, RequestEvent } from './topics.js';
import { decodeFrame, encodeFrame, SUBPROTOCOLS, type IncomingFrame, type OutgoingFrame } from './wire.js';
import { resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket.js';

export type ClientState = 'idle' | 'connecting' | 'ready' | 'waiting' | 'closed';

/**
 * Where one socket is on its way to a usable session: `resuming` (sent `resume`, pushes held
 * until `resumed`), `welcome` (waiting for a fresh session's welcome), `signing-in` (the SDK's
 * own sign-in), `restarting` (the app's onRestart hook: its requests go out, queued ones wait),
 * `ready`.
 */
type Phase = 'opening' | 'resuming' | 'welcome' | 'signing-in' | 'restarting' | 'ready';

interface Attempt {
  readonly socket: WebSocketLike;
  phase: Phase;
  /** The handshake's bound; cleared once the server has a session for this socket. */
  timer: ReturnType<typeof setTimeout> | undefined;
  resumeId: number | undefined;
  resumeSince: number;
  /** Pushes that came while resuming, delivered in seq order once `resumed` says the replay is over. */
  held: IncomingFrame[];
  /** A welcome seen while resuming: the fresh session's, should the resume fail. */
  welcome: Welcome | undefined;
  /** Set when this socket's session replaces a lost one. */
  restart: RestartInfo | undefined;
}

export interface RequestOptions {
  /** Default: the client's `requestTimeoutMs`. */
  timeoutMs?: number;
}

export interface CommandOptions extends RequestOptions {
  /** Called with the receipt (`{status:202, topic, messageId}`) once the change is in the log. */
  onReceipt?: (receipt: Receipt) => void;
}

/** `request(event)` for events that take no data, `request(event, data)` for the others. */
type DataArgs<Data, Options> = undefined extends Data ? [data?: Data, options?: Options] : [data: Data, options?: Options];

const DEFAULT_RECONNECT: ReconnectOptions = { baseMs: 500, maxMs: 30_000, maxAttempts: Number.POSITIVE_INFINITY };
/** The SDK's own close code when it drops a socket (handshake or heartbeat timeout): in the "may reconnect" range. */
const ABANDONED = 4000;
/** What the SDK reports for a socket it dropped or that died without a close frame (RFC 6455). */
const ABNORMAL = 1006;

/** A Switchyard client over the native socket (`/ws`): see packages/client/README.md. */
export class SwitchyardClient extends EventSurface {
  private readonly book: RequestBook;
  private readonly seq = new SeqTracker();
  private readonly rooms = new RoomBook();
  private readonly WebSocket: WebSocketConstructor;
  private readonly reconnect: ReconnectOptions | undefined;
  private status: ClientState = 'idle';
  private current: Attempt | undefined;
  private attemptNumber = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly heartbeat: Heartbeat | undefined;
  private session: Welcome = { peerId: undefined, resume: undefined, resumeWindowSeconds: undefined };
  /** Whether the server ever had a session for this client: a later socket either resumes it or replaces it. */
  private hadSession = false;
  private remembered: Credentials | undefined;
  private connected: { promise: Promise<void>; resolve(): void; reject(error: SwitchyardError): void } | undefined;

  constructor(private readonly options: ClientOptions) {
    super(options.onError ?? ((error) => console.error('[switchyard] handler failed:', error)));
    this.book = new RequestBook(options.maxQueued ?? 100, this.reportError);
    this.WebSocket = resolveWebSocket(options.WebSocket);
    this.reconnect = options.reconnect === false ? undefined : { ...DEFAULT_RECONNECT, ...options.reconnect };
    const { heartbeat } = options;
    this.heartbeat = heartbeat === false ? undefined : new Heartbeat({ intervalMs: heartbeat?.intervalMs ?? 25_000, timeoutMs: heartbeat?.timeoutMs ?? 10_000 });
  }

  get state(): ClientState {
    return this.status;
  }

  /** This connection's `peer_id` (kept across a resume; new after a restart). */
  get peerId(): string | undefined {
    return this.session.peerId;
  }

  /** Whether the server offered a resume token for the current session. */
  get resumable(): boolean {
    return this.session.resume !== undefined;
  }

  get resumeWindowSeconds(): number | undefined {
    return this.session.resumeWindowSeconds;
  }

  /** The highest `seq` delivered: what a resume asks to continue from. */
  get lastSeq(): number {
    return this.seq.lastSeq;
  }

  get joinedRooms(): ReadonlySet<string> {
    return this.rooms.all;
  }

  /** Requests waiting for a session. */
  get queued(): number {
    return this.book.queued;
  }

  /** Connects (and keeps reconnecting); resolves once the first session is usable, rejects when the client closes before. */
  connect(): Promise<void> {
    if (this.status === 'closed') return Promise.reject(new SwitchyardError('CLOSED', 'the client is closed'));
    if (!this.connected) {
      let resolve!: () => void;
      let reject!: (error: SwitchyardError) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      this.connected = { promise, resolve, reject };
    }
    if (this.status === 'idle') void this.open();
    if (this.status === 'ready') this.connected.resolve();
    return this.connected.promise;
  }

  /** Closes for good (code 1000): waiting requests fail with CLOSED. Resolves when the socket is closed. */
  close(): Promise<void> {
    if (this.status === 'closed') return Promise.resolve();
    const attempt = this.current;
    this.current = undefined;
    this.shutDown('the client was closed');
    this.emit('closed', { code: 1000, reason: 'client closed', willReconnect: false });
    if (!attempt) return Promise.resolve();
    clearTimeout(attempt.timer);
    return new Promise((resolve) => {
      attempt.socket.addEventListener('close', () => resolve());
      attempt.socket.close(1000, 'client closed');
    });
  }

  /**
   * Sends a frame and resolves with its direct answer; rejects with a SwitchyardError on `error`
   * and the reject events. (The answer types are the typed map's: the server's word, taken here.)
   */
  request<Event extends RequestEvent>(event: Event, ...[data, options]: DataArgs<RequestData<Event>, RequestOptions>): Promise<AnswerOf<Event>> {
    return this.requestAny(event, data, options) as Promise<AnswerOf<Event>>;
  }

  /** `request` for events the typed map does not know (yet). */
  requestAny(event: string, data?: unknown, options: RequestOptions = {}): Promise<Answer> {
    const { pending, promise } = this.book.create(event, data, 'request', { timeoutMs: options.timeoutMs ?? this.requestTimeoutMs });
    this.dispatch(pending);
    return promise.then((value) => {
      // The book resolves a 'request' with the answer frame.
      const answer = value as Answer;
      this.afterAnswer(event, data, answer);
      return answer;
    });
  }

  /** An Extream command: `onReceipt` once committed, resolves with the result, rejects on a status of 400 or above. */
  command<Event extends CommandEvent>(event: Event, data: CommandData<Event>, options?: CommandOptions): Promise<CommandResult<CommandResponse<Event>>> {
    return this.commandAny(event, data, options) as Promise<CommandResult<CommandResponse<Event>>>;
  }

  /** `command` for topics the typed map does not know (yet). */
  commandAny(event: string, data?: unknown, options: CommandOptions = {}): Promise<CommandResult> {
    const { pending, promise } = this.book.create(event, data, 'command', { timeoutMs: options.timeoutMs ?? this.requestTimeoutMs, onReceipt: options.onReceipt });
    this.dispatch(pending);
    // The book resolves a 'command' with its result body, checked to have a status below 400.
    return promise as Promise<CommandResult>;
  }

  /** A frame without `id` (no answer on success), sent only while a session is usable: false when it was not sent. Relays are for the moment, so they are never queued. */
  send(event: string, data?: unknown): boolean {
    return this.canSend() && this.write({ event, data });
  }

  // ---- requests ----

  private get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs ?? 10_000;
  }

  private canSend(): boolean {
    const phase = this.current?.phase;
    return phase === 'ready' || phase === 'restarting';
  }

  private dispatch(pending: Pending): void {
    if (this.status === 'closed') this.book.fail(pending, new SwitchyardError('CLOSED', `the client is closed: ${pending.event} was not sent`));
    else if (this.canSend()) this.transmit(pending);
    else this.book.enqueue(pending);
  }

  private transmit(pending: Pending): void {
    const id = this.book.sent(pending);
    this.write({ event: pending.event, data: pending.data, id });
  }

  /** The SDK's own requests (sign-in, heartbeat): straight onto the socket, never queued. */
  private internalRequest(event: string, data: unknown, timeoutMs: number): Promise<Answer> {
    const { pending, promise } = this.book.create(event, data, 'request', { timeoutMs });
    this.transmit(pending);
    return promise as Promise<Answer>;
  }

  private write(frame: OutgoingFrame): boolean {
    const socket = this.current?.socket;
    if (!socket) return false;
    try {
      socket.send(encodeFrame(this.options.codec ?? 'json', frame));
      return true;
    } catch (error) {
      // Sent on a socket that is closing: its close event follows and cuts what is in flight.
      this.reportError(error);
      return false;
    }
  }

  private afterAnswer(event: string, data: unknown, answer: Answer): void {
    this.rooms.answered(event, data, answer);
    if (this.options.auth?.remember === false) return;
    const credentials = credentialsAfter(event, data, answer);
    if (credentials !== undefined) this.remembered = credentials ?? undefined;
  }

  // ---- sockets ----

  private async open(): Promise<void> {
    this.status = 'connecting';
    this.emit('connecting', { attempt: this.attemptNumber });
    if (this.status !== 'connecting') return;
    let socket: WebSocketLike;
    try {
      const { url } = this.options;
      const target = typeof url === 'string' ? url : await url();
      if (this.status !== 'connecting') return;
      socket = new this.WebSocket(target, [SUBPROTOCOLS[this.options.codec ?? 'json']]);
    } catch (error) {
      this.reportError(error);
      this.lost(ABNORMAL, `could not open a socket: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    socket.binaryType = 'arraybuffer';
    const attempt: Attempt = { socket, phase: 'opening', timer: undefined, resumeId: undefined, resumeSince: 0, held: [], welcome: undefined, restart: undefined };
    this.current = attempt;
    attempt.timer = setTimeout(() => this.abandon(attempt, 'handshake timeout'), this.options.handshakeTimeoutMs ?? 10_000);
    socket.addEventListener('open', () => this.current === attempt && this.opened(attempt));
    socket.addEventListener('message', (event) => this.current === attempt && this.received(attempt, event.data));
    socket.addEventListener('close', (event) => this.current === attempt && this.closedSocket(attempt, event.code, event.reason));
    // A failed socket also closes: the close decides. The listener keeps `ws` from throwing the error.
    socket.addEventListener('error', () => undefined);
  }

  private opened(attempt: Attempt): void {
    const token = this.session.resume;
    if (this.hadSession && token !== undefined && this.options.resume !== false) {
      attempt.phase = 'resuming';
      attempt.resumeSince = this.seq.lastSeq;
      attempt.resumeId = this.book.nextId();
      const data: ResumeData = { session: token, since: attempt.resumeSince };
      this.write({ event: 'resume', data, id: attempt.resumeId });
      return;
    }
    if (this.hadSession) this.replaced(attempt, this.options.resume === false ? 'disabled' : 'unsupported');
    attempt.phase = 'welcome';
  }

  private received(attempt: Attempt, message: unknown): void {
    const frame = typeof message === 'string' || message instanceof ArrayBuffer || ArrayBuffer.isView(message) ? decodeFrame(message) : undefined;
    if (!frame) return;
    this.heartbeat?.beat();
    if (frame.event === 'welcome' && frame.id === undefined) return this.welcomed(attempt, readWelcome(frame.data));
    if (attempt.phase === 'resuming') {
      if (frame.event === 'resumed') return this.resumed(attempt, frame.data);
      if (frame.event === 'resume-failed') return this.resumeFailed(attempt, resumeFailure(frame.data));
      // A server without resume answers it with `error` (UNKNOWN_EVENT) on its id.
      if (frame.id !== undefined && frame.id === attempt.resumeId) return this.resumeFailed(attempt, 'unsupported');
    }
    if (frame.id !== undefined && this.book.answer(frame)) {
      // An answer made from a committed event (the joiner's room-join-accept) carries its seq:
      // seen, so a resume neither asks for it again nor delivers its replay as a push.
      this.seq.admit(frame);
      return;
    }
    if (attempt.phase === 'resuming') attempt.held.push(frame);
    else if (this.seq.admit(frame)) this.deliver(frame);
  }

  private welcomed(attempt: Attempt, welcome: Welcome): void {
    if (attempt.phase === 'resuming') {
      attempt.welcome = welcome;
      return;
    }
    if (attempt.phase !== 'welcome') {
      // A session that is already up: only a new resume token is news.
      if (welcome.resume !== undefined) this.session = { ...this.session, resume: welcome.resume, resumeWindowSeconds: welcome.resumeWindowSeconds };
      return;
    }
    this.session = welcome;
    this.hadSession = true;
    void this.startFresh(attempt);
  }

  private resumed(attempt: Attempt, data: unknown): void {
    const welcome = readWelcome(data);
    // The token just used is spent: `resumed` carries the next one.
    this.session = {
      peerId: welcome.peerId ?? this.session.peerId,
      resume: welcome.resume ?? this.session.resume,
      resumeWindowSeconds: welcome.resumeWindowSeconds ?? this.session.resumeWindowSeconds,
    };
    const held = this.seq.resumeBatch(attempt.held);
    attempt.held = [];
    for (const frame of held) this.deliver(frame);
    this.emit('resumed', { missed: missedOf(data), peerId: this.session.peerId });
    if (this.current === attempt) this.ready(attempt, true);
  }

  private resumeFailed(attempt: Attempt, reason: string): void {
    this.replaced(attempt, reason);
    const held = attempt.held;
    attempt.held = [];
    attempt.phase = 'welcome';
    this.session = { peerId: undefined, resume: undefined, resumeWindowSeconds: undefined };
    if (attempt.welcome) this.welcomed(attempt, attempt.welcome);
    for (const frame of held) if (this.seq.admit(frame)) this.deliver(frame);
  }

  /** This socket's session is new: what the old one had is gone (its seqs too: the log may be another one). */
  private replaced(attempt: Attempt, reason: string): void {
    this.seq.reset();
    attempt.restart = { reason, rooms: this.rooms.takeAll() };
  }

  private async startFresh(attempt: Attempt): Promise<void> {
    clearTimeout(attempt.timer);
    attempt.phase = 'signing-in';
    await this.signIn(attempt);
    if (this.current !== attempt || !attempt.restart) return void (this.current === attempt && this.ready(attempt, false));
    attempt.phase = 'restarting';
    const info = attempt.restart;
    this.emit('restarted', info);
    try {
      await this.options.onRestart?.(info);
    } catch (error) {
      this.reportError(error);
    }
    if (this.current === attempt) this.ready(attempt, false);
  }

  private async signIn(attempt: Attempt): Promise<void> {
    let credentials: Credentials | undefined;
    try {
      const { auth } = this.options;
      if (auth?.getToken) {
        const token = await auth.getToken();
        credentials = token ? { method: auth.method ?? 'authorize', token } : undefined;
      } else if (auth?.remember !== false) credentials = this.remembered;
    } catch (error) {
      this.emit('auth-failed', { code: 'UNAUTHORIZED', message: `getToken failed: ${error instanceof Error ? error.message : String(error)}` });
      return;
    }
    if (!credentials || this.current !== attempt) return;
    const { event, data } = signInFrame(credentials);
    try {
      this.afterAnswer(event, data, await this.internalRequest(event, data, this.requestTimeoutMs));
    } catch (error) {
      if (this.current !== attempt) return;
      // A remembered token the server refuses now (expired, revoked) is not tried again.
      if (credentials === this.remembered) this.remembered = undefined;
      this.emit('auth-failed', isSwitchyardError(error) ? { code: error.code, message: error.message } : { code: 'INTERNAL', message: String(error) });
    }
  }

  private ready(attempt: Attempt, resumed: boolean): void {
    clearTimeout(attempt.timer);
    attempt.phase = 'ready';
    this.status = 'ready';
    this.attemptNumber = 0;
    for (const pending of this.book.drain()) this.transmit(pending);
    this.heartbeat?.start(
      (timeoutMs) => this.internalRequest('ping', undefined, timeoutMs),
      () => this.abandon(attempt, 'heartbeat timeout'),
    );
    this.emit('open', { peerId: this.session.peerId, resumed });
    this.connected?.resolve();
  }

  private deliver(frame: IncomingFrame): void {
    this.rooms.pushed(frame.event, frame.data, this.session.peerId);
    this.emitPush(frame.event, frame.data, frame.seq);
  }

  // ---- losing a socket ----

  /** Drops a socket that stopped answering: reported now, as a dead network may not deliver a close for minutes. */
  private abandon(attempt: Attempt, reason: string): void {
    if (this.current !== attempt) return;
    try {
      attempt.socket.close(ABANDONED, reason);
    } catch (error) {
      this.reportError(error);
    }
    this.closedSocket(attempt, ABNORMAL, reason);
  }

  private closedSocket(attempt: Attempt, code: number, reason: string): void {
    this.current = undefined;
    clearTimeout(attempt.timer);
    this.lost(code, reason);
  }

  private lost(code: number, reason: string): void {
    this.heartbeat?.stop();
    this.book.cutInFlight();
    if (this.status === 'closed') return;
    const reconnect = this.reconnect;
    const willReconnect = reconnect !== undefined && reconnectAllowed(code) && this.attemptNumber < reconnect.maxAttempts;
    if (!willReconnect) this.shutDown(`closed with ${code} ${reason}`.trim());
    else this.status = 'waiting';
    this.emit('closed', { code, reason, willReconnect });
    if (!willReconnect || this.status !== 'waiting') return;
    this.attemptNumber += 1;
    const delayMs = backoffDelay(this.attemptNumber, reconnect!, this.options.random);
    this.emit('reconnecting', { attempt: this.attemptNumber, delayMs });
    if (this.status !== 'waiting') return;
    this.reconnectTimer = setTimeout(() => void this.open(), delayMs);
  }

  private shutDown(why: string): void {
    this.status = 'closed';
    clearTimeout(this.reconnectTimer);
    this.heartbeat?.stop();
    this.book.failAll(() => new SwitchyardError('CLOSED', `the client will not reconnect (${why})`));
    this.connected?.reject(new SwitchyardError('CLOSED', `the client will not reconnect (${why})`));
  }
}
