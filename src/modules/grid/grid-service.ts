import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { publicJwk, type VerifiedOdinToken } from '../../auth/index.js';
import type { Clock } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import type { CallOutcome } from '../../protocol/index.js';
import type { ConnectParams, GridConfigParams, ReportParams } from '../../protocol/topics/grid.js';
import type { ActorRuntime, Processor, Scheduler } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import { groupKeyOf, type Licence, type RoomId, type SfuTask } from './domain/index.js';
import { CustomerApiPoller } from './customer-api.js';
import { CustomerDirectory, CustomerLogFeed, definitionsFromConfig } from './customers.js';
import { GridCredentials } from './credentials.js';
import { GridDirectory } from './directory.js';
import type { GridConfig } from './grid-config.js';
import { CallStats, gridGauges, gridInfo } from './grid-info.js';
import { GridMetrics } from './metrics.js';
import { DefaultPlacement, RoomPlacer, type PlacementStrategy } from './placement.js';
import { noGatewayRooms, type GatewayRoomHost } from './room-host.js';
import { RoomTokens } from './room-tokens.js';
import { SfuStreams } from './sfu-streams.js';
import { extendSfuConfig, recommendedSfuConfig } from './sfu-config.js';
import { sweepIntervalMs, sweepSilentServers } from './sweep.js';
import { RoomTasks, type RoomTaskParams } from './tasks.js';

export interface GridServiceOptions {
  config: GridConfig;
  dataDir: string;
  logger: Logger;
  clock: Clock;
  store: EventStore;
  runtime: ActorRuntime;
  registry: Registry;
  scheduler: Scheduler;
  roomHost?: GatewayRoomHost | undefined;
  /** Where new rooms go; the default is today's sticky, load-aware placement. */
  placement?: PlacementStrategy;
  /** In a cluster, the gateway nodes alive now: `Info` lists them as `gateways`. */
  gatewayNodes?: (() => readonly Record<string, unknown>[]) | undefined;
}

/** Connect's result: the SFU server's address and the room token for it. */
export interface ConnectResult {
  address: string;
  token: string;
}

/** Port ODIN servers listen on, assumed for a server that does not announce its endpoint. */
const DEFAULT_SFU_PORT = 4433;

/**
 * The room API and the SFU grid as the routes and the app see them: Connect (licence,
 * placement, room token), room tasks, the servers' GridConfig/Report, Info. State changes go
 * through the SFU actors (`sfu-<address>` streams, sfu-streams.ts); the directory of servers
 * and rooms follows their events; placement, tokens, tasks and the silence sweep have files
 * of their own.
 */
export class GridService {
  readonly customers: CustomerDirectory;
  readonly directory = new GridDirectory();
  readonly metrics: GridMetrics;
  /** What the module reads from the log: customer events and SFU events (the directory). */
  readonly processors: readonly Processor[];
  private readonly credentials: GridCredentials;
  private readonly tokens: RoomTokens;
  private readonly streams: SfuStreams;
  private readonly placer: RoomPlacer;
  private readonly tasks: RoomTasks;
  private readonly calls: CallStats;
  private readonly logFeed: CustomerLogFeed;
  private readonly apiPoller: CustomerApiPoller | undefined;
  private startedAt = 0;
  private ready = false;

  constructor(private readonly options: GridServiceOptions) {
    const { config, logger, clock } = options;
    this.customers = new CustomerDirectory(logger);
    this.customers.setSource('config', definitionsFromConfig(config.customers));
    this.calls = new CallStats(logger);
    const gauges = gridGauges(this.directory, this.customers, () => clock.now());
    this.metrics = new GridMetrics(
      options.registry,
      () => (this.ready ? gauges : undefined),
      () => this.calls.entries().map(([method, counters]) => [counters.endpoint, method, counters] as const),
    );
    this.credentials = new GridCredentials(this.customers, config, this.metrics, logger);
    this.tokens = new RoomTokens(options.dataDir, logger, config.roomTokenLifetimeSeconds);
    this.streams = new SfuStreams(options.runtime, this.directory, clock);
    this.placer = new RoomPlacer(this.directory, this.streams, options.placement ?? new DefaultPlacement(), clock, config.roomTokenLifetimeSeconds * 1000);
    this.tasks = new RoomTasks(this.directory, this.streams, clock, options.roomHost ?? noGatewayRooms);
    this.logFeed = new CustomerLogFeed(options.store, this.customers);
    this.processors = [this.logFeed, this.streams.directoryFeed];
    this.apiPoller = config.customerApiUrl
      ? new CustomerApiPoller(
          { url: config.customerApiUrl, intervalSeconds: config.customerApiUpdateInterval, token: config.customerApiToken },
          this.customers,
          logger,
          this.metrics,
          () => clock.now(),
        )
      : undefined;
    options.scheduler.every('grid.sweep', sweepIntervalMs(config.sfuReportIntervalSeconds), (now) => this.sweep(now));
    if (!this.credentials.internalEnabled) {
      logger.warn('POST /internal is disabled: set SWITCHYARD_INTERNAL_TOKEN (16+ characters) for SFU servers to register and report');
    }
  }

  /** After the runtime rebuilt the actors and processors started: fills the directory and the customers. */
  start(): void {
    const now = this.options.clock.now();
    this.startedAt = now;
    this.streams.loadAll(now);
    this.logFeed.loadHistory();
    this.apiPoller?.start(this.options.scheduler);
    this.ready = true;
    this.options.logger.info(
      { servers: this.directory.serverList().length, customers: this.customers.size, internal: this.internalEnabled },
      'room API and SFU grid ready',
    );
  }

  async stop(): Promise<void> {
    this.ready = false;
    await this.apiPoller?.stop();
    await this.streams.settled();
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Rooms the gateway hosts itself: room API calls act on them at once instead of queueing tasks. */
  setRoomHost(host: GatewayRoomHost): void {
    this.tasks.roomHost = host;
  }

  get internalEnabled(): boolean {
    return this.credentials.internalEnabled;
  }

  /** The customer API poller, for health checks and tests. */
  get customerApi(): CustomerApiPoller | undefined {
    return this.apiPoller;
  }

  /** The verified room API token of an `Authorization: Bearer` header (at once when cached), or UNAUTHORIZED. */
  authenticate(header: string | undefined): VerifiedOdinToken | Promise<VerifiedOdinToken> {
    this.assertReady();
    return this.credentials.roomApiToken(header, this.options.clock.now());
  }

  /** Checks /internal credentials: `Bearer <token>` or Basic `<internalUser>:<token>`. */
  authenticateInternal(header: string | undefined): void {
    this.credentials.checkInternal(header);
  }

  /**
   * `Connect`: a server for the token's room, within the customer's licence, and a room token
   * for it. Synchronous when the room is placed already (nothing to append, placement.ts).
   */
  connect(token: VerifiedOdinToken, params: ConnectParams): ConnectResult | Promise<ConnectResult> {
    this.assertReady();
    const customerId = token.key.customerId;
    const placed = this.placer.place(connectRoom(token), customerId, this.licenceOf(customerId), params.preferred_server);
    const answer = (server: string): ConnectResult => ({ address: server, token: this.tokens.forConnect(token, server, this.options.clock.now()) });
    return placed instanceof Promise ? placed.then(answer) : answer(placed);
  }

  /** RoomClose / RoomUpdate / RoomBanClient / RoomSendMessage. */
  roomTask(token: VerifiedOdinToken, params: RoomTaskParams): Promise<Record<string, never>> {
    this.assertReady();
    return this.tasks.run(token, params);
  }

  // ---- SFU servers (POST /internal) ----------------------------------------------------

  async gridConfig(params: GridConfigParams, remoteAddress: string): Promise<{ config: string }> {
    this.assertReady();
    const address = addressOf(params.public_endpoint, remoteAddress);
    const key = this.tokens.serverKey(address);
    const { sfuReportIntervalSeconds, sfuMetricsAllowed } = this.options.config;
    const config = extendSfuConfig(
      params.config,
      recommendedSfuConfig({ reportIntervalSeconds: sfuReportIntervalSeconds, metricsAllowed: sfuMetricsAllowed }),
      publicJwk(key),
    );
    const now = this.options.clock.now();
    const events = await this.streams.execute(address, { type: 'RegisterServer', address, version: params.version, keyId: key.keyId, now });
    if (events.some((event) => event.type === 'SfuServerRegistered')) {
      this.options.logger.info({ address, version: params.version }, 'SFU server registered');
    }
    return { config };
  }

  /** A server's load and rooms; answers with its tasks, collisions included (the directory already reflects the report). */
  async report(params: ReportParams, remoteAddress: string): Promise<{ tasks: SfuTask[] }> {
    this.assertReady();
    const address = addressOf(params.public_endpoint, remoteAddress);
    const key = this.tokens.serverKey(address);
    const now = this.options.clock.now();
    const collisions = this.directory.claimReported(address, params.rooms, now);
    const wasActive = this.directory.isActive(address);
    const events = await this.streams.execute(address, {
      type: 'ReportLoad',
      address,
      version: params.version,
      keyId: key.keyId,
      load: params.load,
      clients: params.clients,
      rooms: params.rooms,
      collisions,
      collisionBanSeconds: this.options.config.sfuReportIntervalSeconds,
      now,
    });
    // The report counts the clients that joined: the peers promised before it are settled.
    this.directory.clearReservations(address);
    for (const collision of collisions) {
      this.options.logger.warn({ address, room: collision.room, owner: collision.owner }, 'room collision: reporting server told to close its copy');
    }
    if (!wasActive) this.options.logger.info({ address }, 'SFU server active');
    const handedOut = events.find((event) => event.type === 'SfuTasksHandedOut');
    return { tasks: handedOut?.type === 'SfuTasksHandedOut' ? handedOut.data.tasks.map((queued) => queued.task) : [] };
  }

  info(): Record<string, unknown> {
    this.assertReady();
    const info = gridInfo(this.directory, this.customers, this.calls, this.options.clock.now());
    const gateways = this.options.gatewayNodes?.();
    return gateways ? { ...info, gateways } : info;
  }

  /** Counts a call for `Info` and the metrics; logs failures (ours, not the caller's). */
  recordCall(endpoint: 'public' | 'internal', call: CallOutcome): void {
    this.calls.record(endpoint, call);
  }

  /**
   * The silence sweep (sweep.ts), run by the platform scheduler every tick; `now` is a
   * parameter so tests can look into the future instead of waiting for it.
   */
  async sweep(now: number): Promise<void> {
    if (!this.ready) return;
    const { sfuReportIntervalSeconds, sfuRemoveAfterSeconds } = this.options.config;
    const options = { reportIntervalSeconds: sfuReportIntervalSeconds, removeAfterSeconds: sfuRemoveAfterSeconds };
    await sweepSilentServers(this.directory, this.streams, this.options.logger, options, this.startedAt, now);
  }

  private assertReady(): void {
    if (!this.ready) throw new AppError('UNAVAILABLE', 'the gateway is starting or stopping');
  }

  private licenceOf(customerId: string): Licence {
    // A key without its customer cannot happen (keys come with their customer); refuse anyway.
    const licence = this.customers.licence(customerId);
    if (!licence) throw new AppError('UNAUTHORIZED', 'invalid or missing authorization token');
    return licence;
  }
}

/**
 * The room a Connect is for. With several rids (ODIN allows a list), all must be in one
 * `{tag}` group so that they share a server; the last one names the room, as in ODIN.
 */
function connectRoom(token: VerifiedOdinToken): RoomId {
  const { rooms, key } = token;
  const last = rooms[rooms.length - 1]!;
  if (rooms.length > 1) {
    const groups = new Set(rooms.map((name) => groupKeyOf([key.namespace, name]) ?? `room:${name}`));
    if (groups.size !== 1) throw new AppError('FORBIDDEN', "all rooms in the token's rid must share one {tag}");
  }
  return [key.namespace, last];
}

/** ODIN: a server without `public_endpoint` is reached on its remote address, port 4433. */
function addressOf(publicEndpoint: string | undefined, remoteAddress: string): string {
  if (publicEndpoint !== undefined) return publicEndpoint;
  const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
  return `${host}:${DEFAULT_SFU_PORT}`;
}
