import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { followBucket, openBucket, type BucketFollower } from './kv-buckets.js';
import type { ClusterLogger } from './nats.js';
import { ClaimRegistry } from './claims.js';

/**
 * The node directory: which gateway nodes of the cluster are alive (PROTOCOL.md section 12),
 * and the claims through which exactly one survivor takes over what a lost node held.
 *
 * Each node puts an entry under its node id in the KV bucket `switchyard_nodes` every
 * heartbeat and watches the bucket (a JetStream ordered consumer: no polling). Liveness is
 * judged by when heartbeats ARRIVE here, on this process's monotonic clock, never by the
 * sender's timestamp: two nodes' wall clocks may differ by more than `lostAfterMs`.
 *
 * A node is seen in incarnations: each `open` draws a fresh incarnation id, so a node that
 * crashed and was restarted under the same id within `lostAfterMs` still reports its earlier
 * incarnation lost (`restarted`), and whatever that one held is taken over. Claim names for
 * a takeover should therefore carry the incarnation: `takeover.<node>.<incarnation>`.
 *
 * Only authenticated cluster members reach the buckets at all (NATS auth is required on the
 * servers); entries that do not parse are still counted and ignored, never thrown.
 */

export const NODES_BUCKET = 'switchyard_nodes';
/** Entries of nodes silent this long are removed by JetStream itself (bucket max age); live ones renew theirs every heartbeat. */
const ENTRY_MAX_AGE_MS = 10 * 60_000;
/** A node id is a KV key and a NATS subject token (`sy.node.<id>.frames`): no dots, wildcards or spaces. */
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isNodeId(node: string): boolean {
  return NODE_ID.test(node);
}

export function assertNodeId(node: string): void {
  if (!isNodeId(node)) throw new Error(`node id ${JSON.stringify(node)} must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"`);
}

/** What a node says about itself; JSON. */
export interface NodeInfo {
  /** Where clients or operators reach it (host:port of its gateway). */
  address: string;
  startedAt: number;
  version: string;
  readonly [key: string]: unknown;
}

export interface LiveNode {
  node: string;
  incarnation: string;
  info: NodeInfo;
  /** Wall-clock time (this process's) at which its latest heartbeat arrived here. */
  lastHeartbeatAt: number;
  /** This directory's own node. */
  self: boolean;
}

export interface NodeJoined {
  node: string;
  incarnation: string;
  info: NodeInfo;
  /** The same incarnation was lost before (a network partition that healed): it may still hold what was taken over. */
  returned: boolean;
}

/**
 * Why a node counts as lost: `left` deleted its entry on a clean `close()`; `silent` sent no
 * heartbeat for `lostAfterMs` (crash, kill -9, partition); `restarted` came back as a new
 * incarnation before its silence was noticed.
 */
export type NodeLostReason = 'left' | 'silent' | 'restarted';

export interface NodeLost {
  node: string;
  incarnation: string;
  info: NodeInfo;
  reason: NodeLostReason;
  /** Wall-clock time (this process's) of its last heartbeat seen here. */
  lastHeartbeatAt: number;
}

export interface NodeDirectoryOptions {
  node: string;
  info: NodeInfo;
  heartbeatMs?: number;
  lostAfterMs?: number;
  /** Copies JetStream keeps of both buckets: 3 in a three-server NATS cluster. Default 1. */
  replicas?: number;
  logger?: ClusterLogger;
}

export interface NodeDirectoryStats {
  /** Nodes alive now, this one included. */
  live: number;
  /** Node incarnations lost since this directory opened (left, silent or restarted). */
  lost: number;
  joined: number;
  /**
   * This node's own heartbeats stopped coming back through the watch: it is the one cut
   * off, so it declares nobody lost until they do again.
   */
  isolated: boolean;
  heartbeatFailures: number;
  /** Entries that did not parse as a node entry, or that claimed this node's id from another process. */
  badEntries: number;
}

/** What a node puts under its id. */
interface NodeEntry {
  node: string;
  incarnation: string;
  info: NodeInfo;
  /** The sender's heartbeat counter: for operators reading the bucket; liveness never uses it. */
  beat: number;
}

interface TrackedNode {
  entry: NodeEntry;
  /**
   * `pending`: only seen in the bucket's history at open (perhaps long dead), live at its next
   * heartbeat; `live`; `lost`: kept so that its return is told as `returned`.
   */
  state: 'pending' | 'live' | 'lost';
  /** performance.now() at the arrival of its latest heartbeat. */
  arrivedAt: number;
  arrivedAtWall: number;
}

const silentLogger: ClusterLogger = { info: () => {}, warn: () => {} };

export class NodeDirectory {
  private readonly nodes = new Map<string, TrackedNode>();
  private readonly joinedListeners: ((event: NodeJoined) => void)[] = [];
  private readonly lostListeners: ((event: NodeLost) => void)[] = [];
  private readonly heartbeatMs: number;
  private readonly lostAfterMs: number;
  /** Without an echo of its own heartbeat for this long, this node counts itself cut off. */
  private readonly isolatedAfterMs: number;
  private readonly logger: ClusterLogger;
  private readonly incarnation = randomBytes(9).toString('base64url');
  private follower: BucketFollower | undefined;
  private timers: NodeJS.Timeout[] = [];
  private beat = 0;
  private heartbeatInFlight = false;
  private lastSelfEcho = performance.now();
  /** Silence before this instant (the end of this node's own isolation) is not held against anyone. */
  private healthySince = performance.now();
  private isolated = false;
  private stopped = false;
  /** Our own first heartbeat came back through the watch: every entry before it has been seen. */
  private echoed = false;
  private readonly counts = { lost: 0, joined: 0, heartbeatFailures: 0, badEntries: 0 };

  private constructor(
    private readonly connection: NatsConnection,
    private readonly nodesKv: KV,
    private readonly claims: ClaimRegistry,
    private readonly options: NodeDirectoryOptions,
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.lostAfterMs = options.lostAfterMs ?? 5000;
    if (this.lostAfterMs <= this.heartbeatMs) throw new Error(`lostAfterMs (${this.lostAfterMs}) must be longer than heartbeatMs (${this.heartbeatMs})`);
    this.isolatedAfterMs = Math.min(this.lostAfterMs / 2, this.heartbeatMs * 3);
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Opens both buckets (creating them on the first node), puts this node's first heartbeat
   * and starts watching. Nodes already running are listed from their next heartbeat on
   * (within `heartbeatMs`): an entry found only in the bucket may be a dead node's.
   */
  static async open(connection: NatsConnection, options: NodeDirectoryOptions): Promise<NodeDirectory> {
    assertNodeId(options.node);
    const replicas = options.replicas ?? 1;
    const nodesKv = await openBucket(connection, NODES_BUCKET, { replicas, history: 1, ttl: ENTRY_MAX_AGE_MS });
    const claims = await ClaimRegistry.open(connection, options.node, replicas);
    const directory = new NodeDirectory(connection, nodesKv, claims, options);
    await directory.start();
    return directory;
  }

  private async start(): Promise<void> {
    // Everything up to this revision is history: a node seen only there may have died
    // long ago, and is not live until a heartbeat of it arrives after this.
    const historyUntil = (await this.nodesKv.status()).streamInfo.state.last_seq;
    await this.heartbeat();
    this.lastSelfEcho = this.healthySince = performance.now();
    this.follower = await followBucket(
      this.nodesKv,
      (entry) => this.see(entry, historyUntil),
      (what, error) => {
        if (!this.stopped) this.logger.warn({ node: this.node, error: error === undefined ? undefined : String(error) }, `node directory: ${what}`);
      },
    );
    this.timers.push(setInterval(() => void this.heartbeat(), this.heartbeatMs));
    const checkEveryMs = Math.max(20, Math.min(this.heartbeatMs, this.lostAfterMs / 4));
    this.timers.push(setInterval(() => this.judge(), checkEveryMs));
    // A connection closed under the directory (kill of the process's NATS link, shutdown
    // without close()) leaves nothing to heartbeat with: stop instead of failing every beat.
    void this.connection.closed().then(() => this.stop());
  }

  get node(): string {
    return this.options.node;
  }

  /**
   * Resolves once every node found in the bucket at open has proved alive (a heartbeat came)
   * or stayed silent for `lostAfterMs` (it is dead). Until then `live()` would leave out
   * nodes that are alive but have not beaten since this one opened: a starting node must not
   * take them for dead (and close their connections) in that moment.
   */
  async settled(): Promise<void> {
    const deadline = performance.now() + this.lostAfterMs;
    const unsettled = () => !this.echoed || [...this.nodes.values()].some((tracked) => tracked.state === 'pending');
    while (!this.stopped && performance.now() < deadline && unsettled()) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, this.heartbeatMs)));
    }
  }

  /** Beats now, out of turn: this node's info changed (its address, once it listens). */
  announce(): Promise<void> {
    return this.heartbeat();
  }

  /** Nodes alive now, this one first. */
  live(): LiveNode[] {
    const self: LiveNode = { node: this.node, incarnation: this.incarnation, info: this.options.info, lastHeartbeatAt: Date.now(), self: true };
    const others = [...this.nodes.values()]
      .filter((tracked) => tracked.state === 'live')
      .map((tracked): LiveNode => ({ node: tracked.entry.node, incarnation: tracked.entry.incarnation, info: tracked.entry.info, lastHeartbeatAt: tracked.arrivedAtWall, self: false }));
    return [self, ...others];
  }

  onJoined(listener: (event: NodeJoined) => void): () => void {
    return subscribe(this.joinedListeners, listener);
  }

  onLost(listener: (event: NodeLost) => void): () => void {
    return subscribe(this.lostListeners, listener);
  }

  stats(): NodeDirectoryStats {
    const live = 1 + [...this.nodes.values()].filter((tracked) => tracked.state === 'live').length;
    return { live, ...this.counts, isolated: this.isolated };
  }

  /** See ClaimRegistry.claim: true for exactly one caller cluster-wide. */
  claim(name: string, holder: string): Promise<boolean> {
    return this.claims.claim(name, holder);
  }

  release(name: string): Promise<boolean> {
    return this.claims.release(name);
  }

  holderOf(name: string): Promise<string | undefined> {
    return this.claims.holderOf(name);
  }

  /** A clean leave: the entry is deleted, so the others see `left` at once instead of waiting for silence. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stop();
    try {
      await this.nodesKv.delete(this.node);
    } catch (error) {
      // NATS down: the others will see this node fall silent instead.
      this.logger.warn({ node: this.node, error: String(error) }, 'could not delete the node entry on close');
    }
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.follower?.stop();
  }

  private async heartbeat(): Promise<void> {
    // One put at a time: a slow JetStream must not pile up puts behind each other.
    if (this.heartbeatInFlight || this.stopped) return;
    this.heartbeatInFlight = true;
    const entry: NodeEntry = { node: this.node, incarnation: this.incarnation, info: this.options.info, beat: this.beat++ };
    try {
      await this.nodesKv.put(this.node, JSON.stringify(entry), { timeout: this.heartbeatMs * 2 });
    } catch (error) {
      this.counts.heartbeatFailures += 1;
      if (this.counts.heartbeatFailures === 1 || this.counts.heartbeatFailures % 30 === 0) {
        this.logger.warn({ node: this.node, failures: this.counts.heartbeatFailures, error: String(error) }, 'node heartbeat failed');
      }
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private see(update: KvWatchEntry, historyUntil: number): void {
    const now = performance.now();
    if (update.operation !== 'PUT') {
      if (update.key === this.node) return;
      const tracked = this.nodes.get(update.key);
      this.nodes.delete(update.key);
      if (tracked?.state === 'live') this.lose(tracked, 'left');
      return;
    }
    const entry = parseEntry(update.string(), update.key);
    if (!entry) {
      this.counts.badEntries += 1;
      return;
    }
    if (entry.node === this.node) {
      if (entry.incarnation !== this.incarnation) {
        // Another process uses this node id: both would answer for the same sockets.
        this.counts.badEntries += 1;
        this.logger.warn({ node: this.node, other: entry.incarnation }, 'another process heartbeats under this node id');
        return;
      }
      this.lastSelfEcho = now;
      this.echoed = true;
      if (this.isolated) {
        this.isolated = false;
        this.healthySince = now;
        this.logger.info({ node: this.node }, 'node directory sees its own heartbeats again');
      }
      return;
    }
    const tracked = this.nodes.get(entry.node);
    const fresh: TrackedNode = { entry, state: 'live', arrivedAt: now, arrivedAtWall: Date.now() };
    if (update.revision <= historyUntil && !tracked) {
      this.nodes.set(entry.node, { ...fresh, state: 'pending' });
      return;
    }
    if (tracked && tracked.entry.incarnation === entry.incarnation) {
      const previous = tracked.state;
      Object.assign(tracked, fresh);
      if (previous !== 'live') this.join(tracked, previous === 'lost');
      return;
    }
    if (tracked?.state === 'live') this.lose(tracked, 'restarted');
    this.nodes.set(entry.node, fresh);
    this.join(fresh, false);
  }

  /** Declares silent nodes lost, unless this node is the one that stopped hearing anything. */
  private judge(): void {
    if (this.stopped) return;
    const now = performance.now();
    if (now - this.lastSelfEcho > this.isolatedAfterMs) {
      if (!this.isolated) this.logger.warn({ node: this.node, silentForMs: Math.round(now - this.lastSelfEcho) }, 'node directory hears not even its own heartbeats: judging nobody lost meanwhile');
      this.isolated = true;
      return;
    }
    if (this.isolated) return;
    for (const tracked of this.nodes.values()) {
      if (tracked.state !== 'live') continue;
      if (now - Math.max(tracked.arrivedAt, this.healthySince) > this.lostAfterMs) this.lose(tracked, 'silent');
    }
  }

  private join(tracked: TrackedNode, returned: boolean): void {
    this.counts.joined += 1;
    const { node, incarnation, info } = tracked.entry;
    this.logger.info({ node, incarnation, returned }, 'cluster node joined');
    this.emit(this.joinedListeners, { node, incarnation, info, returned });
  }

  private lose(tracked: TrackedNode, reason: NodeLostReason): void {
    tracked.state = 'lost';
    this.counts.lost += 1;
    const { node, incarnation, info } = tracked.entry;
    this.logger.warn({ node, incarnation, reason }, 'cluster node lost');
    this.emit(this.lostListeners, { node, incarnation, info, reason, lastHeartbeatAt: tracked.arrivedAtWall });
  }

  private emit<T>(listeners: readonly ((event: T) => void)[], event: T): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        // A failing listener must not stop the others, nor the watch loop that called it.
        this.logger.warn({ node: this.node, error: String(error) }, 'node directory listener failed');
      }
    }
  }
}

function subscribe<T>(listeners: T[], listener: T): () => void {
  listeners.push(listener);
  return () => {
    const index = listeners.indexOf(listener);
    if (index !== -1) listeners.splice(index, 1);
  };
}

function parseEntry(text: string, key: string): NodeEntry | undefined {
  const value = parseJson(text);
  if (!isRecord(value) || value.node !== key || typeof value.incarnation !== 'string' || typeof value.beat !== 'number') return undefined;
  const info = value.info;
  if (!isRecord(info) || typeof info.address !== 'string' || typeof info.startedAt !== 'number' || typeof info.version !== 'string') return undefined;
  return { node: key, incarnation: value.incarnation, info: { ...info, address: info.address, startedAt: info.startedAt, version: info.version }, beat: value.beat };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
