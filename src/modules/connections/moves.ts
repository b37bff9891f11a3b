import type { Clock, Principal } from '../../core/index.js';
import { streamId } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { ActorRuntime, Scheduler } from '../../runtime/index.js';
import type { ReadModelDatabase } from '../../store/index.js';
import { CONNECTION_CATEGORY } from './domain/index.js';
import { LostNodeSessions, type PeersLost } from './takeover.js';

/** Whether a module pushed the connection something after the log position `since`. */
export type MissedPushes = (connectionId: string, since: number) => boolean;

export interface SessionMovesDependencies {
  runtime: ActorRuntime;
  clock: Clock;
  scheduler: Scheduler;
  resumeWindowSeconds: number;
  node: string;
  /** Absent on a single node: nothing moves, nothing is pinned. */
  cluster?: { isLive(node: string): boolean; readModels: ReadModelDatabase } | undefined;
  /** The connections module's record of work in flight (shutdown waits for it). */
  track<T>(promise: Promise<T>): Promise<T>;
}

/**
 * What lets a connection move to another cluster node (PROTOCOL.md section 12), as the other
 * modules see it: they say what of a connection the log holds (identity: its principal; rooms:
 * the streams that pushed to it), restore what they keep of it once adopted (`onAdopted`), and
 * the dispatcher pins a connection before a topic whose state no other node could rebuild. The
 * connections of lost nodes are kept for their window here too (takeover.ts). On a single node
 * every part is inert.
 */
export class SessionMoves {
  /** Each connection's pin (ConnectionPinned) once asked for, settled or in flight. */
  private readonly pins = new WeakMap<ClientConnection, Promise<unknown> | 'pinned'>();
  private principalRestorer: ((connectionId: string) => Principal | undefined) | undefined;
  private readonly missedChecks: MissedPushes[] = [];
  private readonly adoptedListeners: ((connection: ClientConnection) => void)[] = [];
  private readonly movedAwayListeners: ((connection: ClientConnection) => void)[] = [];
  /** Since this node started, for `/metrics` (switchyard_session_moves). */
  readonly counts = { adopted: 0, movedAway: 0, pinned: 0 };
  /** A lost node's connections, kept for a resume elsewhere. */
  readonly lostNodes: LostNodeSessions | undefined;

  constructor(private readonly deps: SessionMovesDependencies) {
    const { cluster } = deps;
    this.lostNodes =
      cluster &&
      new LostNodeSessions({
        runtime: deps.runtime,
        scheduler: deps.scheduler,
        clock: deps.clock,
        resumeWindowSeconds: deps.resumeWindowSeconds,
        node: deps.node,
        isLive: cluster.isLive,
        readModels: cluster.readModels,
      });
  }

  /** How the identity module reads a connection's principal from its session stream. */
  restorePrincipalsWith(restore: (connectionId: string) => Principal | undefined): void {
    this.principalRestorer = restore;
  }

  /**
   * How a module tells whether it pushed a connection something after `since` (a room event
   * the rooms module sent its members): an adoption cannot replay those, so it is a gap.
   */
  missedWith(check: MissedPushes): void {
    this.missedChecks.push(check);
  }

  /** Hears each connection adopted from a lost node once it has its new socket: a module restores what it held of it. */
  onAdopted(listener: (connection: ClientConnection) => void): void {
    this.adoptedListeners.push(listener);
  }

  /**
   * Hears each connection another node adopted while this node held it: it is gone from here
   * without having closed (it did not leave its rooms); a module forgets what it held of it.
   */
  onMovedAway(listener: (connection: ClientConnection) => void): void {
    this.movedAwayListeners.push(listener);
  }

  movedAway(connection: ClientConnection): void {
    this.counts.movedAway += 1;
    for (const listener of this.movedAwayListeners) listener(connection);
  }

  /** How the peers of lost nodes' connections that end leave their rooms (the rooms module's `peersLost`). */
  leaveRoomsWith(peersLost: PeersLost): void {
    this.lostNodes?.leaveRoomsWith(peersLost);
  }

  principalOf(connectionId: string): Principal | undefined {
    return this.principalRestorer?.(connectionId);
  }

  missedSince(connectionId: string, since: number): boolean {
    return this.missedChecks.some((check) => check(connectionId, since));
  }

  adopted(connection: ClientConnection): void {
    this.counts.adopted += 1;
    for (const listener of this.adoptedListeners) listener(connection);
  }

  /** Whether another node could adopt the connection: a cluster, not pinned, its session in the log. */
  movable(connection: ClientConnection): boolean {
    return this.deps.cluster !== undefined && this.deps.resumeWindowSeconds > 0 && !this.pins.has(connection) && this.principalOf(connection.id) !== undefined;
  }

  /**
   * Before a topic that leaves state only this node's memory holds (an audience, a follow: any
   * topic not marked `portable`): in a cluster with resume on, the connection is recorded as
   * pinned once (ConnectionPinned), so no other node adopts it without that state after a node
   * loss. Undefined when there is nothing to wait for.
   */
  pin(connection: ClientConnection, topic: string): Promise<unknown> | undefined {
    if (!this.deps.cluster || this.deps.resumeWindowSeconds === 0 || connection.closed) return undefined;
    const pin = this.pins.get(connection);
    if (pin === 'pinned') return undefined;
    if (pin) return pin;
    const { runtime, clock } = this.deps;
    const recording = this.deps.track(runtime.execute(streamId(CONNECTION_CATEGORY, connection.id), { type: 'PinConnection', topic, now: clock.now() }, { actor: `connection:${connection.id}` }));
    this.pins.set(connection, recording);
    // Settled, a pin costs the next topics nothing; a failed one is asked for again by the next.
    recording.then(
      () => {
        this.pins.set(connection, 'pinned');
        this.counts.pinned += 1;
      },
      () => this.pins.delete(connection),
    );
    return recording;
  }
}
