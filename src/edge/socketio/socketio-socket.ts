import type { Clock } from '../../core/index.js';
import { DISCONNECT } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import {
  MAIN_NAMESPACE,
  SocketIoDecoder,
  SocketIoPacketError,
  SocketIoPacketType,
  encodeSocketIoPacket,
  isPlainObject,
  nestsDeeperThan,
  toInboundFrame,
  DEFAULT_MAX_ATTACHMENTS,
  FrameError,
  type EngineHandshake,
  type OutboundFrame,
  type SocketIoPacket,
  type SocketIoRevision,
} from '../../protocol/index.js';
import { RESUME_ANSWERS, RESUME_TOPICS } from '../../protocol/topics/resume.js';
import { ClientConnection, type ConnectionLimits, type FrameEncoder } from '../index.js';
import { EngineSocket, type EngineUpgradeDependencies, type EngineIoOptions, type EngineSocketData } from './engineio-socket.js';
import { ACK_ONLY_EVENT, CONNECT_ACCEPTED, SocketIoArguments, connectTokenEvent, withSeq, type SocketIoFrame } from './socketio-frames.js';
import { WriteBoundarySink } from './write-boundary.js';
import type { Dispatcher } from '../index.js';
import type { GatewayMetrics } from '../index.js';

export { ACK_ONLY_EVENT, SocketIoArguments, acknowledge, connectTokenEvent, socketIoDetails, type SocketIoFrame, type SocketIoFrameDetails } from './socketio-frames.js';

/**
 * `/socket.io/`: PROTOCOL.md section 3. Socket.IO packets over engineio-socket.ts, for
 * socket.io-client 4.x (Engine.IO v4, revision 5) and 2.x (Engine.IO v3, revision 4), on a
 * WebSocket or a polling session (polling.ts). Events go to the native socket's handlers as
 * `{event, data: firstArgument, id}`; answers come back through the `ClientConnection`, whose encoder (a `SocketIoSession`)
 * writes `42["event",data]`, plus `43<ackId>[data]` for an event sent with an ack id. The
 * frame `id` a handler sees is the session's own number for that ack, never the client's.
 */

export interface SocketIoOptions extends EngineIoOptions {
  /** A socket that has joined no namespace by then is closed (4408). */
  connectTimeoutMs: number;
  /** Namespaces a CONNECT may name; `/` is the one the gateway's events live in. */
  namespaces: readonly string[];
}

export interface SocketIoDependencies extends Pick<EngineUpgradeDependencies, 'admit'> {
  /** Defaults to `/socket.io/`, where socket.io clients look. */
  path?: string;
  dispatcher: Dispatcher;
  metrics: GatewayMetrics;
  clock: Clock;
  limits: ConnectionLimits & { maxFrameDepth: number };
  options: SocketIoOptions;
  allowedOrigins: readonly string[];
  accepting(): boolean;
  opened(connection: ClientConnection): void;
  closed(connection: ClientConnection, code: number, reason: string): void;
  /**
   * When on (the gateway), a token in CONNECT's `auth.token` or the `x-auth` query
   * parameter authenticates the socket as `authorize`/`auth-request`/`authenticate` would,
   * and a refused one refuses the CONNECT. Off (the protocol fixture), CONNECT takes any auth.
   */
  authenticateOnConnect: boolean;
  /**
   * After a CONNECT is accepted and answered, like socket.io's namespace `connection`
   * handlers; `auth` is its payload (`{}` in revision 4). On a WebSocket what it sends goes
   * out in a later write than the CONNECT answer, as with socket.io (write-boundary.ts).
   */
  namespaceConnected?(connection: ClientConnection, namespace: string, auth: Record<string, unknown>): void;
}

/** Events to the main namespace held until its CONNECT is answered (the `welcome`, mostly). */
const MAX_QUEUED_BEFORE_CONNECT = 64;
/** Acks a client may have outstanding; past it the oldest is answered by its event only. */
const MAX_PENDING_ACKS = 1024;

type PendingAck =
  | { kind: 'event'; ackId: number; namespace: string }
  /**
   * A CONNECT whose token (or `auth.resume`) went to a handler; `accepted` is the answer that
   * accepts it. A resuming CONNECT that fails goes on as one without `auth.resume`.
   */
  | { kind: 'connect'; namespace: string; auth: Record<string, unknown>; accepted: string; resuming?: true };

/**
 * Frame ids stand for acks, and are unique over every session of the process: after a resume
 * (PROTOCOL.md section 11) a late answer to the old socket's request carries that socket's
 * number, which must not be an ack the new socket is waiting for.
 */
let nextFrameId = 1;

/**
 * The Socket.IO state of one connection: which namespaces it joined, what it is owed
 * (acks, a CONNECT answer), the binary packet it is sending. It is the connection's
 * `FrameEncoder`, so every frame sent to it (replies, room pushes, relays) comes here.
 */
export class SocketIoSession implements FrameEncoder {
  readonly revision: SocketIoRevision;
  readonly engine: EngineSocket;
  readonly connection: ClientConnection;
  private readonly handshake: EngineHandshake;
  private readonly decoder: SocketIoDecoder;
  private readonly namespaces = new Map<string, 'connecting' | 'connected'>();
  /** Until the main namespace is first joined, its events wait here. */
  private queue: (string | Uint8Array)[] | undefined = [];
  private readonly pendingAcks = new Map<number, PendingAck>();
  private connectTimer: NodeJS.Timeout | undefined;
  /** On a WebSocket: how the CONNECT answer gets a write of its own. */
  private readonly writes: WriteBoundarySink | undefined;
  /** The client left `/` (revision 5 stays open for another CONNECT): ending it later is its leaving, not a cut. */
  private leftMain = false;

  constructor(
    private readonly deps: SocketIoDependencies,
    data: EngineSocketData,
    sink: ConstructorParameters<typeof ClientConnection>[1],
    /**
     * Whether `sink` is a uWS WebSocket, whose sends within one callback share a write, so a
     * CONNECT answer needs a write boundary after it. Not for a polling session: it answers a
     * held GET with everything sent in one turn as one payload of separate packets.
     */
    corkedSocket = false,
  ) {
    this.handshake = data.handshake;
    this.revision = data.handshake.version === 3 ? 4 : 5;
    this.writes = corkedSocket ? new WriteBoundarySink(sink, deps.limits.maxBackpressureBytes, () => this.connection.close(DISCONNECT.slowConsumer)) : undefined;
    this.connection = new ClientConnection(data.info, this.writes ?? sink, deps.limits, (codec) => (deps.metrics.frames.out[codec] += 1), this);
    this.decoder = new SocketIoDecoder({ maxAttachments: DEFAULT_MAX_ATTACHMENTS, maxAttachmentBytes: deps.options.maxPayloadBytes });
    this.engine = new EngineSocket(data.handshake.version, this.connection, deps.options, {
      message: (payload) => this.receive(payload),
      badPacket: (reason) => this.badPacket(reason),
    });
  }

  get id(): string {
    return this.connection.id;
  }

  /** The connection this socket's frames belong to: its own, or the one it resumed. */
  get target(): ClientConnection {
    return this.connection.handedTo ?? this.connection;
  }

  /** Sends the OPEN packet; a revision-4 client is connected to `/` without asking. */
  start(): void {
    // Revision 4 clients take the Engine.IO sid as their socket id on `/`; revision 5 get
    // the connection id in the CONNECT answer. Either way `socket.id` is the `peer_id`.
    this.engine.start(this.id);
    this.armConnectTimer();
    if (this.revision === 4) this.connect({ type: SocketIoPacketType.CONNECT, nsp: MAIN_NAMESPACE });
  }

  stop(): void {
    this.engine.stop();
    this.writes?.discard();
    clearTimeout(this.connectTimer);
    this.pendingAcks.clear();
    this.queue = undefined;
  }

  // ---- incoming ----

  private receive(payload: string | Uint8Array): void {
    let packet: SocketIoPacket | undefined;
    try {
      packet = this.decoder.add(payload);
    } catch (error) {
      this.badPacket(error instanceof SocketIoPacketError ? error.message : 'invalid Socket.IO packet');
      return;
    }
    if (!packet) return;
    switch (packet.type) {
      case SocketIoPacketType.CONNECT:
        this.connect(packet);
        return;
      case SocketIoPacketType.DISCONNECT:
        this.disconnect(packet.nsp);
        return;
      case SocketIoPacketType.EVENT:
        if (this.namespaces.get(packet.nsp) !== 'connected') {
          this.badPacket(`event on namespace "${packet.nsp}", which this socket has not joined`);
          return;
        }
        this.dispatch(packet);
        return;
      case SocketIoPacketType.ACK:
        // The server never asks for acks, so there is nothing to match this with.
        return;
      default:
        this.badPacket('CONNECT_ERROR is sent by the server only');
    }
  }

  private connect(packet: SocketIoPacket): void {
    const namespace = packet.nsp;
    if (!this.deps.options.namespaces.includes(namespace)) {
      this.sendPacket({ type: SocketIoPacketType.CONNECT_ERROR, nsp: namespace, data: { message: 'Invalid namespace' } });
      return;
    }
    if (this.namespaces.has(namespace)) {
      this.badPacket(`CONNECT to namespace "${namespace}", which this socket has already joined`);
      return;
    }
    const auth = this.revision === 5 && isPlainObject(packet.data) ? packet.data : {};
    if (namespace === MAIN_NAMESPACE && this.deps.authenticateOnConnect && auth.resume !== undefined) {
      this.connectResuming(namespace, auth);
      return;
    }
    this.connectSigningIn(namespace, auth);
  }

  /** CONNECT with `auth.token` (or `x-auth`) waits for the sign-in's answer; without, it is accepted. */
  private connectSigningIn(namespace: string, auth: Record<string, unknown>): void {
    if (namespace === MAIN_NAMESPACE && this.deps.authenticateOnConnect) {
      const fromAuth = typeof auth.token === 'string' && auth.token !== '' ? auth.token : undefined;
      const token = fromAuth ?? (this.handshake.query.get('x-auth') || undefined);
      if (token !== undefined) {
        this.namespaces.set(namespace, 'connecting');
        const event = connectTokenEvent(token);
        const id = this.rememberAck({ kind: 'connect', namespace, auth, accepted: CONNECT_ACCEPTED[event]! });
        const frame: SocketIoFrame = { event, data: { token }, id, socketIo: { args: [{ token }], namespace } };
        this.run(frame);
        return;
      }
    }
    this.accept(namespace, auth);
  }

  /**
   * CONNECT with `auth.resume` `{session, since}` (PROTOCOL.md section 11) is a `resume` sent
   * as this socket's first frame: accepted (naming the resumed connection) once the resume
   * succeeds (`adopt`); otherwise it goes on as a CONNECT without it (its token, if any).
   */
  private connectResuming(namespace: string, auth: Record<string, unknown>): void {
    this.namespaces.set(namespace, 'connecting');
    const id = this.rememberAck({ kind: 'connect', namespace, auth, accepted: RESUME_ANSWERS.resumed, resuming: true });
    this.run({ event: RESUME_TOPICS.resume, data: auth.resume, id, socketIo: { args: [auth.resume], namespace } });
  }

  private accept(namespace: string, auth: Record<string, unknown>): void {
    this.namespaces.set(namespace, 'connected');
    clearTimeout(this.connectTimer);
    const data = this.revision === 5 ? { sid: this.target.id } : undefined;
    this.sendPacket({ type: SocketIoPacketType.CONNECT, nsp: namespace, ...(data ? { data } : {}) });
    // Whatever follows (held events, the handler's emits, answers to packets later in this
    // read) in a later write than the answer, in order, as socket.io writes them.
    this.writes?.boundary();
    if (namespace === MAIN_NAMESPACE && this.queue) {
      const queued = this.queue;
      this.queue = undefined;
      for (const message of queued) this.connection.sendEncoded(message, typeof message !== 'string');
    }
    this.deps.namespaceConnected?.(this.target, namespace, auth);
  }

  private refuse(namespace: string, message: string, code: string): void {
    this.namespaces.delete(namespace);
    this.sendPacket({ type: SocketIoPacketType.CONNECT_ERROR, nsp: namespace, data: { message, data: { code } } });
    if (this.namespaces.size === 0) this.armConnectTimer();
  }

  private disconnect(namespace: string): void {
    if (this.namespaces.get(namespace) !== 'connected') {
      this.badPacket(`DISCONNECT from namespace "${namespace}", which this socket has not joined`);
      return;
    }
    this.namespaces.delete(namespace);
    // Socket.IO 2.x servers end the connection when `/` is left; 3.x and 4.x keep it open
    // for other namespaces or a new CONNECT, within the connect timeout.
    if (this.revision === 4 && namespace === MAIN_NAMESPACE) {
      this.connection.close(DISCONNECT.clientLeft, 'client left the main namespace');
      return;
    }
    if (namespace === MAIN_NAMESPACE) this.leftMain = true;
    if (this.namespaces.size === 0) this.armConnectTimer();
  }

  private dispatch(packet: SocketIoPacket): void {
    const [event, ...args] = packet.data as [string, ...unknown[]];
    const namespace = packet.nsp;
    const id = packet.id === undefined ? undefined : this.rememberAck({ kind: 'event', ackId: packet.id, namespace });
    let frame: SocketIoFrame;
    try {
      const envelope = toInboundFrame({ event, data: args[0], id }, this.deps.limits.maxFrameDepth);
      // The first argument was checked with the envelope; the others count one level deeper, as items of the array.
      if (args.length > 1 && nestsDeeperThan(args, this.deps.limits.maxFrameDepth + 1)) {
        throw new FrameError('BAD_REQUEST', `arguments nest deeper than ${this.deps.limits.maxFrameDepth} levels`, id);
      }
      frame = { ...envelope, socketIo: { args, namespace } };
    } catch (error) {
      this.fail(id, error);
      return;
    }
    this.run(frame);
  }

  /** The native socket's dispatch (native-socket.ts), for a frame already decoded. */
  private run(frame: SocketIoFrame): void {
    this.deps.dispatcher.dispatch(this.target, frame, this.deps.clock.now());
  }

  private fail(id: number | undefined, error: unknown): void {
    this.deps.dispatcher.fail(this.target, { event: 'packet', data: undefined, id }, error, this.deps.clock.now());
  }

  /** Counted like a bad native frame: answered with `error` and closed past the limit (4400). */
  private badPacket(reason: string): void {
    this.fail(undefined, new AppError('BAD_REQUEST', `invalid Socket.IO packet: ${reason}`));
  }

  // ---- outgoing ----

  encode(frame: OutboundFrame): (string | Uint8Array)[] {
    // An interim answer goes to the ack's namespace but leaves the ack for the final answer.
    const ack = frame.id === undefined ? undefined : frame.interim ? this.pendingAcks.get(frame.id) : this.takeAck(frame.id);
    if (ack?.kind === 'connect' && !frame.interim) {
      this.answerConnect(ack, frame);
      return [];
    }
    const out: (string | Uint8Array)[] = [];
    const multiple = frame.data instanceof SocketIoArguments ? frame.data : undefined;
    const args = multiple ? multiple.args : frame.data === undefined ? [] : [withSeq(frame)];
    if (frame.event !== ACK_ONLY_EVENT) {
      const namespace = multiple?.namespace ?? ack?.namespace ?? MAIN_NAMESPACE;
      this.encodeTo(out, { type: SocketIoPacketType.EVENT, nsp: namespace, data: [frame.event, ...args] });
    }
    // The event first: when the client's ack callback runs, its event listener already has.
    if (ack && !frame.interim && ack.kind !== 'connect') this.encodeTo(out, { type: SocketIoPacketType.ACK, nsp: ack.namespace, id: ack.ackId, data: args });
    return out;
  }

  /**
   * This socket now carries the connection it resumed (PROTOCOL.md section 11). A CONNECT
   * that carried `auth.resume` is answered now, with the resumed connection's id as `sid`, so
   * the replay that follows reaches `/` instead of waiting in the queue; `resumed` then goes
   * out as a plain event (its ack is taken here).
   */
  adopt(): void {
    for (const [id, ack] of this.pendingAcks) {
      if (ack.kind !== 'connect' || ack.resuming !== true) continue;
      this.pendingAcks.delete(id);
      if (this.namespaces.get(ack.namespace) === 'connecting') this.accept(ack.namespace, ack.auth);
    }
  }

  /** None before `/` is joined: a push is queued then, not encoded, so this session cannot share. */
  sharedPushKey(): string | undefined {
    return this.namespaces.get(MAIN_NAMESPACE) === 'connected' ? `socket.io:${this.handshake.version}:${this.connection.info.transport}` : undefined;
  }

  /** A server-side close the client should not retry (4500-4999) is announced as DISCONNECT. */
  closing(code: number): (string | Uint8Array)[] {
    if (code < 4500 || code > 4999) return [];
    const out: (string | Uint8Array)[] = [];
    for (const [namespace, state] of this.namespaces) {
      if (state === 'connected') out.push(this.engine.frame(encodeSocketIoPacket({ type: SocketIoPacketType.DISCONNECT, nsp: namespace }).text));
    }
    return out;
  }

  private answerConnect(ack: Extract<PendingAck, { kind: 'connect' }>, frame: OutboundFrame): void {
    if (this.namespaces.get(ack.namespace) !== 'connecting') return;
    if (ack.resuming) {
      // The resume failed (a success was taken by `adopt`): the CONNECT goes on as a fresh
      // one, and the client hears why after it is accepted (the answer waits in the queue).
      this.namespaces.delete(ack.namespace);
      this.connectSigningIn(ack.namespace, ack.auth);
      this.target.send({ event: frame.event, data: frame.data });
      return;
    }
    if (frame.event === ack.accepted) {
      this.accept(ack.namespace, ack.auth);
      // The answer itself follows the CONNECT answer, as it would have followed the request.
      this.connection.send({ event: frame.event, data: frame.data });
      return;
    }
    const data = isPlainObject(frame.data) ? frame.data : {};
    const message = typeof data.message === 'string' ? data.message : 'Token is not valid';
    const code = typeof data.code === 'string' ? data.code : 'UNAUTHORIZED';
    this.refuse(ack.namespace, message, code);
  }

  /** Encodes a packet into `out`; a packet for a namespace not joined is held (`/`, before its first CONNECT) or dropped. */
  private encodeTo(out: (string | Uint8Array)[], packet: SocketIoPacket): void {
    const joined = this.namespaces.get(packet.nsp) === 'connected';
    const holding = !joined && packet.nsp === MAIN_NAMESPACE && this.queue !== undefined;
    if (!joined && !holding) return;
    const target = holding ? this.queue! : out;
    const { text, attachments } = encodeSocketIoPacket(packet);
    target.push(this.engine.frame(text));
    for (const attachment of attachments) target.push(this.engine.frame(attachment));
    if (holding && target.length > MAX_QUEUED_BEFORE_CONNECT) target.splice(0, target.length - MAX_QUEUED_BEFORE_CONNECT);
  }

  /** A control packet (CONNECT answers), sent at once whatever the namespace's state. */
  private sendPacket(packet: SocketIoPacket): void {
    const { text } = encodeSocketIoPacket(packet);
    this.engine.send(text);
  }

  private rememberAck(ack: PendingAck): number {
    const id = nextFrameId++;
    this.pendingAcks.set(id, ack);
    if (this.pendingAcks.size > MAX_PENDING_ACKS) this.pendingAcks.delete(this.pendingAcks.keys().next().value!);
    return id;
  }

  /** The ack a frame id stands for, once: later answers to the same id go out as events only. */
  private takeAck(id: number): PendingAck | undefined {
    const ack = this.pendingAcks.get(id);
    if (ack) this.pendingAcks.delete(id);
    return ack;
  }

  private armConnectTimer(): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if ([...this.namespaces.values()].includes('connected')) return;
      // A client that left `/` itself and joined nothing since has left: not a cut to resume from.
      if (this.leftMain) this.connection.close(DISCONNECT.clientLeft, 'client left the main namespace');
      else this.connection.close(DISCONNECT.timeout, 'no namespace joined in time');
    }, this.deps.options.connectTimeoutMs);
  }
}
