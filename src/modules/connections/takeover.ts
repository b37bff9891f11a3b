import type { Clock } from '../../core/index.js';
import { streamId } from '../../core/index.js';
import type { ActorRuntime, Scheduler } from '../../runtime/index.js';
import type { ReadModelDatabase } from '../../store/index.js';
import { CONNECTION_CATEGORY, type CloseConnection, type connectionMachine } from './domain/index.js';
import { openConnections } from './projection.js';

export interface LostNodeSessionsDependencies {
  runtime: Pick<ActorRuntime, 'read' | 'execute' | 'catchUp'>;
  scheduler: Scheduler;
  clock: Clock;
  resumeWindowSeconds: number;
  /** This node's id: its own connections are never another's to take over. */
  node: string;
  isLive(node: string): boolean;
  readModels: ReadModelDatabase;
}

/** Takes the peers whose connections ended out of their rooms (the rooms module's `peersLost`). */
export type PeersLost = (peerIds: readonly string[]) => Promise<void>;

/**
 * The connections of cluster nodes that are lost (PROTOCOL.md sections 11 and 12), kept for a
 * resume on another node the way a cut socket is kept on its own: a connection whose token the
 * log can check (its resume digest) and that holds nothing but its session and rooms (not
 * pinned) is detached for `resumeWindowSeconds` from the loss, still a member of its rooms, so
 * the members that remain hear `room-user-leave` only if it is not resumed by then. The rest
 * (pinned, anonymous-era connections without a digest, resume off) end at once, as before.
 *
 * Every write names the lost node (`ifOnNode`): a connection another node adopted meanwhile
 * has moved there, and is left alone. So two nodes doing this at once, or this node doing it
 * twice (each loss sweeps every lost node), decide nothing twice.
 */
export class LostNodeSessions {
  /** How ended connections' peers leave their rooms (the rooms module, wired once both exist). */
  private peersLost: PeersLost = async () => undefined;

  constructor(private readonly deps: LostNodeSessionsDependencies) {}

  leaveRoomsWith(peersLost: PeersLost): void {
    this.peersLost = peersLost;
  }

  /** Sweeps the connections of every node that is not alive; returns how many ended at once. */
  async takeOver(): Promise<number> {
    const { runtime, readModels, isLive, node: self } = this.deps;
    // The local copy of the log may lag what the lost node wrote before it died.
    await runtime.catchUp();
    const lost = openConnections(readModels).filter((row) => row.node !== null && row.node !== self && !isLive(row.node));
    const endNow: { id: string; node: string }[] = [];
    await Promise.all(
      lost.map(async ({ connection_id: id, node }) => {
        const kept = await this.keep(id, node!);
        if (!kept) endNow.push({ id, node: node! });
      }),
    );
    const ended = await this.end(endNow, 'node lost');
    await this.peersLost(ended);
    return ended.length;
  }

  /** Detaches the connection for a resume elsewhere (or finds it detached); false when it cannot be resumed. */
  private async keep(id: string, node: string): Promise<boolean> {
    const { runtime, clock, resumeWindowSeconds } = this.deps;
    const stream = streamId(CONNECTION_CATEGORY, id);
    const { context, value } = runtime.read<typeof connectionMachine>(stream);
    if (resumeWindowSeconds === 0 || context.resumeDigest === undefined || context.pinned === true) return false;
    let until = context.detachedUntil;
    if (value === 'open') {
      const now = clock.now();
      until = now + resumeWindowSeconds * 1000;
      const reason = 'node lost';
      await runtime.execute(stream, { type: 'DetachConnection', code: 1006, reason, framesIn: 0, framesOut: 0, until, ifOnNode: node, now }, { actor: 'system' });
    }
    if (until === undefined) return false;
    this.deps.scheduler.at(windowKey(id), until, () => this.windowEnded(id, node));
    return true;
  }

  /** The window of a lost node's connection ended: unless another node adopted it, it ends now. */
  private async windowEnded(id: string, node: string): Promise<void> {
    // Back after all (a healed partition): its connections are its own again.
    if (this.deps.isLive(node)) return;
    const ended = await this.end([{ id, node }], `node lost; not resumed within ${this.deps.resumeWindowSeconds} s`);
    if (ended.length > 0) await this.peersLost(ended);
  }

  /**
   * Ends one lost node's connection at once (a resume found it could not be replayed whole) and
   * takes it out of its rooms. A node alive ends its own connections: this one is left to it.
   */
  async endNow(id: string, node: string): Promise<void> {
    if (this.deps.isLive(node)) return;
    this.deps.scheduler.cancel(windowKey(id));
    const ended = await this.end([{ id, node }], 'node lost; resume impossible: pushes after since are no longer kept');
    if (ended.length > 0) await this.peersLost(ended);
  }

  private async end(connections: readonly { id: string; node: string }[], reason: string): Promise<string[]> {
    const now = this.deps.clock.now();
    const results = await Promise.all(
      connections.map(async ({ id, node }) => {
        const { events } = await this.deps.runtime.execute(streamId(CONNECTION_CATEGORY, id), uncleanClose(reason, now, node), { actor: 'system' });
        return events.length > 0 ? id : undefined;
      }),
    );
    return results.filter((id): id is string => id !== undefined);
  }
}

const windowKey = (connectionId: string) => `lost-node-window:${connectionId}`;

/** The close of a connection whose process is gone (its socket with it); `node`: only while it is still that node's. */
function uncleanClose(reason: string, now: number, node?: string): CloseConnection {
  return { type: 'CloseConnection', code: 1006, reason, unclean: true, framesIn: 0, framesOut: 0, ...(node === undefined ? {} : { ifOnNode: node }), now };
}

/**
 * At start: the connections the log still shows open (or detached) died with the last process
 * (sockets do not survive a restart). A single node closes them all as unclean (`gateway
 * restarted`), so the audit trail has an end for every connection. A cluster node closes those
 * from before the cluster (no node) and treats the rest of nodes not alive, its own earlier run
 * among them, as after any node's loss (`LostNodeSessions.takeOver`). Returns how many ended.
 */
export async function closeStaleConnections(deps: {
  runtime: Pick<ActorRuntime, 'execute' | 'streams'>;
  clock: Clock;
  readModels: ReadModelDatabase | undefined;
  lostNodes: LostNodeSessions | undefined;
}): Promise<number> {
  const { runtime, clock, readModels, lostNodes } = deps;
  const stale =
    readModels && lostNodes
      ? openConnections(readModels)
          .filter(({ node }) => node === null)
          .map((row) => row.connection_id)
      : runtime.streams(CONNECTION_CATEGORY).map((stream) => stream.slice(CONNECTION_CATEGORY.length + 1));
  const close = uncleanClose('gateway restarted', clock.now());
  await Promise.all(stale.map((id) => runtime.execute(streamId(CONNECTION_CATEGORY, id), close, { actor: 'system' })));
  return stale.length + (lostNodes && readModels ? await lostNodes.takeOver() : 0);
}
