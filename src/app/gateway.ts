import { join } from 'node:path';
import type { Config } from './config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { LocalLogSource } from '../cluster/index.js';
import { ActorRuntime, ProcessorRunner, Scheduler, type Processor, type StartReport } from '../runtime/index.js';
import { DATABASE_FILE, SqliteEventStore, type JetStreamEventStore } from '../store/index.js';
import { startEdge, uwsIsNative, type Edge } from '../edge/uws.js';
import { landingPageRoute, servedUrls } from '../edge/landing-page.js';
import type { ClientConnection } from '../edge/connection.js';
import { Dispatcher } from '../edge/dispatch.js';
import { commandRoute } from '../edge/command-route.js';
import { pingTopic } from '../edge/handlers.js';
import { json, type HttpRoute } from '../edge/http.js';
import { httpErrorResponse } from '../edge/replies.js';
import type { Logger } from '../edge/logger.js';
import { GatewayMetrics } from '../edge/metrics.js';
import { nativeSocketRoute } from '../edge/native-socket.js';
import { socketIoTransports } from '../edge/socketio/polling.js';
import type { Connections } from '../modules/connections/index.js';
import type { GatewayRoomHost, GridService } from '../modules/grid/index.js';
import { bearerPrincipal, type IdentityService, type OAuthService } from '../modules/identity/index.js';
import type { KeyRing } from '../auth/keys.js';
import type { RoomService } from '../modules/rooms/index.js';
import type { ChatApi } from '../modules/chat/index.js';
import type { PresenceApi } from '../modules/presence/index.js';
import { MODULES, allProjections, createModules, type CreatedModules } from './modules.js';
import { ClusterNode } from './cluster.js';
import { newNodeId } from '../modules/connections/resume-token.js';

export { DATABASE_FILE } from '../store/index.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** Rooms the gateway hosts, as the room API reaches them; default: the rooms module's. */
  roomHost?: GatewayRoomHost;
}

/** How often the log is polled for events other processes (the CLI) appended. */
const LOG_POLL_MS = 250;

/**
 * Lifecycle and wiring: the event log, the actor runtime, the processors and the scheduler,
 * the modules of app/modules.ts, and the uWS edge with their topics and routes. Start: open
 * the log, listen (not ready), rebuild actors, start processors and modules, then ready.
 * Stop: not ready, close every socket with 1001, let in-flight commands commit, close.
 */
export class Gateway {
  /** The log: SQLite on one node; in a cluster JetStream, read through its local SQLite mirror. */
  readonly store: SqliteEventStore | JetStreamEventStore;
  readonly runtime: ActorRuntime;
  readonly metrics: GatewayMetrics;
  /** This process as a node of a cluster (PROTOCOL.md section 12); undefined on one node. */
  readonly cluster: ClusterNode | undefined;
  readonly dispatcher: Dispatcher;
  readonly scheduler: Scheduler;
  readonly processors: ProcessorRunner;
  private readonly source: LocalLogSource;
  private readonly modules: CreatedModules;
  private edge: Edge | undefined;
  private ready = false;
  private stopping: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;

  private constructor(
    private readonly config: Config,
    logger: Logger,
    clock: Clock,
    roomHost: GatewayRoomHost | undefined,
    metrics: GatewayMetrics,
    node: string,
    cluster: ClusterNode | undefined,
  ) {
    this.logger = logger;
    this.clock = clock;
    this.metrics = metrics;
    this.cluster = cluster;
    this.store = cluster?.store ?? new SqliteEventStore({
      path: join(config.dataDir, DATABASE_FILE),
      projections: allProjections,
      observer: this.metrics.storeObserver,
      clock,
      maxBatch: config.maxAppendBatch,
      walCheckpointIntervalMs: config.walCheckpointIntervalMs,
      walMaxBytes: config.walMaxBytes,
    });
    this.runtime = new ActorRuntime(this.store, logger);
    for (const module of MODULES) for (const aggregate of module.aggregates) this.runtime.register(aggregate);
    this.scheduler = new Scheduler(clock, logger);
    this.source = new LocalLogSource(this.store, LOG_POLL_MS, (error) => logger.error({ err: error }, 'log source failed'));
    this.processors = new ProcessorRunner(this.source, this.store.checkpoints, logger);
    this.modules = createModules({ config, logger, clock, store: this.store, runtime: this.runtime, scheduler: this.scheduler, registry: this.metrics.registry, roomHost, node, cluster: cluster?.ports });
    const connections = this.modules.connections.api;
    this.dispatcher = new Dispatcher({
      metrics: this.metrics,
      clock,
      onHandlerError: (connection, event, error) => logger.error({ err: error, connectionId: connection.id, event }, 'event handler failed'),
      // A node's loss must not hand another node a connection without the state only this node held.
      ...(cluster ? { pin: (connection: ClientConnection, topic: string) => connections.moves.pin(connection, topic) } : {}),
    });
    cluster?.attach({
      connection: (peerId) => this.connections.get(peerId),
      takeOverLostNodes: () => this.connections.takeOverLostNodes(),
      onError: (where, error) => this.uncaught(where, error),
    });
    this.metrics.watchResumes(this.modules.connections.api);

    // Live actors follow what other processes (the CLI) commit, before any module reacts to it.
    this.processors.add(actorsProcessor(this.runtime));
    this.dispatcher.add(pingTopic);
    for (const module of this.modules.list) {
      for (const topic of module.topics ?? []) this.dispatcher.add(topic);
      for (const processor of module.processors ?? []) this.processors.add(processor);
    }
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const { config, logger } = options;
    if (!uwsIsNative()) {
      if (!config.allowUwsFallback) {
        throw new Error(
          'uWebSockets.js could not load its native binary for this Node.js build and would fall back to a slow ' +
            'JavaScript shim. Refusing to start; set SWITCHYARD_ALLOW_UWS_FALLBACK=1 to run on the shim anyway.',
        );
      }
      logger.warn('uWebSockets.js native binary not loaded: running on the slow fallback shim');
    }
    const clock = options.clock ?? systemClock;
    const metrics = new GatewayMetrics();
    const node = newNodeId();
    const cluster =
      config.cluster.length > 0
        ? await ClusterNode.join({ config, logger, clock, node, projections: allProjections, observer: metrics.storeObserver, registry: metrics.registry })
        : undefined;
    let gateway: Gateway;
    try {
      gateway = new Gateway(config, logger, clock, options.roomHost, metrics, node, cluster);
    } catch (error) {
      await cluster?.close();
      throw error;
    }
    await gateway.listen();
    await gateway.cluster?.listening(config.host, gateway.port);
    try {
      await gateway.recover();
    } catch (error) {
      await gateway.stop();
      throw error;
    }
    gateway.ready = true;
    // The URLs an operator can open or point a client at, not just the port.
    const urls = servedUrls(config.host, gateway.port, config.ssl);
    logger.info({ port: gateway.port, dataDir: config.dataDir, urls }, 'gateway ready');
    return gateway;
  }

  // ---- what tests, benches and operators reach ----

  get connections(): Connections {
    return this.modules.connections.api;
  }

  get identity(): IdentityService {
    return this.modules.identity.api.identity;
  }

  get oauth(): OAuthService {
    return this.modules.identity.api.oauth;
  }

  get keyRing(): KeyRing {
    return this.modules.identity.api.keyRing;
  }

  get rooms(): RoomService {
    return this.modules.rooms.api.service;
  }

  /** Room API (JSON-RPC) and SFU grid. */
  get grid(): GridService {
    return this.modules.grid.api;
  }

  /** Chat and forum items: the read model and who follows which chat. */
  get chat(): ChatApi {
    return this.modules.chat.api;
  }

  /** Who is online at which event, and in a cluster the exchange with the other nodes. */
  get presence(): PresenceApi {
    return this.modules.presence.api;
  }

  get port(): number {
    return this.edge?.port ?? 0;
  }

  /** Started, not stopping, and the log accepts writes (else every action would fail). */
  get isReady(): boolean {
    return this.ready && this.store.writable;
  }

  get openConnections(): number {
    return this.connections.size;
  }

  /** Resolves once stopped: no listener, every socket closed with 1001, appends committed. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /**
   * The last resort for an exception no handler caught (uWS callbacks, timers, promise
   * chains): logged with where it happened and counted, and the gateway keeps serving.
   */
  uncaught(where: string, error: unknown): void {
    this.metrics.uncaught.inc({ where });
    this.logger.error({ err: error, where }, 'uncaught error (a bug); the gateway keeps serving');
  }

  private async shutdown(): Promise<void> {
    this.ready = false;
    this.edge?.stopListening();
    // Sockets first (the connections module closes them and waits for their commands), then
    // the other modules, timers and processors, then the log.
    const [first, ...rest] = this.modules.list;
    await first?.stop?.();
    await this.scheduler.stop();
    for (const module of rest.reverse()) await module.stop?.();
    await this.processors.stop();
    this.source.stop();
    // A cluster node closes its log with the rest of its cluster pieces, after them.
    if (this.cluster) await this.cluster.close();
    else await this.store.close();
    this.logger.info('gateway stopped');
  }

  /** Rebuilds actors from the log, then starts processors, timers and modules in order. */
  private async recover(): Promise<void> {
    const started = performance.now();
    const rebuilt = this.runtime.rebuild();
    // Events committed from here on (ours and the CLI's) reach actors and reactions.
    this.processors.start();
    this.scheduler.start();
    const report: StartReport = {};
    for (const module of this.modules.list) Object.assign(report, await module.start?.());
    this.logger.info(
      { events: rebuilt.events, actors: rebuilt.streams, ...report, processors: this.processors.names.length, ms: Math.round(performance.now() - started) },
      'actors rebuilt from the event log',
    );
  }

  private async listen(): Promise<void> {
    const { config } = this;
    // Both socket routes hold their connections to the same limits.
    const limits = {
      maxBackpressureBytes: config.maxBackpressureBytes,
      badFrameLimit: config.badFrameLimit,
      badFrameWindowMs: config.badFrameWindowSeconds * 1000,
      maxFrameDepth: config.maxFrameDepth,
      // Pushes kept per connection for a resume (PROTOCOL.md section 11); none when resume is off.
      resumeBufferPushes: config.resumeWindowSeconds > 0 ? config.resumeBufferPushes : undefined,
    };
    const connections = this.connections;
    const lifecycle = {
      accepting: () => this.ready,
      // Connection storms are refused at the upgrade, before a socket or a log event exists.
      admit: (remoteAddress: string) => {
        const now = this.clock.now();
        const refusal = connections.admission(remoteAddress, now);
        return refusal && httpErrorResponse(refusal, { 'retry-after': String(connections.retryAfterSeconds(remoteAddress, now)) });
      },
      opened: (connection: ClientConnection) => {
        this.metrics.connectionOpened(connection.info.transport, connection.info.codec);
        connections.opened(connection);
      },
      closed: (connection: ClientConnection, code: number, reason: string) => {
        this.metrics.connectionClosed(connection.info.transport, connection.info.codec);
        connections.closed(connection, code, reason);
      },
    };
    const fastPaths = this.modules.list.flatMap((module) => (module.fastPath ? [module.fastPath] : []));
    if (fastPaths.length > 1) throw new Error('only one module may claim the frame fast path');
    const native = nativeSocketRoute({
      dispatcher: this.dispatcher,
      metrics: this.metrics,
      clock: this.clock,
      limits: { ...limits, maxFrameBytes: config.maxFrameBytes },
      allowedOrigins: config.allowedOrigins,
      fastPath: fastPaths[0],
      ...lifecycle,
    });
    // PROTOCOL.md section 3: the same topics and connection lifecycle, Socket.IO packets, on websocket and polling.
    const socketIo = socketIoTransports({
      dispatcher: this.dispatcher,
      metrics: this.metrics,
      clock: this.clock,
      limits,
      options: {
        pingIntervalMs: config.socketIoPingIntervalMs,
        pingTimeoutMs: config.socketIoPingTimeoutMs,
        maxPayloadBytes: config.socketIoMaxPayloadBytes,
        connectTimeoutMs: config.socketIoConnectTimeoutMs,
        namespaces: config.socketIoNamespaces,
      },
      allowedOrigins: config.allowedOrigins,
      authenticateOnConnect: true,
      ...lifecycle,
    });
    this.edge = await startEdge({
      host: config.host,
      port: config.port,
      ssl: config.ssl ? { certificate: config.certificate!, privateKey: config.privateKey! } : undefined,
      maxFrameBytes: config.maxFrameBytes,
      maxBackpressureBytes: config.maxBackpressureBytes,
      idleTimeoutSeconds: config.idleTimeoutSeconds,
      http: [...this.modules.list.flatMap((module) => module.routes ?? []), ...socketIo.http, ...this.operatorRoutes()],
      // Modules' own sockets (device sync's page) after the gateway's.
      webSockets: [native, socketIo.webSocket, ...this.modules.list.flatMap((module) => module.sockets ?? [])],
      onUncaught: (where, error) => this.uncaught(where, error),
    });
  }

  private operatorRoutes(): HttpRoute[] {
    return [
      { method: 'get', path: '/healthz', handler: () => json(200, { status: 'ok' }) },
      {
        method: 'get',
        path: '/readyz',
        handler: () => (this.isReady ? json(200, { status: 'ready' }) : json(503, { status: this.ready ? 'storage not writable' : 'starting' })),
      },
      {
        method: 'get',
        path: '/metrics',
        handler: async () => ({
          status: 200,
          headers: { 'content-type': this.metrics.contentType },
          body: await this.metrics.render(),
        }),
      },
      landingPageRoute(),
      // Extream's commands over HTTP: the same topics the sockets reach, answered with the result body.
      commandRoute({
        commandTopic: (name) => {
          const topic = this.dispatcher.topic(name);
          return topic?.reject?.kind === 'extream' ? topic : undefined;
        },
        principalOf: (authorization, now) => bearerPrincipal(this.identity, authorization, now),
        clock: this.clock,
        maxBodyBytes: this.config.maxFrameBytes,
        onInternalError: (topic, error) => this.logger.error({ err: error, topic }, 'HTTP command failed'),
      }),
      {
        method: 'any',
        path: '/*',
        handler: (request) => json(404, { error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.path}` } }),
      },
    ];
  }
}

/** Keeps live actors in step with events other processes committed (idempotent for our own). */
function actorsProcessor(runtime: ActorRuntime): Processor {
  return {
    name: 'runtime.actors',
    startFrom: 'now',
    canHandle: () => true,
    handle: (events) => runtime.applyCommitted(events),
  };
}
