import { join } from 'node:path';
import type { Config } from './config.js';
import { CloseCode } from '../core/errors.js';
import { addToIndex, removeFromIndex } from '../core/collections.js';
import { systemClock, type Clock } from '../core/clock.js';
import { streamId } from '../core/ids.js';
import { CONNECTION_CATEGORY, connectionAggregate, type CloseConnection, type OpenConnection } from '../modules/connections/domain/index.js';
import { IdentityService } from '../modules/identity/identity-service.js';
import { KeyRing } from '../auth/keys.js';
import { SecretBox } from '../auth/secrets.js';
import { TokenService, type ExternalIssuer } from '../auth/tokens.js';
import { OAuthService } from '../modules/identity/oauth-service.js';
import { identityAggregates } from '../modules/identity/domain/index.js';
import { oauthAggregates } from '../modules/identity/domain/index.js';
import { sessionAggregate, SESSION_CATEGORY } from '../modules/identity/domain/index.js';
import { roomAggregate, ROOM_CATEGORY } from '../modules/rooms/domain/index.js';
import { allProjections } from './projections.js';
import { ActorRuntime, LogFollower } from '../runtime/index.js';
import type { RecordedEvent } from '../store/index.js';
import { registerIdentityEvents } from '../modules/identity/topics.js';
import { identityRoutes } from '../modules/identity/routes.js';
import { oauthRoutes } from '../modules/identity/oauth-routes.js';
import { RoomService } from '../modules/rooms/room-service.js';
import { DATABASE_FILE, SqliteEventStore } from '../store/index.js';
import { startEdge, uwsIsNative, type Edge } from '../edge/uws.js';
import type { ClientConnection } from '../edge/connection.js';
import { EventHandlers, pingHandler } from '../edge/handlers.js';
import { demoPageRoute } from '../modules/rooms/demo-page.js';
import { json, type HttpRoute } from '../edge/http.js';
import type { Logger } from '../edge/logger.js';
import { GatewayMetrics } from '../edge/metrics.js';
import { nativeSocketRoute } from '../edge/native-socket.js';
import { engineIoHttpRoutes } from '../edge/socketio/engineio-socket.js';
import { socketIoRoute } from '../edge/socketio/socketio-socket.js';
import { GridService, type GatewayRoomHost } from '../modules/grid/index.js';
import { rpcRoutes } from '../modules/grid/routes.js';

export { DATABASE_FILE } from '../store/index.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** Rooms the gateway hosts, as the room API reaches them; default: none (all go to SFU servers). */
  roomHost?: GatewayRoomHost;
}

/**
 * Wires the gateway: event log, actors, the uWS edge and its routes. Owns the lifecycle:
 * start (open log, listen, rebuild actors, then ready) and a graceful stop.
 */
export class Gateway {
  readonly store: SqliteEventStore;
  readonly runtime: ActorRuntime;
  readonly metrics = new GatewayMetrics();
  readonly handlers = new EventHandlers();
  readonly identity: IdentityService;
  readonly oauth: OAuthService;
  readonly keyRing: KeyRing;
  readonly rooms: RoomService;
  /** Room API (JSON-RPC) and SFU grid. */
  readonly grid: GridService;
  private readonly follower: LogFollower;
  private readonly connections = new Map<string, ClientConnection>();
  /** Sockets by the user they speak for: disabling a user closes all of them. */
  private readonly socketsByUser = new Map<string, Set<ClientConnection>>();
  private readonly userOfSocket = new Map<ClientConnection, string>();
  /** Commands in flight (connection open/close); shutdown waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private edge: Edge | undefined;
  private ready = false;
  private stopping: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;

  private constructor(private readonly config: Config, logger: Logger, clock: Clock) {
    this.logger = logger;
    this.clock = clock;
    this.store = new SqliteEventStore({
      path: join(config.dataDir, DATABASE_FILE),
      projections: allProjections,
      observer: this.metrics.storeObserver,
      clock,
      maxBatch: config.maxAppendBatch,
      walCheckpointIntervalMs: config.walCheckpointIntervalMs,
    });
    this.runtime = new ActorRuntime(this.store, logger);
    this.runtime.register(connectionAggregate);
    this.runtime.register(sessionAggregate);
    this.runtime.register(roomAggregate);
    for (const aggregate of identityAggregates) this.runtime.register(aggregate);
    for (const aggregate of oauthAggregates) this.runtime.register(aggregate);

    this.keyRing = new KeyRing(config.dataDir);
    const key = this.keyRing.loadOrCreate(clock.now());
    if (key.generated) logger.warn({ kid: key.kid, dir: join(config.dataDir, 'keys') }, 'generated a new token signing key (first start)');
    const secrets = SecretBox.open(config.dataDir);
    if (secrets.generated) logger.warn({ dir: join(config.dataDir, 'keys') }, 'generated a new secrets key for MFA seeds (first start)');
    const tokens = new TokenService(this.keyRing, {
      issuer: config.issuer,
      clockToleranceSeconds: config.tokenClockToleranceSeconds,
      externalIssuers: config.externalIssuers as ExternalIssuer[],
    });
    this.identity = new IdentityService(this.runtime, this.store, tokens, secrets.box, config, clock);
    this.oauth = new OAuthService(this.identity, this.runtime, config, clock, logger);

    this.follower = new LogFollower(this.store, 250, (error) => logger.error({ err: error }, 'log follower failed'));
    this.follower.subscribe((events) => this.runtime.applyCommitted(events));
    this.follower.subscribe((events) => this.react(events));
    this.rooms = new RoomService({ runtime: this.runtime, config, clock, connection: (id) => this.connections.get(id) });
    this.follower.subscribe((events) => this.rooms.applyCommitted(events));

    this.handlers.on('ping', pingHandler);
    registerIdentityEvents(this.handlers, {
      identity: this.identity,
      runtime: this.runtime,
      config,
      boundToUser: (connection, userId) => this.bindToUser(connection, userId),
      unboundFromUser: (connection) => this.unbind(connection),
    });
    this.rooms.register(this.handlers);
    this.grid = new GridService({ config, dataDir: config.dataDir, logger, clock, store: this.store, runtime: this.runtime, registry: this.metrics.registry });
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
    const gateway = new Gateway(config, logger, options.clock ?? systemClock);
    // Room API calls on rooms this gateway hosts act at once; others go to the SFU grid.
    gateway.grid.setRoomHost(options.roomHost ?? gateway.rooms.asGatewayRoomHost());
    await gateway.listen();
    await gateway.recover();
    // Clients of the `oauthClients` config key; a bad entry stops the start, not a half-started gateway.
    await gateway.oauth.registerConfiguredClients().catch(async (error: unknown) => {
      await gateway.stop();
      throw error;
    });
    gateway.ready = true;
    logger.info({ port: gateway.port, dataDir: config.dataDir }, 'gateway ready');
    return gateway;
  }

  get port(): number {
    return this.edge?.port ?? 0;
  }

  get isReady(): boolean {
    return this.ready;
  }

  get openConnections(): number {
    return this.connections.size;
  }

  /** Resolves once stopped: no listener, every socket closed with 1001, appends committed. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.ready = false;
    this.follower.stop();
    this.edge?.stopListening();
    for (const connection of this.connections.values()) {
      connection.close(CloseCode.GOING_AWAY, 'server shutting down');
    }
    await Promise.allSettled([...this.inFlight]);
    await this.grid.stop();
    await this.store.close();
    this.logger.info('gateway stopped');
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Rebuilds actors from the log. Connections the log still shows open died with the last
   * process (sockets do not survive a restart): they are closed as unclean, so the audit
   * trail has an end for every connection.
   */
  private async recover(): Promise<void> {
    const started = performance.now();
    const rebuilt = this.runtime.rebuild();
    // Events committed from here on (ours and the CLI's) reach actors and reactions.
    this.follower.start();
    const stale = this.runtime.streams(CONNECTION_CATEGORY);
    const close: CloseConnection = {
      type: 'CloseConnection',
      code: 1006,
      reason: 'gateway restarted',
      unclean: true,
      framesIn: 0,
      framesOut: 0,
      now: this.clock.now(),
    };
    await Promise.all(stale.map((stream) => this.runtime.execute(stream, close, { actor: 'system' })));
    const closedRooms = await this.rooms.recover(this.runtime.streams(ROOM_CATEGORY));
    this.grid.start();
    this.logger.info(
      { events: rebuilt.events, actors: rebuilt.streams, uncleanConnections: stale.length, closedRooms, ms: Math.round(performance.now() - started) },
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
    };
    const native = nativeSocketRoute({
      handlers: this.handlers,
      metrics: this.metrics,
      clock: this.clock,
      limits: { ...limits, maxFrameBytes: config.maxFrameBytes },
      allowedOrigins: config.allowedOrigins,
      accepting: () => this.ready,
      opened: (connection) => this.connectionOpened(connection),
      closed: (connection, code, reason) => this.connectionClosed(connection, code, reason),
      textFastPath: (connection, bytes, now) => this.rooms.relayFromJsonText(connection, bytes, now),
      onHandlerError: (connection, event, error) =>
        this.logger.error({ err: error, connectionId: connection.id, event }, 'event handler failed'),
    });
    // PROTOCOL.md section 3: the same handlers and connection lifecycle, Socket.IO packets.
    const socketIo = socketIoRoute({
      handlers: this.handlers,
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
      accepting: () => this.ready,
      opened: (connection) => this.connectionOpened(connection),
      closed: (connection, code, reason) => this.connectionClosed(connection, code, reason),
      onHandlerError: (connection, event, error) =>
        this.logger.error({ err: error, connectionId: connection.id, event }, 'event handler failed'),
      authenticateOnConnect: true,
    });
    this.edge = await startEdge({
      host: config.host,
      port: config.port,
      ssl: config.ssl ? { certificate: config.certificate!, privateKey: config.privateKey! } : undefined,
      maxFrameBytes: config.maxFrameBytes,
      maxBackpressureBytes: config.maxBackpressureBytes,
      idleTimeoutSeconds: config.idleTimeoutSeconds,
      http: [...identityRoutes(this.identity, this.clock, config.appPassword), ...oauthRoutes(this.oauth, { secureCookies: config.ssl, logger: this.logger }), ...engineIoHttpRoutes('/socket.io/'), ...this.httpRoutes()],
      webSockets: [native, socketIo],
      onUncaught: (where, error) => this.uncaught(where, error),
    });
  }

  /**
   * The last resort for an exception no handler caught (uWS callbacks, timers, promise
   * chains): logged with where it happened and counted, and the gateway keeps serving.
   */
  uncaught(where: string, error: unknown): void {
    this.metrics.uncaught.inc({ where });
    this.logger.error({ err: error, where }, 'uncaught error (a bug); the gateway keeps serving');
  }

  private httpRoutes(): HttpRoute[] {
    return [
      { method: 'get', path: '/healthz', handler: () => json(200, { status: 'ok' }) },
      {
        method: 'get',
        path: '/readyz',
        handler: () => (this.ready ? json(200, { status: 'ready' }) : json(503, { status: 'starting' })),
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
      ...rpcRoutes(this.grid, { maxBodyBytes: this.config.rpcMaxBodyBytes, maxInternalBodyBytes: this.config.internalMaxBodyBytes }),
      demoPageRoute(),
      {
        method: 'any',
        path: '/*',
        handler: (request) => json(404, { error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.path}` } }),
      },
    ];
  }

  /**
   * Reactions to committed events, from this process or the CLI: a disabled user's sockets
   * close (4501) and an operator-ended session's socket closes (4503).
   */
  private react(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      if (event.type === 'UserDisabled') {
        const userId = (event.data as { userId: string }).userId;
        for (const connection of this.socketsByUser.get(userId) ?? []) connection.close(CloseCode.BANNED, 'user disabled');
      } else if (event.type === 'SessionEnded') {
        const connectionId = event.streamId.slice(SESSION_CATEGORY.length + 1);
        this.connections.get(connectionId)?.close(CloseCode.KICKED, 'session ended by an operator');
      }
    }
  }

  private bindToUser(connection: ClientConnection, userId: string): void {
    const previous = this.userOfSocket.get(connection);
    if (previous !== undefined && previous !== userId) removeFromIndex(this.socketsByUser, previous, connection);
    addToIndex(this.socketsByUser, userId, connection);
    this.userOfSocket.set(connection, userId);
    // Disabled between the token check and now: do not let the socket slip through.
    if (!this.identity.userActive(userId)) connection.close(CloseCode.BANNED, 'user disabled');
  }

  private unbind(connection: ClientConnection): void {
    const userId = this.userOfSocket.get(connection);
    if (userId === undefined) return;
    this.userOfSocket.delete(connection);
    removeFromIndex(this.socketsByUser, userId, connection);
  }

  private connectionOpened(connection: ClientConnection): void {
    const { info } = connection;
    this.connections.set(info.id, connection);
    if (this.config.authDeadlineSeconds > 0) {
      const deadline = setTimeout(() => {
        const kind = connection.principal.kind;
        if (kind === 'anonymous' || kind === 'mfa-pending') connection.close(CloseCode.AUTH_TIMEOUT, 'not authenticated in time');
      }, this.config.authDeadlineSeconds * 1000);
      connection.timers.push(deadline);
    }
    this.metrics.connectionOpened(info.transport, info.codec);
    const command: OpenConnection = {
      type: 'OpenConnection',
      connectionId: info.id,
      codec: info.codec,
      transport: info.transport,
      remoteAddress: info.remoteAddress,
      userAgent: info.userAgent,
      origin: info.origin,
      now: this.clock.now(),
    };
    this.track(this.runtime.execute(streamId(CONNECTION_CATEGORY, info.id), command, { actor: `connection:${info.id}` })).then(
      // The welcome goes out after the commit: a client that saw it knows its connection is in the log.
      () => connection.send({ event: 'welcome', data: { peer_id: info.id, codec: info.codec, protocol: 1 } }),
      (error: unknown) => {
        this.logger.error({ err: error, connectionId: info.id }, 'could not record connection; closing it');
        connection.close(CloseCode.INTERNAL_ERROR, 'server error');
      },
    );
  }

  private connectionClosed(connection: ClientConnection, code: number, reason: string): void {
    const { info } = connection;
    if (!this.connections.delete(info.id)) return;
    for (const timer of connection.timers) clearTimeout(timer);
    this.unbind(connection);
    // A session lives as long as its socket: its actor need not stay in memory.
    this.runtime.release(`${SESSION_CATEGORY}-${info.id}`);
    this.track(this.rooms.connectionClosed(connection));
    this.metrics.connectionClosed(info.transport, info.codec);
    const command: CloseConnection = {
      type: 'CloseConnection',
      code,
      reason,
      framesIn: connection.framesIn,
      framesOut: connection.framesOut,
      now: this.clock.now(),
    };
    this.track(this.runtime.execute(streamId(CONNECTION_CATEGORY, info.id), command, { actor: `connection:${info.id}` })).catch(
      (error: unknown) => this.logger.error({ err: error, connectionId: info.id }, 'could not record connection close'),
    );
  }
}
