import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  OdinTokenVerifier,
  RoomTokenSigner,
  deriveServerKey,
  loadOrCreateMasterKey,
  publicJwk,
  type Ed25519KeyPair,
  type VerifiedOdinToken,
} from '../../auth/odin.js';
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { streamId } from '../../core/ids.js';
import {
  SFU_CATEGORY,
  checkLicence,
  durationOf,
  groupKeyOf,
  isUnlimited,
  sfuAggregate,
  statusOf,
  type Licence,
  type RoomId,
  type SfuCommand,
  type SfuEvent,
  type SfuSnapshot,
  type SfuTask,
} from './domain/index.js';
import { GridDirectory, type RoomEntry } from './directory.js';
import type { CallOutcome } from '../../protocol/jsonrpc.js';
import type { ConnectParams, GridConfigParams, ReportParams } from '../../protocol/topics/grid.js';
import type { ActorRuntime } from '../../runtime/actor-runtime.js';
import type { EventStore, RecordedEvent } from '../../store/types.js';
import type { GridConfig } from './grid-config.js';
import { CustomerApiPoller, CustomerDirectory, CustomerLogFeed, definitionsFromConfig } from './customers.js';
import { GridMetrics, type GridGaugeSource } from './metrics.js';
import { noGatewayRooms, type GatewayRoomHost, type HostedRoomRef } from './room-host.js';
import { extendSfuConfig, recommendedSfuConfig } from './sfu-config.js';

export interface GridServiceOptions {
  config: GridConfig;
  dataDir: string;
  logger: Logger;
  clock: Clock;
  store: EventStore;
  runtime: ActorRuntime;
  registry: Registry;
  roomHost?: GatewayRoomHost | undefined;
  /** Placement's random choices; injectable so tests can steer them. */
  random?: () => number;
}

export type RoomTaskName = SfuTask['task'];

export type RoomTaskParams =
  | { task: 'RoomClose'; room_id: string; ban_time?: number | undefined }
  | { task: 'RoomUpdate'; room_id: string; user_data: number[] }
  | { task: 'RoomBanClient'; room_id: string; user_id: string; ban_time?: number | undefined }
  | { task: 'RoomSendMessage'; room_id: string; user_id: string; message: number[] };

export interface CallCounters {
  /** Method names are unique across the two endpoints. */
  endpoint: 'public' | 'internal';
  success: number;
  failure: number;
  rejected: number;
}

/** Silence of 1.5 report intervals disables a server (PROTOCOL.md section 6). */
const DISABLE_AFTER_INTERVALS = 1.5;
/** A Connect that finds its room being placed by another waits for it; this bounds the retries. */
const MAX_PLACEMENT_ATTEMPTS = 3;
/** Port ODIN servers listen on, assumed for a server that does not announce its endpoint. */
const DEFAULT_SFU_PORT = 4433;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * The room API and the SFU grid: customers and their tokens, Connect (licence check,
 * placement, room token), room tasks, and the servers' GridConfig/Report. State changes go
 * through the SFU actors (`sfu-<address>` streams); this class keeps the in-memory grid
 * directory in step with them and holds what is not an event (peer reservations, caches).
 */
export class GridService {
  readonly customers: CustomerDirectory;
  readonly directory = new GridDirectory();
  readonly metrics: GridMetrics;
  private readonly verifier: OdinTokenVerifier;
  private readonly signer = new RoomTokenSigner();
  private readonly masterKey: Buffer;
  private readonly serverKeys = new Map<string, Ed25519KeyPair>();
  private readonly logFeed: CustomerLogFeed;
  private readonly apiPoller: CustomerApiPoller | undefined;
  private roomHost: GatewayRoomHost;
  private readonly random: () => number;
  private readonly calls = new Map<string, CallCounters>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly internalSecret: { bearer: Buffer; user: string } | undefined;
  private scheduler: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private ready = false;

  constructor(private readonly options: GridServiceOptions) {
    const { config, logger } = options;
    this.roomHost = options.roomHost ?? noGatewayRooms;
    this.random = options.random ?? Math.random;
    const master = loadOrCreateMasterKey(options.dataDir);
    this.masterKey = master.key;
    if (master.generated) {
      logger.info({ path: master.path }, 'generated the gateway master key: SFU server keys derive from it, keep a backup');
    }
    this.customers = new CustomerDirectory(logger);
    this.customers.setSource('config', definitionsFromConfig(config.customers));
    this.verifier = new OdinTokenVerifier(this.customers, { leewaySeconds: config.odinTokenLeewaySeconds });
    this.metrics = new GridMetrics(
      options.registry,
      () => (this.ready ? this.gauges : undefined),
      () => [...this.calls].map(([method, counters]) => [counters.endpoint, method, counters] as const),
    );
    this.logFeed = new CustomerLogFeed(options.store, this.customers);
    this.apiPoller = config.customerApiUrl
      ? new CustomerApiPoller(
          { url: config.customerApiUrl, intervalSeconds: config.customerApiUpdateInterval, token: config.customerApiToken },
          this.customers,
          logger,
          this.metrics,
          () => options.clock.now(),
        )
      : undefined;
    this.internalSecret = config.internalToken ? { bearer: sha256(config.internalToken), user: config.internalUser } : undefined;
    if (!this.internalSecret) {
      logger.warn('POST /internal is disabled: set SWITCHYARD_INTERNAL_TOKEN (16+ characters) for SFU servers to register and report');
    }
  }

  /** After the runtime rebuilt the actors: fills the directory, starts feeds and the scheduler. */
  start(): void {
    const now = this.options.clock.now();
    this.startedAt = now;
    for (const stream of this.options.runtime.streams(SFU_CATEGORY)) this.syncServer(stream.slice(SFU_CATEGORY.length + 1), now);
    this.logFeed.start();
    this.apiPoller?.start();
    const tickMs = Math.max(100, Math.min(1000, (this.options.config.sfuReportIntervalSeconds * 1000) / 4));
    this.scheduler = setInterval(() => void this.sweep(this.options.clock.now()), tickMs);
    this.scheduler.unref();
    this.ready = true;
    this.options.logger.info(
      { servers: this.directory.serverList().length, customers: this.customers.size, internal: this.internalEnabled },
      'room API and SFU grid ready',
    );
  }

  async stop(): Promise<void> {
    this.ready = false;
    if (this.scheduler) clearInterval(this.scheduler);
    this.logFeed.stop();
    await this.apiPoller?.stop();
    await Promise.allSettled([...this.inFlight]);
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Rooms the gateway hosts itself: room API calls act on them at once instead of queueing tasks. */
  setRoomHost(host: GatewayRoomHost): void {
    this.roomHost = host;
  }

  get internalEnabled(): boolean {
    return this.internalSecret !== undefined;
  }

  /** The customer API poller, for health checks and tests. */
  get customerApi(): CustomerApiPoller | undefined {
    return this.apiPoller;
  }

  // ---- authentication ------------------------------------------------------------------

  /** The verified room API token of an `Authorization: Bearer` header, or UNAUTHORIZED. */
  async authenticate(header: string | undefined): Promise<VerifiedOdinToken> {
    this.assertReady();
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    try {
      return await this.verifier.verify(token, this.options.clock.now());
    } catch (error) {
      const reason = OdinTokenVerifier.refusal(error);
      if (reason) {
        this.metrics.tokenRefusals.inc({ reason: token === undefined ? 'missing' : reason });
        this.options.logger.debug({ reason: token === undefined ? 'missing' : reason }, 'room API token refused');
      }
      throw error;
    }
  }

  /** Checks /internal credentials: `Bearer <token>` or Basic `<internalUser>:<token>`. */
  authenticateInternal(header: string | undefined): void {
    const secret = this.internalSecret;
    if (!secret) throw new AppError('NOT_FOUND', 'POST /internal is disabled: set SWITCHYARD_INTERNAL_TOKEN to enable it');
    const refuse = () => new AppError('UNAUTHORIZED', 'invalid or missing credentials');
    if (!header) throw refuse();
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const credentials = header.slice(space + 1).trim();
    let presented: string | undefined;
    if (scheme === 'bearer') {
      presented = credentials;
    } else if (scheme === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon !== -1 && decoded.slice(0, colon) === secret.user) presented = decoded.slice(colon + 1);
    }
    // Compared as hashes: equal length for timingSafeEqual, and no length leak of the secret.
    if (presented === undefined || !timingSafeEqual(sha256(presented), secret.bearer)) throw refuse();
  }

  // ---- room API ------------------------------------------------------------------------

  /** `Connect`: a server for the token's room, within the customer's licence, and a room token for it. */
  async connect(token: VerifiedOdinToken, params: ConnectParams): Promise<{ address: string; token: string }> {
    this.assertReady();
    const { key } = token;
    const room = this.connectRoom(token);
    const licence = this.licenceOf(key.customerId);
    const server = await this.placeFor(room, key.customerId, licence, params.preferred_server);
    const nbf = Math.floor(this.options.clock.now() / 1000);
    const roomToken = await this.signer.sign(this.serverKey(server), {
      uid: token.userId,
      cid: key.customerId,
      rid: token.rid,
      nsp: key.namespace,
      adr: server,
      sub: 'connect',
      aud: 'sfu',
      nbf,
      exp: nbf + this.options.config.roomTokenLifetimeSeconds,
    });
    return { address: server, token: roomToken };
  }

  /** RoomClose / RoomUpdate / RoomBanClient / RoomSendMessage. */
  async roomTask(token: VerifiedOdinToken, params: RoomTaskParams): Promise<Record<string, never>> {
    this.assertReady();
    const name = params.room_id;
    // ODIN checks only the first rid; any of the token's rooms is as good a grant.
    if (!token.rooms.some((rid) => name.startsWith(rid))) {
      throw new AppError('FORBIDDEN', "room_id is not covered by the token's rid");
    }
    const ref: HostedRoomRef = { customerId: token.key.customerId, namespace: token.key.namespace, name };
    if (await this.actOnGatewayRoom(ref, params)) return {};
    const id: RoomId = [token.key.namespace, name];
    const host = this.directory.host(id, this.options.clock.now());
    if (!host) throw new AppError('NOT_FOUND', 'room not found');
    await this.execute(host.server, { type: 'QueueTask', task: this.taskOf(id, params), now: this.options.clock.now() });
    return {};
  }

  // ---- SFU servers (POST /internal) ----------------------------------------------------

  async gridConfig(params: GridConfigParams, remoteAddress: string): Promise<{ config: string }> {
    this.assertReady();
    const address = this.addressOf(params.public_endpoint, remoteAddress);
    const key = this.serverKey(address);
    const config = extendSfuConfig(
      params.config,
      recommendedSfuConfig({
        reportIntervalSeconds: this.options.config.sfuReportIntervalSeconds,
        metricsAllowed: this.options.config.sfuMetricsAllowed,
      }),
      publicJwk(key),
    );
    const now = this.options.clock.now();
    const events = await this.execute(address, { type: 'RegisterServer', address, version: params.version, keyId: key.keyId, now });
    if (events.some((event) => event.type === 'SfuServerRegistered')) {
      this.options.logger.info({ address, version: params.version }, 'SFU server registered');
    }
    return { config };
  }

  async report(params: ReportParams, remoteAddress: string): Promise<{ tasks: SfuTask[] }> {
    this.assertReady();
    const address = this.addressOf(params.public_endpoint, remoteAddress);
    const key = this.serverKey(address);
    const now = this.options.clock.now();
    const collisions = this.directory.claimReported(address, params.rooms, now);
    const wasActive = this.directory.isActive(address);
    const events = await this.execute(address, {
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
    const now = this.options.clock.now();
    const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
    return {
      servers: this.directory.serverList().map((server) => ({
        address: server.address,
        version: server.version,
        state: server.status,
        disabled: server.status !== 'active',
        keyId: server.keyId,
        report: { load: server.load, clients: server.clients, rooms: [...server.rooms].filter((room) => room.reported).length },
        placedRooms: [...server.rooms].filter((room) => !room.reported).length,
        reservedPeers: server.reservedTotal,
        projectedLoad: server.status === 'active' ? this.directory.projectedLoad(server.address) : null,
        firstSeen: iso(server.registeredAt),
        lastSeen: iso(server.lastSeenAt),
        reports: server.reports,
        collisions: server.collisions,
        tasks: server.pendingTasks,
      })),
      rooms: this.directory.roomList(now).map((room) => ({
        id: room.id,
        customer: room.customer,
        server: room.server,
        state: room.reported ? 'reported' : 'placed',
        peers: room.peers,
        updated: iso(room.updatedAt),
      })),
      customers: this.customers.list().map((customer) => ({ ...customer, usage: this.directory.usage(customer.id, now) })),
      stats: { apiCalls: [...this.calls].map(([name, { success, failure, rejected }]) => ({ name, success, failure, rejected })) },
    };
  }

  /** Counts a call for `Info` and the metrics; logs failures (ours, not the caller's). */
  recordCall(endpoint: 'public' | 'internal', call: CallOutcome): void {
    let counters = this.calls.get(call.method);
    if (!counters) {
      counters = { endpoint, success: 0, failure: 0, rejected: 0 };
      this.calls.set(call.method, counters);
    }
    counters[call.outcome] += 1;
    if (call.outcome === 'failure') this.options.logger.error({ err: call.error, method: call.method }, 'room API call failed');
  }

  // ---- timers --------------------------------------------------------------------------

  /**
   * Disables servers silent for 1.5 report intervals and removes those disabled and silent
   * for `sfuRemoveAfterSeconds`. Run by the scheduler every tick; `now` is a parameter so
   * tests can look into the future instead of waiting for it.
   */
  async sweep(now: number): Promise<void> {
    if (!this.ready) return;
    const { sfuReportIntervalSeconds, sfuRemoveAfterSeconds } = this.options.config;
    const disableAfterMs = sfuReportIntervalSeconds * 1000 * DISABLE_AFTER_INTERVALS;
    const removeAfterMs = sfuRemoveAfterSeconds * 1000;
    const since = this.startedAt;
    const work: Promise<unknown>[] = [];
    for (const server of this.directory.serverList()) {
      const silentFor = now - Math.max(server.lastSeenAt ?? 0, since);
      let command: SfuCommand | undefined;
      if ((server.status === 'active' || server.status === 'registered') && silentFor > disableAfterMs) {
        command = { type: 'DisableServer', since, disableAfterMs, now };
      } else if (server.status === 'disabled' && silentFor > removeAfterMs) {
        command = { type: 'RemoveServer', since, removeAfterMs, now };
      }
      if (!command) continue;
      const address = server.address;
      work.push(
        this.execute(address, command).then(
          (events) => {
            for (const event of events) {
              if (event.type === 'SfuServerDisabled') this.options.logger.warn({ address, silentSince: event.data.silentSince }, 'SFU server silent: disabled');
              if (event.type === 'SfuServerRemoved') {
                this.options.logger.warn({ address, droppedTasks: event.data.droppedTaskIds.length }, 'SFU server removed; its rooms will be placed again');
              }
            }
          },
          (error: unknown) => this.options.logger.error({ err: error, address }, 'SFU server timer command failed'),
        ),
      );
    }
    await Promise.all(work);
  }

  // ---- internals -----------------------------------------------------------------------

  private assertReady(): void {
    if (!this.ready) throw new AppError('UNAVAILABLE', 'the gateway is starting or stopping');
  }

  private get gauges(): GridGaugeSource {
    return {
      serverCounts: () => {
        const counts: Record<string, number> = {};
        for (const server of this.directory.serverList()) counts[server.status] = (counts[server.status] ?? 0) + 1;
        return counts;
      },
      roomCount: () => this.directory.roomList(this.options.clock.now()).length,
      pendingTaskCount: () => this.directory.serverList().reduce((sum, server) => sum + server.pendingTasks, 0),
      customerCount: () => this.customers.size,
    };
  }

  private licenceOf(customerId: string): Licence {
    // A key without its customer cannot happen (keys come with their customer); refuse anyway.
    const licence = this.customers.licence(customerId);
    if (!licence) throw new AppError('UNAUTHORIZED', 'invalid or missing authorization token');
    return licence;
  }

  /**
   * The room a Connect is for. With several rids (ODIN allows a list), all must be in one
   * `{tag}` group so that they share a server; the last one names the room, as in ODIN.
   */
  private connectRoom(token: VerifiedOdinToken): RoomId {
    const { rooms, key } = token;
    const last = rooms[rooms.length - 1]!;
    if (rooms.length > 1) {
      const groups = new Set(rooms.map((name) => groupKeyOf([key.namespace, name]) ?? `room:${name}`));
      if (groups.size !== 1) throw new AppError('FORBIDDEN', "all rooms in the token's rid must share one {tag}");
    }
    return [key.namespace, last];
  }

  /**
   * Finds or chooses the server for a room and takes the customer's licence for it. Check
   * and reservation run without an await between them: that is what keeps a burst of
   * Connects from overshooting a limit. A new placement is appended before anyone is
   * answered; Connects for the same room meanwhile wait for it.
   */
  private async placeFor(room: RoomId, customerId: string, licence: Licence, preferred: string | undefined): Promise<string> {
    const unlimited = isUnlimited(licence);
    for (let attempt = 0; attempt < MAX_PLACEMENT_ATTEMPTS; attempt++) {
      const now = this.options.clock.now();
      const existing = this.directory.owner(room, now);
      if (existing?.pending) {
        await existing.pending;
        continue;
      }
      if (existing) {
        if (!unlimited) checkLicence(licence, this.directory.usage(customerId, now), false);
        this.directory.reservePeer(existing.server, customerId);
        return existing.server;
      }
      const server =
        this.directory.groupServer(room) ??
        (preferred !== undefined && this.directory.isActive(preferred) ? preferred : this.directory.choose(this.random));
      if (server === undefined) throw new AppError('UNAVAILABLE', 'no SFU server is available');
      if (!unlimited) checkLicence(licence, this.directory.usage(customerId, now), true);
      this.directory.reservePeer(server, customerId);
      const expiresAt = now + this.options.config.roomTokenLifetimeSeconds * 1000;
      let settle!: () => void;
      const pending = new Promise<void>((resolve) => {
        settle = resolve;
      });
      const entry: RoomEntry = this.directory.reserveRoom(server, room, customerId, now, expiresAt, pending);
      try {
        await this.execute(server, { type: 'PlaceRoom', room, customer: customerId, expiresAt, now });
        this.directory.settleRoom(entry, true);
      } catch (error) {
        this.directory.settleRoom(entry, false);
        this.directory.releasePeer(server, customerId);
        // The server was disabled between the choice and the append: choose again.
        if (error instanceof AppError && error.code === 'UNAVAILABLE') continue;
        throw error;
      } finally {
        settle();
      }
      return server;
    }
    throw new AppError('UNAVAILABLE', 'no SFU server is available');
  }

  private async actOnGatewayRoom(ref: HostedRoomRef, params: RoomTaskParams): Promise<boolean> {
    switch (params.task) {
      case 'RoomClose':
        return this.roomHost.close(ref, params.ban_time ?? 0);
      case 'RoomUpdate':
        return this.roomHost.update(ref, Uint8Array.from(params.user_data));
      case 'RoomBanClient':
        return this.roomHost.ban(ref, params.user_id, params.ban_time ?? 0);
      case 'RoomSendMessage':
        return this.roomHost.sendMessage(ref, params.user_id, Uint8Array.from(params.message));
    }
  }

  private taskOf(id: RoomId, params: RoomTaskParams): SfuTask {
    switch (params.task) {
      case 'RoomClose':
        return { task: 'RoomClose', id, ban_time: durationOf(params.ban_time ?? 0) };
      case 'RoomUpdate':
        return { task: 'RoomUpdate', id, user_data: params.user_data };
      case 'RoomBanClient':
        return { task: 'RoomBanClient', id, user_id: params.user_id, ban_time: durationOf(params.ban_time ?? 0) };
      case 'RoomSendMessage':
        return { task: 'RoomSendMessage', id, user_id: params.user_id, message: params.message };
    }
  }

  /** ODIN: a server without `public_endpoint` is reached on its remote address, port 4433. */
  private addressOf(publicEndpoint: string | undefined, remoteAddress: string): string {
    if (publicEndpoint !== undefined) return publicEndpoint;
    const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
    return `${host}:${DEFAULT_SFU_PORT}`;
  }

  private serverKey(address: string): Ed25519KeyPair {
    let key = this.serverKeys.get(address);
    if (!key) {
      key = deriveServerKey(this.masterKey, address);
      this.serverKeys.set(address, key);
    }
    return key;
  }

  /** Runs a command on a server's stream and brings the directory up to date with the result. */
  private execute(address: string, command: SfuCommand): Promise<SfuEvent[]> {
    const stream = streamId(SFU_CATEGORY, address);
    const work = this.options.runtime.execute<SfuSnapshot>(stream, command, { actor: `sfu:${address}` }).then(
      (result) => {
        this.applyResult(address, command, result.events, result.snapshot);
        return result.events as unknown as SfuEvent[];
      },
      (error: unknown) => {
        // Whatever was reserved for this command (claims of a report) goes back to the log's truth.
        this.syncServer(address, this.options.clock.now());
        throw error;
      },
    );
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  private applyResult(address: string, command: SfuCommand, events: readonly RecordedEvent[], snapshot: SfuSnapshot): void {
    const server = this.directory.server(address);
    if (command.type === 'PlaceRoom' || command.type === 'QueueTask') {
      // Incremental: placements are settled by the caller; only counters change here.
      if (server) server.pendingTasks = snapshot.context.tasks.length;
      if (server || events.length === 0) return;
    }
    this.directory.loadServer(address, statusOf(snapshot), snapshot.context, this.options.clock.now());
  }

  private syncServer(address: string, now: number): void {
    const snapshot = this.options.runtime.snapshot<typeof sfuAggregate.machine>(streamId(SFU_CATEGORY, address));
    if (snapshot) this.directory.loadServer(address, statusOf(snapshot), snapshot.context, now);
  }
}
