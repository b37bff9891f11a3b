import { AppError, InFlightLimiter, RateLimiter, TokenBucket, type Clock } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';

export interface AdmissionConfig {
  /** Sockets open at once over all addresses (the descriptors they hold); 0 = off. */
  maxConnections: number;
  /** Sockets open at once per remote address; 0 = off. */
  maxConnectionsPerAddress: number;
  /** New sockets per second per remote address (burst 5 s worth); 0 = off. */
  connectionsPerSecondPerAddress: number;
  /** New sockets per second over all addresses (burst 5 s worth): the log's churn bound; 0 = off. */
  connectionOpensPerSecond: number;
}

/** Buckets hold this many seconds of their rate: a page load's burst passes, a storm does not. */
const BURST_SECONDS = 5;

/**
 * Which sockets may open (PROTOCOL.md section 1): the gateway's and each address's sockets at
 * once, and new sockets per second per address and overall. `refusal` only looks (the upgrade
 * hook answers with it before a socket exists); `take` spends the slot and the tokens when the
 * socket opens, and `release` gives the address's slot back when it closes.
 *
 * Churn bound, and the durability promise: every admitted socket is recorded before its
 * `welcome` (a client that saw `welcome` is in the log, test/integration/durability.test.ts),
 * so the log is bounded by bounding admissions, per address (concurrent and per second) and
 * over all addresses (`connectionOpensPerSecond`, at most two events per admitted socket).
 * The alternative, not recording anonymous sockets until they sign in, would break that promise.
 */
export class Admissions {
  /** The address whose per-address slot a connection holds: a socket's, so a detached one holds none. */
  private readonly slots = new WeakMap<ClientConnection, string>();
  /** Admitted sockets per remote address, for `maxConnectionsPerAddress`. */
  private readonly perAddress: InFlightLimiter;
  private readonly opensPerAddress: RateLimiter | undefined;
  private readonly opens: TokenBucket | undefined;

  constructor(
    private readonly config: AdmissionConfig,
    clock: Clock,
    /** Sockets held now: attached connections (a detached one holds none). */
    private readonly sockets: () => number,
  ) {
    this.perAddress = new InFlightLimiter(config.maxConnectionsPerAddress);
    const perAddressRate = config.connectionsPerSecondPerAddress;
    this.opensPerAddress = perAddressRate > 0 ? new RateLimiter(perAddressRate * BURST_SECONDS, perAddressRate) : undefined;
    const globalRate = config.connectionOpensPerSecond;
    this.opens = globalRate > 0 ? new TokenBucket(globalRate * BURST_SECONDS, globalRate, clock.now()) : undefined;
  }

  /** Undefined when a socket from `remoteAddress` may open now; otherwise why not (UNAVAILABLE: 503, RATE_LIMITED: 429). */
  refusal(remoteAddress: string, now: number): AppError | undefined {
    const { config } = this;
    if (config.maxConnections > 0 && this.sockets() >= config.maxConnections) {
      return new AppError('UNAVAILABLE', `the gateway holds its most sockets at once (maxConnections ${config.maxConnections}); try again shortly`);
    }
    if (config.maxConnectionsPerAddress > 0 && this.perAddress.count(remoteAddress) >= config.maxConnectionsPerAddress) {
      return new AppError('RATE_LIMITED', 'too many connections from this address');
    }
    if (this.opensPerAddress && !this.opensPerAddress.has(remoteAddress, now)) return new AppError('RATE_LIMITED', 'too many new connections from this address');
    if (this.opens && !this.opens.has(now)) return new AppError('RATE_LIMITED', 'too many new connections; try again shortly');
    return undefined;
  }

  /** Seconds a refused client should wait (the refusal's `retry-after`). */
  retryAfterSeconds(remoteAddress: string, now: number): number {
    return Math.max(1, this.opensPerAddress?.secondsUntil(remoteAddress, now) ?? 0, this.opens?.secondsUntil(now) ?? 0);
  }

  /** Admits the connection's socket now, taking its address's slot and the tokens; false when it must be refused after all. */
  take(connection: ClientConnection, now: number): boolean {
    const address = connection.info.remoteAddress;
    if (this.refusal(address, now) !== undefined) return false;
    if (!this.perAddress.enter(address)) return false;
    this.opensPerAddress?.take(address, now);
    this.opens?.take(now);
    this.slots.set(connection, address);
    return true;
  }

  /** The connection's socket is gone: its address's slot is free. */
  release(connection: ClientConnection): void {
    const address = this.slots.get(connection);
    if (address === undefined) return;
    this.slots.delete(connection);
    this.perAddress.leave(address);
  }

  /** A resumed connection now writes to `carrier`'s socket: the slot goes with the socket. */
  moveSlot(carrier: ClientConnection, connection: ClientConnection): void {
    const address = this.slots.get(carrier);
    this.slots.delete(carrier);
    if (address !== undefined) this.slots.set(connection, address);
  }
}
