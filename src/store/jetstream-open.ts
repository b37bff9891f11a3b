import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AppError } from '../core/index.js';
import { jetStreamReady } from '../cluster/nats.js';
import { MirrorFeed } from './jetstream-feed.js';
import { ensureLogStream, type LogStreamSpec } from './jetstream-stream.js';
import { LogMirror } from './mirror.js';
import { StartupError } from './startup.js';
import type { Projection } from './types.js';

export interface JetStreamLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

/** What opening a mirror of the JetStream log needs; the store's options add to these. */
export interface MirrorOpenOptions {
  /** The node's NATS connection (cluster/nats.ts `connectCluster`); its owner closes it, not the store. */
  connection: NatsConnection;
  /** The local SQLite mirror, e.g. `data/switchyard.db`; created if missing. */
  mirrorPath: string;
  /** Default `SWITCHYARD_LOG`. */
  streamName?: string;
  /** Subjects are `<prefix>.<stream token>`; default `sy.log`. */
  subjectPrefix?: string;
  /** Replicas when the stream is created: 3 (the default) for a three-server cluster, 1 for one server. */
  replicas?: number;
  projections?: readonly Projection[];
  /** How long an append may wait for JetStream's acknowledgement, retrying, before UNAVAILABLE. Default 5 s. */
  publishTimeoutMs?: number;
  /** How long JetStream remembers message ids, when the stream is created. Default 2 min, at least twice the publish timeout. */
  duplicateWindowMs?: number;
  /** Waiting for JetStream at open, and for the mirror to progress while it catches up. Default 30 s. */
  openTimeoutMs?: number;
  /** How often async projections look for events another process ingested. Default 1 s. */
  projectionPollMs?: number;
  logger?: JetStreamLogger;
}

export interface OpenedMirror {
  manager: JetStreamManager;
  mirror: LogMirror;
  spec: LogStreamSpec;
  /** The stream's last sequence when opened (as its leader reported it). */
  lastSequence: number;
}

export const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;

/** Waits for JetStream, finds or creates the log's stream and opens the mirror bound to it. */
export async function openMirror(options: MirrorOpenOptions): Promise<OpenedMirror> {
  const manager = await jetStreamReady(options.connection, options.openTimeoutMs ?? 30_000);
  const publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const spec: LogStreamSpec = {
    name: options.streamName ?? 'SWITCHYARD_LOG',
    subjectPrefix: options.subjectPrefix ?? 'sy.log',
    replicas: options.replicas ?? 3,
    // A retried publish is recognised only within the window; it must outlast the retries.
    duplicateWindowMs: Math.max(options.duplicateWindowMs ?? 120_000, publishTimeoutMs * 2),
  };
  const info = await ensureLogStream(manager, spec, options.openTimeoutMs ?? 30_000);
  const mirror = new LogMirror({
    path: options.mirrorPath,
    projections: options.projections ?? [],
    subjectPrefix: spec.subjectPrefix,
    source: { streamName: spec.name, created: info.created },
    projectionPollMs: options.projectionPollMs,
  });
  try {
    await assertStreamHolds(manager, spec.name, options.mirrorPath, mirror.lastSequence, info.state.last_seq);
  } catch (error) {
    mirror.close();
    throw error;
  }
  return { manager, mirror, spec, lastSequence: info.state.last_seq };
}

/**
 * A mirror that has ingested past the stream's end follows a history JetStream no longer has
 * (its servers' data was lost). The reported end can lag just after a cluster restart, while
 * a new leader applies its log, so the mirror's last message is looked up before refusing.
 */
async function assertStreamHolds(manager: JetStreamManager, streamName: string, path: string, checkpoint: number, reportedEnd: number): Promise<void> {
  if (checkpoint <= reportedEnd) return;
  try {
    await manager.streams.getMessage(streamName, { seq: checkpoint });
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    throw new StartupError(
      path,
      `${path} has ingested up to sequence ${checkpoint} but JetStream stream ${streamName} does not hold it (it ends at ${reportedEnd}): JetStream lost messages; remove the mirror file to rebuild it`,
    );
  }
}

/**
 * Builds a fresh mirror at `mirrorPath` from JetStream alone, from sequence 1 up to
 * `upToSequence` (default: the stream's end now), then closes it.
 */
export async function rebuildMirror(options: MirrorOpenOptions & { upToSequence?: number }): Promise<{ lastSequence: number; headPosition: number }> {
  if (existsSync(options.mirrorPath)) throw new AppError('BAD_REQUEST', `${options.mirrorPath} exists: a rebuilt mirror starts from an empty file`);
  const { mirror, spec, lastSequence } = await openMirror(options);
  const target = options.upToSequence ?? lastSequence;
  const feed = new MirrorFeed({
    connection: options.connection,
    streamName: spec.name,
    position: () => mirror.lastSequence,
    sink: (messages) => {
      mirror.ingest(messages.filter((message) => message.sequence <= target));
    },
    onError: (error, what) => options.logger?.warn({ err: error, stream: spec.name }, what),
  });
  try {
    if (target > 0) {
      feed.start();
      await progressTo(() => mirror.lastSequence, target, options.openTimeoutMs ?? 30_000);
    }
    return { lastSequence: mirror.lastSequence, headPosition: mirror.headPosition() };
  } finally {
    feed.stop();
    mirror.close();
  }
}

/** Resolves once `position()` reaches `target`; rejects when it stops moving for `stallMs`. */
export function progressTo(position: () => number, target: number, stallMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = position();
    let movedAt = performance.now();
    const check = () => {
      const now = position();
      if (now >= target) {
        clearInterval(timer);
        resolve();
      } else if (now !== seen) {
        seen = now;
        movedAt = performance.now();
      } else if (performance.now() - movedAt > stallMs) {
        clearInterval(timer);
        reject(new AppError('UNAVAILABLE', `the mirror stopped at sequence ${now} of ${target} for ${stallMs} ms`));
      }
    };
    const timer = setInterval(check, 20);
    check();
  });
}
