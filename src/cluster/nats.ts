import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';

/**
 * The one place that opens the NATS connection of a cluster node (DESIGN.md: cluster/ owns
 * NATS). Everything cluster-wide (the JetStream log, the KV buckets, the relay subjects) runs
 * over the connection this returns.
 */

export interface ClusterConnectionOptions {
  /** Client URLs of the NATS servers, `nats://host:port`; the client fails over between them. */
  servers: readonly string[];
  /** The cluster credentials: NATS auth is required, so a node without them cannot join. */
  user?: string;
  password?: string;
  token?: string;
  /** This node's name as the NATS servers show it (monitoring, `nats server report connections`). */
  name: string;
  /** How long the first connect keeps trying before start-up fails. Default 10 s. */
  connectTimeoutMs?: number;
}

export interface ClusterLogger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Connects with endless reconnects: a NATS outage must never end the gateway, which refuses
 * writes with UNAVAILABLE while it lasts and recovers by itself when a server is back.
 */
export async function connectCluster(options: ClusterConnectionOptions, logger: ClusterLogger): Promise<NatsConnection> {
  const deadline = Date.now() + (options.connectTimeoutMs ?? 10_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await connect({
        servers: [...options.servers],
        name: options.name,
        ...(options.user !== undefined ? { user: options.user, pass: options.password } : {}),
        ...(options.token !== undefined ? { token: options.token } : {}),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 5_000,
        maxPingOut: 2,
        // Every request (each JetStream publish) would otherwise make an Error for its stack, in
        // case it times out: 11 % of a node's CPU under append load (the cluster bench's profile).
        // Our own errors name the operation that failed.
        noAsyncTraces: true,
      });
      watchStatus(connection, logger);
      return connection;
    } catch (error) {
      lastError = error;
      // Wrong credentials do not get better by retrying.
      if (isAuthorizationError(error)) throw error;
      await delay(200);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(`could not connect to NATS at ${options.servers.join(', ')}`);
}

/**
 * The JetStream manager once JetStream answers: a cluster that was just started elects its
 * meta leader a moment after its servers listen, and until then every JetStream call fails.
 */
export async function jetStreamReady(connection: NatsConnection, timeoutMs = 30_000, requestTimeoutMs = 10_000): Promise<JetStreamManager> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      // The probe gives up fast and is tried again; the manager returned waits longer per
      // request, since a cluster under load (or electing a stream leader) answers slowly.
      await (await jetstreamManager(connection, { timeout: 2_000 })).getAccountInfo();
      return await jetstreamManager(connection, { timeout: requestTimeoutMs });
    } catch (error) {
      lastError = error;
      await delay(100);
    }
  }
  throw new Error(`JetStream did not become available within ${timeoutMs} ms: ${String(lastError)}`);
}

function isAuthorizationError(error: unknown): boolean {
  return error instanceof Error && /authoriz|authenticat/i.test(error.message);
}

async function watchStatus(connection: NatsConnection, logger: ClusterLogger): Promise<void> {
  for await (const status of connection.status()) {
    if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
      logger[status.type === 'reconnect' ? 'info' : 'warn']({ nats: status.type, server: 'server' in status ? status.server : undefined }, `NATS ${status.type}`);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
