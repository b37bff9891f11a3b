import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../app/config.js';
import { AppError, type Clock } from '../core/index.js';
import { clusterServers, connectCluster, shareKeyFiles, type SharedKeyFiles } from '../cluster/index.js';
import {
  DATABASE_FILE,
  JetStreamEventStore,
  StartupError,
  type AppendResult,
  type CheckpointStore,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type Projection,
  type ReadAllOptions,
  type ReadModelDatabase,
  type RecordedEvent,
} from '../store/index.js';

/**
 * An operator command on a cluster node (PROTOCOL.md section 12, issue 13). The node's
 * data/switchyard.db is only its mirror of the JetStream log: an append written there would
 * exist on no other node (the mirror's trigger refuses it anyway). So a command connects to
 * NATS with the cluster credentials, as the node does, appends to JetStream and returns once
 * JetStream acknowledged (on a quorum) and the mirror ingested it, then closes the connection.
 *
 * It opens its JetStreamEventStore on the node's own mirror file rather than a mirror of its
 * own: the read models a command decides on (is this username taken? which organisation is
 * "acme"?) are already there, and catching up costs only what the node has not ingested yet,
 * where a temporary mirror would re-read the whole stream on every command. The store is made
 * for sharing the file with a running gateway: whichever process ingests a message first
 * writes it, the other skips it, and the gateway's processors find it by polling as they find
 * a single-node CLI's appends. The command passes the inline projections only, the same ones
 * the gateway ingests with (async read models are the gateway's to catch up).
 */

/** How long the first connection to NATS is tried before the command gives up: an operator is waiting. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How long JetStream may take to answer at open (a cluster electing its leaders), and the catch-up to stall. */
const OPEN_TIMEOUT_MS = 10_000;

export interface ClusterOperatorLogOptions {
  projections: readonly Projection[];
  clock: Clock;
  /** Where NATS and consumer warnings go: stderr, one line each. */
  warn(line: string): void;
}

/**
 * Connects to the cluster named in `config`, opens the log on the node's mirror and takes the
 * cluster's key files into the data dir. Nothing is appended here, so a failure leaves the log
 * as it was: an unreachable cluster is one `UNAVAILABLE` (exit 1), refused credentials one
 * `UNAUTHORIZED`, and a data dir that is no mirror of this cluster a StartupError (exit 2).
 */
export async function openClusterOperatorLog(config: Config, options: ClusterOperatorLogOptions): Promise<EventStore> {
  const servers = clusterServers(config);
  const where = servers.servers.join(', ');
  const logger = {
    info: () => undefined,
    warn: (details: Record<string, unknown>, message: string) => options.warn(`switchyard: warning: ${message}${describeDetails(details)}`),
  };
  let connection: NatsConnection;
  try {
    connection = await connectCluster({ ...servers, name: `switchyard-cli-${process.pid}`, connectTimeoutMs: CONNECT_TIMEOUT_MS }, logger);
  } catch (error) {
    if (error instanceof Error && /authoriz|authenticat/i.test(error.message)) {
      throw new AppError('UNAUTHORIZED', `NATS at ${where} refused the cluster credentials (${error.message}): check clusterUser/clusterPassword or clusterToken`);
    }
    throw new AppError('UNAVAILABLE', `the cluster is unreachable: no NATS server at ${where} answered within ${CONNECT_TIMEOUT_MS / 1000} s (${messageOf(error)}); nothing was written`);
  }
  let store: JetStreamEventStore | undefined;
  try {
    // The log first: a data dir holding a single-node log (or another cluster's mirror) is
    // refused here, before any of its key files could be replaced by the cluster's.
    store = await JetStreamEventStore.open({
      connection,
      mirrorPath: join(config.dataDir, DATABASE_FILE),
      replicas: config.clusterReplicas,
      projections: options.projections,
      clock: options.clock,
      publishTimeoutMs: config.clusterPublishTimeoutMs,
      openTimeoutMs: OPEN_TIMEOUT_MS,
      logger,
    });
    // Tokens signed, MFA seeds sealed and keys rotated here must be the cluster's: the data
    // dir of a node that never started (or lost keys/) gets them from the bucket, and never
    // makes keys of its own, which would be published as one more signing key.
    const keys = await shareKeyFiles(connection, config.dataDir, {
      replicas: config.clusterReplicas,
      node: `switchyard-cli-${process.pid}`,
      localScanMs: 0,
      logger,
      generate: () => {
        throw new AppError('UNAVAILABLE', `no gateway node has joined the cluster at ${where} yet (its key files are not shared): start one first`);
      },
    });
    return new ClusterOperatorLog(store, keys, connection);
  } catch (error) {
    await store?.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    if (error instanceof AppError || error instanceof StartupError) throw error;
    throw new AppError('UNAVAILABLE', `the cluster's event log at ${where} is unavailable (${messageOf(error)}); nothing was written`);
  }
}

/**
 * The JetStream log as the operator's EventStore; closing it also shares key files the
 * command changed (`keys rotate`) and ends the NATS connection, so a command needs one close.
 */
class ClusterOperatorLog implements EventStore {
  constructor(
    private readonly log: JetStreamEventStore,
    private readonly keys: SharedKeyFiles,
    private readonly connection: NatsConnection,
  ) {}

  get readModels(): ReadModelDatabase {
    return this.log.readModels;
  }

  get checkpoints(): CheckpointStore {
    return this.log.checkpoints;
  }

  append(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return this.log.append(streamId, events, expected);
  }

  readStream(streamId: string, fromVersion?: number): RecordedEvent[] {
    return this.log.readStream(streamId, fromVersion);
  }

  readAll(options?: ReadAllOptions): RecordedEvent[] {
    return this.log.readAll(options);
  }

  streamVersion(streamId: string): number {
    return this.log.streamVersion(streamId);
  }

  headPosition(): number {
    return this.log.headPosition();
  }

  onCommitted(listener: (events: readonly RecordedEvent[]) => void): () => void {
    return this.log.onCommitted(listener);
  }

  catchUp(): Promise<void> {
    return this.log.catchUp();
  }

  /** Waits for appends in flight (each already answered or failed), publishes changed key files, disconnects. */
  async close(): Promise<void> {
    try {
      await this.log.close();
      // Only `keys rotate` changes key files; for every other command nothing differs and nothing is sent.
      await this.keys.publishLocalChanges().catch((error: unknown) => {
        throw new AppError('UNAVAILABLE', `the key files changed here were not shared with the cluster (${messageOf(error)}): this node's gateway shares them while it runs`);
      });
    } finally {
      await this.keys.close();
      // Every append is acknowledged by now and nothing else is pending: no drain needed,
      // and a drain would wait for a NATS server that may be gone.
      await this.connection.close();
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A warning's details as ` (key=value, ...)`, errors by their message. */
function describeDetails(details: Record<string, unknown>): string {
  const parts = Object.entries(details)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
