import type { Clock } from '../../core/index.js';
import { DISCONNECT } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { streamId } from '../../core/index.js';
import { InFlightLimiter, RateLimiter, TokenBucket } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { ActorRuntime, Scheduler } from '../../runtime/index.js';
import { CONNECTION_CATEGORY, type CloseConnection, type OpenConnection } from './domain/index.js';

export interface ConnectionsConfig {
  /** A socket not authenticated by then is closed with 4401; 0 = off. */
  authDeadlineSeconds: number;
  /** Sockets open at once per remote address; 0 = off. */
  maxConnectionsPerAddress: number;
  /** New sockets per second per remote address (burst 5 s worth); 0 = off. */
  connectionsPerSecondPerAddress: number;
  /** New sockets per second over all addresses (burst 5 s worth): the log's churn bound; 0 = off. */
  connectionOpensPerSecond: number;
}

/** Buckets hold this many seconds of their rate: a page load's burst passes, a storm does not. */
const BURST_SECONDS = 5;

export interface ConnectionsLogger {
  error(details: Record<string, unknown>, message: string): void;
}

export interface ConnectionsDependencies {
  runtime: ActorRuntime;
  clock: Clock;
  logger: ConnectionsLogger;
  scheduler: Scheduler;
  config: ConnectionsConfig;
}

export type ClosedListener = (connection: ClientConnection) => Promise<unknown> | void;

/**
 * Open sockets and their lifecycle in the log: `OpenConnection` when a socket opens (the
 * `welcome` goes out after its commit, so a client that saw it knows it is in the log),
 * `CloseConnection` when it closes, and the authentication deadline. Other modules find a
 * connection by id here and hear of closes through `onClosed`.
 */
export class Connections {
  private readonly open = new Map<string, ClientConnection>();
  private readonly closedListeners: ClosedListener[] = [];
  /** Commands in flight (opens, closes, listeners' work); shutdown waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  /** Admitted sockets per remote address, for `maxConnectionsPerAddress`. */
  private readonly perAddress: InFlightLimiter;
  private readonly opensPerAddress: RateLimiter | undefined;
  private readonly opens: TokenBucket | undefined;
  /** Sockets refused at open (no upgrade hook yet, or a race past it), for tests and metrics. */
  refusedAtOpen = 0;
  /** Connections admitted and so recorded: only those have a CloseConnection to record. */
  private readonly recorded = new WeakSet<ClientConnection>();

  constructor(private readonly deps: ConnectionsDependencies) {
    const { config, clock } = deps;
    this.perAddress = new InFlightLimiter(config.maxConnectionsPerAddress);
    const perAddressRate = config.connectionsPerSecondPerAddress;
    this.opensPerAddress = perAddressRate > 0 ? new RateLimiter(perAddressRate * BURST_SECONDS, perAddressRate) : undefined;
    const globalRate = config.connectionOpensPerSecond;
    this.opens = globalRate > 0 ? new TokenBucket(globalRate * BURST_SECONDS, globalRate, clock.now()) : undefined;
  }

  /**
   * The admission check of an upgrade, before the socket exists (the edge answers a refusal
   * with HTTP 429 RATE_LIMITED and `retry-after`): undefined when a socket from
   * `remoteAddress` may open now. Only looks: `opened` takes the slot and the tokens.
   *
   * Churn bound, and the durability promise: every admitted socket is recorded before its
   * `welcome` (a client that saw `welcome` is in the log, test/integration/durability.test.ts),
   * so the log is bounded by bounding admissions, per address (concurrent and per second) and
   * over all addresses (`connectionOpensPerSecond`, at most two events per admitted socket).
   * The alternative, not recording anonymous sockets until they sign in, would break that promise.
   */
  admission(remoteAddress: string, now: number): AppError | undefined {
    const { config } = this.deps;
    if (config.maxConnectionsPerAddress > 0 && this.perAddress.count(remoteAddress) >= config.maxConnectionsPerAddress) {
      return new AppError('RATE_LIMITED', 'too many connections from this address');
    }
    if (this.opensPerAddress && !this.opensPerAddress.has(remoteAddress, now)) return new AppError('RATE_LIMITED', 'too many new connections from this address');
    if (this.opens && !this.opens.has(now)) return new AppError('RATE_LIMITED', 'too many new connections; try again shortly');
    return undefined;
  }

  /** Seconds a refused client should wait (the 429's `retry-after`). */
  retryAfterSeconds(remoteAddress: string, now: number): number {
    return Math.max(1, this.opensPerAddress?.secondsUntil(remoteAddress, now) ?? 0, this.opens?.secondsUntil(now) ?? 0);
  }

  /** Takes the admission of `opened`: false when the socket must be refused after all. */
  private admit(remoteAddress: string, now: number): boolean {
    if (this.admission(remoteAddress, now) !== undefined) return false;
    if (!this.perAddress.enter(remoteAddress)) return false;
    this.opensPerAddress?.take(remoteAddress, now);
    this.opens?.take(now);
    return true;
  }

  get(id: string): ClientConnection | undefined {
    return this.open.get(id);
  }

  get size(): number {
    return this.open.size;
  }

  all(): IterableIterator<ClientConnection> {
    return this.open.values();
  }

  onClosed(listener: ClosedListener): void {
    this.closedListeners.push(listener);
  }

  opened(connection: ClientConnection): void {
    const { info } = connection;
    const { clock, config, scheduler, runtime, logger } = this.deps;
    // Refused past the limits (the upgrade hook should have answered 429 already; this is the
    // backstop and the race between upgrade and open): closed before any append, so it never
    // saw `welcome` and leaves nothing in the log.
    if (!this.admit(info.remoteAddress, clock.now())) {
      this.refusedAtOpen += 1;
      connection.close(DISCONNECT.rateLimited, 'too many connections');
      return;
    }
    this.recorded.add(connection);
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
      now: clock.now(),
    };
    this.track(runtime.execute(streamId(CONNECTION_CATEGORY, info.id), command, { actor: `connection:${info.id}` })).then(
      () => connection.send({ event: 'welcome', data: { peer_id: info.id, codec: info.codec, protocol: 1 } }),
      (error: unknown) => {
        logger.error({ err: error, connectionId: info.id }, 'could not record connection; closing it');
        connection.close(DISCONNECT.internal);
      },
    );
  }

  closed(connection: ClientConnection, code: number, reason: string): void {
    const { info } = connection;
    if (!this.open.delete(info.id)) return;
    if (this.recorded.delete(connection)) this.perAddress.leave(info.remoteAddress);
    this.deps.scheduler.cancel(deadlineKey(info.id));
    for (const listener of this.closedListeners) {
      const work = listener(connection);
      if (work instanceof Promise) this.track(work).catch((error: unknown) => this.deps.logger.error({ err: error, connectionId: info.id }, 'connection close reaction failed'));
    }
    const command: CloseConnection = {
      type: 'CloseConnection',
      code,
      reason,
      framesIn: connection.framesIn,
      framesOut: connection.framesOut,
      now: this.deps.clock.now(),
    };
    this.track(this.deps.runtime.execute(streamId(CONNECTION_CATEGORY, info.id), command, { actor: `connection:${info.id}` })).catch(
      (error: unknown) => this.deps.logger.error({ err: error, connectionId: info.id }, 'could not record connection close'),
    );
  }

  /** Closes every socket with 1001 (shutdown) and waits for what is in flight. */
  async closeAll(): Promise<void> {
    for (const connection of this.open.values()) connection.close(DISCONNECT.shuttingDown);
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Connections the log still shows open died with the last process (sockets do not
   * survive a restart): they are closed as unclean, so the audit trail has an end for every
   * connection. Returns how many.
   */
  async closeStale(): Promise<number> {
    const stale = this.deps.runtime.streams(CONNECTION_CATEGORY);
    const close: CloseConnection = {
      type: 'CloseConnection',
      code: 1006,
      reason: 'gateway restarted',
      unclean: true,
      framesIn: 0,
      framesOut: 0,
      now: this.deps.clock.now(),
    };
    await Promise.all(stale.map((stream) => this.deps.runtime.execute(stream, close, { actor: 'system' })));
    return stale.length;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}

const deadlineKey = (connectionId: string) => `auth-deadline:${connectionId}`;
