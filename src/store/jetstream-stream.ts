import { JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';

/** The JetStream stream that holds the cluster's log, as `ensureLogStream` wants it. */
export interface LogStreamSpec {
  name: string;
  /** Subjects are `<prefix>.<token>`, one per log stream. */
  subjectPrefix: string;
  replicas: number;
  /** How long JetStream remembers a Nats-Msg-Id; must outlast a publish's retries. */
  duplicateWindowMs: number;
}

const NANOS_PER_MS = 1_000_000;

/**
 * Finds or creates the log's stream. Idempotent and safe when several nodes start at once:
 * JetStream accepts the same `add` twice, and a creator that lost a race on a differing
 * configuration reads the winner's. An existing stream must hold our subjects and remember
 * message ids long enough; a different replica count is the operator's (it can be changed
 * with `nats stream edit`) and is left as found.
 *
 * deny_delete and deny_purge: the mirrors number events by their place in the stream, so
 * a message removed from it would renumber every later event on a node that ingests afresh.
 */
export async function ensureLogStream(manager: JetStreamManager, spec: LogStreamSpec, timeoutMs = 30_000): Promise<StreamInfo> {
  // A cluster just started (or loaded) may time out a request or say JetStream is not ready
  // while it elects leaders: asked again until the deadline, not failed on the first try.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await findOrCreateStream(manager, spec);
    } catch (error) {
      if (!isTransient(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || /timeout|temporarily unavailable|no responders|not (yet )?available/i.test(error.message)) return true;
  return error instanceof JetStreamApiError && error.status === 503;
}

async function findOrCreateStream(manager: JetStreamManager, spec: LogStreamSpec): Promise<StreamInfo> {
  let info = await findStream(manager, spec.name);
  if (!info) {
    try {
      info = await manager.streams.add({
        name: spec.name,
        subjects: [`${spec.subjectPrefix}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: spec.replicas,
        duplicate_window: spec.duplicateWindowMs * NANOS_PER_MS,
        deny_delete: true,
        deny_purge: true,
        allow_rollup_hdrs: false,
      });
    } catch (error) {
      info = await findStream(manager, spec.name);
      if (!info) throw error;
    }
  }
  assertUsable(info, spec);
  return info;
}

async function findStream(manager: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await manager.streams.info(name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw error;
  }
}

function assertUsable(info: StreamInfo, spec: LogStreamSpec): void {
  const { config } = info;
  if (!config.subjects?.includes(`${spec.subjectPrefix}.>`)) {
    throw new Error(`JetStream stream ${spec.name} does not take ${spec.subjectPrefix}.> (its subjects: ${(config.subjects ?? []).join(', ')})`);
  }
  if (config.duplicate_window < spec.duplicateWindowMs * NANOS_PER_MS) {
    throw new Error(
      `JetStream stream ${spec.name} remembers message ids for ${config.duplicate_window / NANOS_PER_MS} ms, less than the ${spec.duplicateWindowMs} ms a retried append needs`,
    );
  }
  if (!config.deny_delete || !config.deny_purge || config.max_msgs > 0 || config.max_bytes > 0 || config.max_age > 0) {
    throw new Error(`JetStream stream ${spec.name} lets messages be removed (deny_delete, deny_purge and no limits are required): the log must never lose a message`);
  }
}
