import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import { KeyRing } from '../auth/keys.js';
import { loadOrCreateMasterKey } from '../auth/odin-keys.js';
import { SecretBox } from '../auth/secrets.js';
import { clusterServers } from '../cluster/config.js';
import { connectCluster } from '../cluster/nats.js';
import { ClusterChannel, Mesh, NodeDirectory, deliverFrame, shareKeyFiles, type LiveNode, type MeshFrame, type NodeInfo, type NodeLost, type SharedKeyFiles } from '../cluster/index.js';
import type { ClientConnection } from '../edge/connection.js';
import type { Logger } from '../edge/logger.js';
import { ServerRsaKey } from '../modules/sync/rsa.js';
import { DATABASE_FILE, JetStreamEventStore, StartupError, type Projection, type StoreObserver } from '../store/index.js';
import type { Config } from './config.js';

/**
 * What the modules see of the cluster (PROTOCOL.md section 12): this process's node id,
 * whether another node is alive, and a way to hand a frame to a socket on another node.
 */
export interface ClusterPorts {
  node: string;
  isLive(node: string): boolean;
  forward(node: string, peerId: string, frame: MeshFrame): boolean;
  /** The gateway nodes alive now, for `Info`. */
  nodes(): Record<string, unknown>[];
  /** A broadcast channel to the other nodes, for state each node holds in memory (presence); one per name. */
  channel(name: string): ClusterChannelPort;
}

/** A module's channel to the other nodes (cluster/channel.ts), with word of nodes that are lost. */
export interface ClusterChannelPort {
  publish(body: unknown): boolean;
  subscribe(handler: (from: string, body: unknown) => void): void;
  readonly maxMessageBytes: number;
  onReconnected(listener: () => void): void;
  onNodeLost(listener: (node: string, reason: string) => void): void;
  close(): void;
}

/** What a node does with the modules once they exist: deliver forwarded frames, take over lost nodes. */
export interface ClusterAttachments {
  connection(peerId: string): ClientConnection | undefined;
  /**
   * Keeps the connections of lost nodes for a resume on another node, or ends them (the
   * connections module; their peers leave their rooms, now or when their window ends).
   * Returns how many ended at once.
   */
  takeOverLostNodes(): Promise<number>;
  onError(where: string, error: unknown): void;
}

export interface JoinClusterOptions {
  config: Config;
  logger: Logger;
  clock: Clock;
  /** This process's node id: its connections' `node`, its resume tokens', its mesh subject's. */
  node: string;
  projections: readonly Projection[];
  observer: StoreObserver;
  registry: Registry;
}

/**
 * One gateway process as a node of a cluster: the NATS connection (cluster/nats.ts), the key
 * files shared with the other nodes before anything loads them, the event log in JetStream
 * with its local SQLite mirror, the node directory (heartbeats, losses, takeover claims) and
 * the mesh that carries relays to sockets on other nodes.
 */
export class ClusterNode {
  /** Frames forwarded here for a peer with no socket here any more (it left meanwhile). */
  private undeliverable = 0;
  private readonly takeovers = new Set<Promise<void>>();
  private readonly channels = new Map<string, ClusterChannel>();

  private constructor(
    readonly node: string,
    private readonly connection: NatsConnection,
    private readonly keys: SharedKeyFiles,
    readonly store: JetStreamEventStore,
    readonly directory: NodeDirectory,
    readonly mesh: Mesh,
    private readonly logger: Logger,
    private readonly info: NodeInfo,
  ) {}

  /** The gateway listens: the node's address in the directory (and `Info`) gets its real port (port 0 picks one). */
  async listening(host: string, port: number): Promise<void> {
    this.info.address = `${host}:${port}`;
    await this.directory.announce();
  }

  static async join(options: JoinClusterOptions): Promise<ClusterNode> {
    const { config, logger, clock, node } = options;
    const replicas = config.clusterReplicas;
    const servers = clusterServers(config);
    const connection = await connectCluster({ ...servers, name: `switchyard-${node}` }, logger).catch((error: unknown) => {
      // A refusal of the credentials is met again by every restart: one line and exit 2.
      if (error instanceof Error && /authoriz|authenticat/i.test(error.message)) {
        throw new StartupError(
          servers.servers.join(','),
          `NATS refused the cluster credentials (${error.message}): check clusterUser/clusterPassword or clusterToken`,
        );
      }
      throw error;
    });
    const opened: { close(): Promise<void> }[] = [];
    try {
      // Before any module reads them: every node signs and seals with the cluster's keys.
      const keys = await shareKeyFiles(connection, config.dataDir, { replicas, node, logger, generate: () => generateKeyFiles(config.dataDir, clock) });
      opened.push(keys);
      const store = await JetStreamEventStore.open({
        connection,
        mirrorPath: join(config.dataDir, DATABASE_FILE),
        replicas,
        projections: options.projections,
        observer: options.observer,
        clock,
        publishTimeoutMs: config.clusterPublishTimeoutMs,
        logger,
      });
      opened.push(store);
      // Heartbeats carry this object as it is then: `listening` fills in the port once known.
      const info: NodeInfo = { address: `${config.host}:${config.port}`, startedAt: clock.now(), version: process.env.npm_package_version ?? 'unknown' };
      const directory = await NodeDirectory.open(connection, {
        node,
        info,
        heartbeatMs: config.clusterHeartbeatMs,
        lostAfterMs: config.clusterNodeLostAfterMs,
        replicas,
        logger,
      });
      opened.push(directory);
      // Before the gateway closes the connections of nodes that are not alive.
      await directory.settled();
      const mesh = new Mesh(connection, node, { maxPendingBytes: config.clusterMaxPendingBytes, logger });
      const cluster = new ClusterNode(node, connection, keys, store, directory, mesh, logger, info);
      cluster.registerMetrics(options.registry);
      return cluster;
    } catch (error) {
      for (const piece of opened.reverse()) await piece.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  get ports(): ClusterPorts {
    return {
      node: this.node,
      isLive: (node) => this.isLive(node),
      forward: (node, peerId, frame) => this.mesh.forward(node, peerId, frame),
      nodes: () => this.nodes(),
      channel: (name) => this.channel(name),
    };
  }

  private isLive(node: string): boolean {
    return node === this.node || this.directory.live().some((live) => live.node === node);
  }

  private channel(name: string): ClusterChannelPort {
    if (this.channels.has(name)) throw new Error(`cluster channel ${name} opened twice`);
    const channel = new ClusterChannel(this.connection, this.node, name, { logger: this.logger });
    this.channels.set(name, channel);
    const directory = this.directory;
    const unsubscribes: (() => void)[] = [];
    return {
      publish: (body) => channel.publish(body),
      subscribe: (handler) => channel.subscribe(handler),
      get maxMessageBytes() {
        return channel.maxMessageBytes;
      },
      onReconnected: (listener) => channel.onReconnected(listener),
      onNodeLost: (listener) => void unsubscribes.push(directory.onLost((lost) => listener(lost.node, lost.reason))),
      close: () => {
        for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
        channel.close();
      },
    };
  }

  /** The nodes alive now, for `Info`. */
  nodes(): { node: string; address: string; startedAt: number; self: boolean; lastHeartbeatAt: number }[] {
    return this.directory.live().map((live: LiveNode) => ({
      node: live.node,
      address: live.info.address,
      startedAt: live.info.startedAt,
      self: live.self,
      lastHeartbeatAt: live.lastHeartbeatAt,
    }));
  }

  /** Once the modules exist: frames from other nodes reach their sockets; lost nodes are taken over. */
  attach(modules: ClusterAttachments): void {
    this.mesh.onFrames((peerId, frame) => {
      const target = modules.connection(peerId);
      if (!target) {
        this.undeliverable += 1;
        return;
      }
      deliverFrame(target, frame);
    });
    this.directory.onLost((lost) => {
      const takeover = this.takeOver(lost, modules).catch((error: unknown) => modules.onError('cluster.takeover', error));
      this.takeovers.add(takeover);
      void takeover.finally(() => this.takeovers.delete(takeover));
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.takeovers]);
    for (const channel of this.channels.values()) channel.close();
    await this.mesh.close();
    await this.directory.close();
    await this.keys.close();
    await this.store.close();
    await this.connection.drain().catch(() => this.connection.close());
  }

  /**
   * A lost node's sockets are gone: of all the nodes that remain, the one that wins the claim
   * keeps its resumable connections for their window (their clients resume on any node, which
   * adopts them) and ends the others, taking their peers out of their rooms, so the members on
   * the other nodes hear `room-user-leave` and rooms with members left keep running. The
   * claim only saves duplicate work: both steps are commands on the log, whose versions every
   * mirror checks again at ingest (jetstream-store.ts), so a second node doing them would
   * lose its appends as conflicts and, deciding again, find nothing left to do.
   */
  private async takeOver(lost: NodeLost, modules: ClusterAttachments): Promise<void> {
    if (!(await this.directory.claim(`takeover.${lost.node}.${lost.incarnation}`, this.node))) return;
    const ended = await modules.takeOverLostNodes();
    this.logger.info({ lostNode: lost.node, reason: lost.reason, endedConnections: ended }, 'took over a lost cluster node');
  }

  private registerMetrics(registry: Registry): void {
    const directory = this.directory;
    const mesh = this.mesh;
    const cluster = this;
    new Gauge({
      name: 'switchyard_cluster_nodes',
      help: 'Gateway nodes of the cluster alive now, this one included',
      registers: [registry],
      collect() {
        this.set(directory.stats().live);
      },
    });
    new Gauge({
      name: 'switchyard_cluster_nodes_lost',
      help: 'Node incarnations seen lost since this node started',
      registers: [registry],
      collect() {
        this.set(directory.stats().lost);
      },
    });
    new Gauge({
      name: 'switchyard_cluster_frames',
      help: 'Frames between this node and the others, by direction (forwarded, received, dropped past clusterMaxPendingBytes, undeliverable)',
      labelNames: ['direction'],
      registers: [registry],
      collect() {
        const stats = mesh.stats();
        this.set({ direction: 'forwarded' }, stats.forwardedFrames);
        this.set({ direction: 'received' }, stats.receivedFrames);
        this.set({ direction: 'dropped' }, stats.droppedFrames);
        this.set({ direction: 'undeliverable' }, cluster.undeliverable);
      },
    });
    const channels = this.channels;
    new Gauge({
      name: 'switchyard_cluster_channel_messages',
      help: 'Messages on the cluster channels (presence), by channel and direction (published, received, malformed and dropped on arrival, dropped on publish)',
      labelNames: ['channel', 'direction'],
      registers: [registry],
      collect() {
        for (const [name, { stats }] of channels) {
          this.set({ channel: name, direction: 'published' }, stats.published);
          this.set({ channel: name, direction: 'received' }, stats.received);
          this.set({ channel: name, direction: 'malformed' }, stats.malformed);
          this.set({ channel: name, direction: 'dropped' }, stats.dropped);
        }
      },
    });
    new Gauge({
      name: 'switchyard_cluster_pending_bytes',
      help: 'Bytes of cross-node frames not yet taken by the NATS server (bounded by clusterMaxPendingBytes)',
      registers: [registry],
      collect() {
        this.set(mesh.stats().pendingBytes);
      },
    });
  }
}

/**
 * The key files a gateway makes on its first start, made by the first node of a cluster so
 * they can be shared: the signing key ring, the secrets key, the grid master key and the
 * device-sync RSA key, by the same functions the modules load them with.
 */
function generateKeyFiles(dataDir: string, clock: Clock): void {
  new KeyRing(dataDir).loadOrCreate(clock.now());
  SecretBox.open(dataDir);
  loadOrCreateMasterKey(dataDir);
  ServerRsaKey.loadOrCreate(dataDir);
}
