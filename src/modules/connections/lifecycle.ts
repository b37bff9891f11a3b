import type { AppError, Clock } from '../../core/index.js';
import { DISCONNECT } from '../../core/index.js';
import { streamId } from '../../core/index.js';
import type { ClientConnection, SocketSink } from '../../edge/index.js';
import type { ActorRuntime, Scheduler } from '../../runtime/index.js';
import type { ReadModelDatabase } from '../../store/index.js';
import type { ResumeConfig } from './config.js';
import { CONNECTION_CATEGORY, type CloseConnection, type DetachConnection, type OpenConnection, type connectionMachine } from './domain/index.js';
import { Admissions, type AdmissionConfig } from './admission.js';
import { Resumptions, type ResumeObserver, type ResumeSessions } from './resume.js';
import { newNodeId, newResumeSecret, resumeDigest } from './resume-token.js';
import { Adoptions, type AdoptionSessions } from './adoption.js';
import { SessionMoves } from './moves.js';
import { closeStaleConnections } from './takeover.js';

export interface ConnectionsConfig extends ResumeConfig, AdmissionConfig {
  /** A socket not authenticated by then is closed with 4401; 0 = off. */
  authDeadlineSeconds: number;
}

/** RFC 6455's "closed without a close frame": what uWS reports for a cut network or a dead peer. */
const ABNORMAL_CLOSURE = 1006;

export interface ConnectionsLogger {
  error(details: Record<string, unknown>, message: string): void;
}

export interface ConnectionsDependencies {
  runtime: ActorRuntime;
  clock: Clock;
  logger: ConnectionsLogger;
  scheduler: Scheduler;
  config: ConnectionsConfig;
  /** This process's node id in resume tokens; a fresh one per start by default. */
  node?: string;
  /**
   * In a cluster (PROTOCOL.md section 12): whether a node (a gateway process) is alive, and
   * the read models, to find the connections of the nodes that are not. Without it, every
   * connection the log shows open at start died with the last process.
   */
  cluster?: { isLive(node: string): boolean; readModels: ReadModelDatabase };
}

export type ClosedListener = (connection: ClientConnection) => Promise<unknown> | void;
/** Told when a connection loses its socket but stays (detached), and when a socket resumes it. */
export type DetachListener = (connection: ClientConnection) => void;

/** While a connection is detached: how its socket ended and when its window ends. */
interface Detachment {
  code: number;
  reason: string;
  until: number;
  /** A resume of it is being recorded: its window no longer ends it. */
  resuming: boolean;
}

/**
 * Open connections and their lifecycle in the log: `OpenConnection` when a socket opens (the
 * `welcome` goes out after its commit, so a client that saw it knows it is in the log),
 * `CloseConnection` when it ends, and the authentication deadline. Other modules find a
 * connection by id here and hear of its end through `onClosed`.
 *
 * Resume (PROTOCOL.md section 11): when the socket of an authenticated connection is cut, the
 * connection is detached instead (`DetachConnection`): still here, still in every module's
 * rooms, audiences and subscriptions (they hold the ClientConnection), its pushes kept; the
 * `onClosed` listeners wait. A socket that resumes it within `resumeWindowSeconds` takes it
 * over (resume.ts); otherwise the window's end closes it for real, and modules hear of it
 * then (others in its rooms get `room-user-leave` only now).
 */
export class Connections {
  /** Attached and detached connections, by id. */
  private readonly open = new Map<string, ClientConnection>();
  private readonly detachments = new Map<ClientConnection, Detachment>();
  private readonly closedListeners: ClosedListener[] = [];
  private readonly detachedListeners: DetachListener[] = [];
  private readonly resumedListeners: DetachListener[] = [];
  /** Commands in flight (opens, closes, listeners' work); shutdown waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The open of each recorded connection until committed: a resume answers after the `welcome`. */
  private readonly opening = new WeakMap<ClientConnection, Promise<unknown>>();
  private readonly admissions: Admissions;
  private readonly resumptions: Resumptions;
  /** What lets a connection move to another cluster node: pins, adoption's ports, a lost node's connections (moves.ts). */
  readonly moves: SessionMoves;
  private stopping = false;
  /** Sockets refused at open (no upgrade hook yet, or a race past it), for tests and metrics. */
  refusedAtOpen = 0;
  readonly node: string;

  constructor(private readonly deps: ConnectionsDependencies) {
    const { config, clock } = deps;
    this.node = deps.node ?? newNodeId();
    // Detached connections hold no socket: only attached ones count against the descriptors.
    this.admissions = new Admissions(config, clock, () => this.open.size - this.detachments.size);
    const cluster = deps.cluster;
    this.moves = new SessionMoves({
      runtime: deps.runtime,
      clock,
      scheduler: deps.scheduler,
      resumeWindowSeconds: config.resumeWindowSeconds,
      node: this.node,
      cluster,
      track: (promise) => this.track(promise),
    });
    const adoptions = cluster && new Adoptions(this.adoptionSessions(), { node: this.node, runtime: deps.runtime });
    this.resumptions = new Resumptions(this.sessions(), { config, clock, node: this.node, runtime: deps.runtime, ...(adoptions ? { adoptions } : {}) });
  }

  /**
   * The admission check of an upgrade, before the socket exists (admission.ts): undefined when a
   * socket from `remoteAddress` may open now; the edge answers a refusal with its HTTP status
   * and `retry-after`. Only looks: `opened` takes the slot and the tokens.
   */
  admission(remoteAddress: string, now: number): AppError | undefined {
    return this.admissions.refusal(remoteAddress, now);
  }

  /** Seconds a refused client should wait (the refusal's `retry-after`). */
  retryAfterSeconds(remoteAddress: string, now: number): number {
    return this.admissions.retryAfterSeconds(remoteAddress, now);
  }

  /** An open connection (attached or detached) by id. */
  get(id: string): ClientConnection | undefined {
    return this.open.get(id);
  }

  /**
   * The gateway process holding the connection, as the log shows it (its ConnectionOpened's
   * `node`): in a cluster, where a relay to a peer on another node goes. Undefined for a
   * closed or unknown connection. Reads the connection's stream when the socket is not here,
   * so callers look once per membership, not per relay.
   */
  nodeOf(id: string): string | undefined {
    if (this.open.has(id)) return this.node;
    const snapshot = this.deps.runtime.read<typeof connectionMachine>(streamId(CONNECTION_CATEGORY, id));
    return snapshot.status === 'done' || snapshot.value === 'idle' ? undefined : snapshot.context.node;
  }

  get size(): number {
    return this.open.size;
  }

  /** Connections without a socket, inside their resume window. */
  get detachedCount(): number {
    return this.detachments.size;
  }

  all(): IterableIterator<ClientConnection> {
    return this.open.values();
  }

  onClosed(listener: ClosedListener): void {
    this.closedListeners.push(listener);
  }

  /** Hears each connection that lost its socket and waits for a resume (a module may show it as away). */
  onDetached(listener: DetachListener): void {
    this.detachedListeners.push(listener);
  }

  /** Hears each connection a new socket resumed. */
  onResumed(listener: DetachListener): void {
    this.resumedListeners.push(listener);
  }

  /** Counts resumes by outcome and watches detached connections (the gateway's metrics). */
  observe(observer: ResumeObserver): void {
    this.resumptions.observer = observer;
  }

  /** The `resume` topic (PROTOCOL.md section 11). */
  get resumeTopic() {
    return this.resumptions.topic;
  }

  opened(connection: ClientConnection): void {
    const { info } = connection;
    const { clock, config, scheduler, runtime, logger } = this.deps;
    // Refused past the limits (the upgrade hook should have answered 429 already; this is the
    // backstop and the race between upgrade and open): closed before any append, so it never
    // saw `welcome` and leaves nothing in the log.
    if (!this.admissions.take(connection, clock.now())) {
      this.refusedAtOpen += 1;
      connection.close(DISCONNECT.rateLimited, 'too many connections');
      return;
    }
    this.open.set(info.id, connection);
    if (config.authDeadlineSeconds > 0) {
      scheduler.at(deadlineKey(info.id), clock.now() + config.authDeadlineSeconds * 1000, () => {
        const kind = connection.principal.kind;
        if (kind === 'anonymous' || kind === 'mfa-pending') connection.close(DISCONNECT.authTimeout);
      });
    }
    const command: OpenConnection = {
      type: 'OpenConnection',
      connectionId: info.id,
      codec: info.codec,
      transport: info.transport,
      remoteAddress: info.remoteAddress,
      userAgent: info.userAgent,
      origin: info.origin,
      node: this.node,
      ...(this.deps.cluster && config.resumeWindowSeconds > 0 ? { resumeDigest: resumeDigest((connection.resumeSecret = newResumeSecret())) } : {}),
      now: clock.now(),
    };
    // `newStream`: the id was made at this socket's upgrade, so no empty history is read (the append still expects version 0).
    const recorded = this.track(runtime.execute(streamId(CONNECTION_CATEGORY, info.id), command, { actor: `connection:${info.id}` }, { newStream: true })).then(
      () => {
        this.opening.delete(connection);
        connection.send({ event: 'welcome', data: this.resumptions.welcome(connection) });
      },
      (error: unknown) => {
        this.opening.delete(connection);
        logger.error({ err: error, connectionId: info.id }, 'could not record connection; closing it');
        connection.close(DISCONNECT.internal);
      },
    );
    // Held only until committed: an idle socket keeps no promise.
    this.opening.set(connection, recorded);
  }

  /**
   * The socket `socketConnection` was opened on has closed. The connection it wrote for (itself,
   * or since a resume the one it carries) is detached when it can be resumed: authenticated,
   * resume on, not shutting down, and the socket was lost rather than ended on purpose (a cut:
   * 1006; or the server's close that keeps the session: 4008, 4408). Otherwise it ends.
   */
  closed(socketConnection: ClientConnection, code: number, reason: string): void {
    const connection = socketConnection.handedTo ?? socketConnection;
    // The late close of a socket a resume replaced: the connection lives on elsewhere.
    if (!connection.socketLost) return;
    if (this.resumable(connection, code)) this.detach(connection, code, reason);
    else this.end(connection, code, reason);
  }

  private resumable(connection: ClientConnection, code: number): boolean {
    if (this.deps.config.resumeWindowSeconds === 0 || connection.resumeSecret === undefined) return false;
    if (this.open.get(connection.id) !== connection) return false;
    const kind = connection.principal.kind;
    if (kind === 'anonymous' || kind === 'mfa-pending') return false;
    // A single node's sessions die with it; a cluster node's clean stop leaves to the other
    // nodes the sessions they can adopt (PROTOCOL.md section 12): those the log holds whole.
    if (this.stopping) return connection.endedBy === DISCONNECT.shuttingDown && this.moves.movable(connection);
    const byServer = connection.endedBy;
    return byServer ? byServer.keepsSession === true : code === ABNORMAL_CLOSURE;
  }

  /** Keeps `connection` without a socket until its window ends (or a resume takes it over). */
  private detach(connection: ClientConnection, code: number, reason: string): void {
    const { clock, config, scheduler } = this.deps;
    const now = clock.now();
    connection.detach(this.detachedSink(connection));
    this.admissions.release(connection);
    const until = now + config.resumeWindowSeconds * 1000;
    this.detachments.set(connection, { code, reason, until, resuming: false });
    scheduler.at(windowKey(connection.id), until, () => this.windowEnded(connection));
    this.record(connection, { type: 'DetachConnection', code, reason, framesIn: connection.framesIn, framesOut: connection.framesOut, until, now });
    for (const listener of this.detachedListeners) listener(connection);
  }

  /** Where a detached connection writes: nowhere, and a `close` of it (a disabled user) ends it for real. */
  private detachedSink(connection: ClientConnection): SocketSink {
    return { send: () => 1, bufferedAmount: () => 0, end: (code, reason) => this.end(connection, code, reason) };
  }

  private windowEnded(connection: ClientConnection): void {
    const detachment = this.detachments.get(connection);
    if (!detachment || detachment.resuming) return;
    this.resumptions.ended(connection, 'expired');
    this.end(connection, detachment.code, `not resumed within ${this.deps.config.resumeWindowSeconds} s`);
  }

  /**
   * The connection's end: modules hear of it (`onClosed`), and it is recorded. Idempotent: a
   * socket can be closed by the peer and by shutdown in the same moment.
   */
  private end(connection: ClientConnection, code: number, reason: string): void {
    connection.closed = true;
    const { info } = connection;
    if (this.open.get(info.id) !== connection) return;
    this.open.delete(info.id);
    if (this.detachments.delete(connection)) this.deps.scheduler.cancel(windowKey(info.id));
    this.admissions.release(connection);
    this.deps.scheduler.cancel(deadlineKey(info.id));
    for (const listener of this.closedListeners) {
      const work = listener(connection);
      if (work instanceof Promise) this.track(work).catch((error: unknown) => this.deps.logger.error({ err: error, connectionId: info.id }, 'connection close reaction failed'));
    }
    this.record(connection, { type: 'CloseConnection', code, reason, framesIn: connection.framesIn, framesOut: connection.framesOut, now: this.deps.clock.now() });
  }

  /**
   * In a cluster: another node adopted a connection this node still holds (its client reached
   * that node first; PROTOCOL.md section 12). This node lets go of its copy without recording
   * anything (the connection lives on there): the old socket, if it had one still, is closed
   * with 4509, and modules forget it here (`moves.onMovedAway`) without leaving its rooms.
   */
  movedAway(connectionId: string): void {
    const connection = this.open.get(connectionId);
    if (!connection) return;
    this.open.delete(connectionId);
    if (this.detachments.delete(connection)) this.deps.scheduler.cancel(windowKey(connectionId));
    this.deps.scheduler.cancel(deadlineKey(connectionId));
    this.admissions.release(connection);
    if (!connection.detached && !connection.closed) connection.releaseSocket(DISCONNECT.resumedElsewhere, NOWHERE);
    connection.closed = true;
    this.moves.movedAway(connection);
  }

  /**
   * Closes every socket with 1001 (shutdown) and waits for what is in flight. A single node ends
   * every connection; a cluster node keeps those another node can adopt detached in the log
   * (their clients reconnect and resume elsewhere: the node taking over this one keeps them for
   * their window) and ends the rest.
   */
  async closeAll(): Promise<void> {
    this.stopping = true;
    for (const connection of [...this.open.values()]) {
      if (connection.detached && this.moves.movable(connection)) continue;
      connection.close(DISCONNECT.shuttingDown);
    }
    await Promise.allSettled([...this.inFlight]);
  }

  /** At start: the connections of the processes that are gone (takeover.ts, `closeStaleConnections`); returns how many ended. */
  async closeStale(): Promise<number> {
    const { runtime, clock, cluster } = this.deps;
    return closeStaleConnections({ runtime, clock, readModels: cluster?.readModels, lostNodes: this.moves.lostNodes });
  }

  /**
   * A cluster node was lost (PROTOCOL.md section 12): the connections of every node not alive
   * are kept for a resume on another node, or end at once (takeover.ts); those that end leave
   * their rooms (`leaveRoomsWith`), now or when their window ends. Run by the node that won the
   * takeover; idempotent anyway. Returns how many ended at once.
   */
  async takeOverLostNodes(): Promise<number> {
    return (await this.moves.lostNodes?.takeOver()) ?? 0;
  }

  /** What resume.ts may do with the connections here. */
  private sessions(): ResumeSessions {
    return {
      get: (id) => this.open.get(id),
      opening: (connection) => this.opening.get(connection),
      detachment: (connection) => this.detachments.get(connection),
      detachedCount: () => this.detachments.size,
      hold: (connection) => {
        const detachment = this.detachments.get(connection);
        if (detachment) {
          detachment.resuming = true;
          this.deps.scheduler.cancel(windowKey(connection.id));
          return 'detached';
        }
        // Still attached: the client noticed the cut before the server. Its old socket goes now.
        connection.releaseSocket(DISCONNECT.resumedElsewhere, this.detachedSink(connection));
        this.admissions.release(connection);
        this.detachments.set(connection, { code: DISCONNECT.resumedElsewhere.code, reason: DISCONNECT.resumedElsewhere.reason, until: this.deps.clock.now(), resuming: true });
        return 'attached';
      },
      unhold: (connection, logShows) => {
        const detachment = this.detachments.get(connection);
        if (!detachment || connection.closed) return;
        if (logShows === 'detached') {
          // Nothing was recorded: the window goes on where it was.
          detachment.resuming = false;
          this.deps.scheduler.at(windowKey(connection.id), detachment.until, () => this.windowEnded(connection));
          return;
        }
        // The log shows it open (resumed, or still on the socket just replaced): detached again, a whole window.
        this.detachments.delete(connection);
        this.detach(connection, ABNORMAL_CLOSURE, 'resume not completed');
      },
      end: (connection, code, reason) => this.end(connection, code, reason),
      handOver: (connection, carrier) => {
        this.detachments.delete(connection);
        connection.attach(carrier);
        // The carrier's socket and its per-address slot are the connection's now; modules never heard of the carrier.
        this.admissions.moveSlot(carrier, connection);
        this.open.delete(carrier.id);
        this.deps.scheduler.cancel(deadlineKey(carrier.id));
        const now = this.deps.clock.now();
        this.record(carrier, {
          type: 'CloseConnection',
          code: 1000,
          reason: `resumed connection ${connection.id}`,
          framesIn: carrier.framesIn,
          framesOut: carrier.framesOut,
          resumedConnection: connection.id,
          now,
        });
        for (const listener of this.resumedListeners) listener(connection);
      },
      adopted: (connection) => this.moves.adopted(connection),
      execute: (connection, command) => this.track(this.deps.runtime.execute(streamId(CONNECTION_CATEGORY, connection.id), command, { actor: `connection:${connection.id}` })),
    };
  }

  /** What adoption.ts may do here: a lost node's connection becomes this node's. */
  private adoptionSessions(): AdoptionSessions {
    return {
      restorePrincipal: (connectionId) => this.moves.principalOf(connectionId),
      missedSince: (connectionId, since) => this.moves.missedSince(connectionId, since),
      adopt: (connection) => {
        this.open.set(connection.id, connection);
        connection.detach(this.detachedSink(connection));
        // Held as a resume in progress: no window runs until the caller hands it a socket or gives it one.
        this.detachments.set(connection, { code: ABNORMAL_CLOSURE, reason: 'node lost', until: this.deps.clock.now(), resuming: true });
      },
      endLost: (connectionId, node) => this.moves.lostNodes!.endNow(connectionId, node),
    };
  }

  private record(connection: ClientConnection, command: DetachConnection | CloseConnection): void {
    const { id } = connection;
    // In a cluster another node may have adopted the connection meanwhile: then it is not ours to detach or close.
    const ours = this.deps.cluster ? { ...command, ifOnNode: this.node } : command;
    this.track(this.deps.runtime.execute(streamId(CONNECTION_CATEGORY, id), ours, { actor: `connection:${id}` })).catch((error: unknown) =>
      this.deps.logger.error({ err: error, connectionId: id, command: command.type }, 'could not record connection change'),
    );
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}

/** Where a connection that moved to another node writes: nowhere, and its socket's late close changes nothing. */
const NOWHERE: SocketSink = { send: () => 2, end: () => undefined, bufferedAmount: () => 0 };

const deadlineKey = (connectionId: string) => `auth-deadline:${connectionId}`;
const windowKey = (connectionId: string) => `resume-window:${connectionId}`;
