import { JetStreamApiCodes, JetStreamApiError, jetstream } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetStreamReady } from './nats.js';

/** Each attempt to reach a bucket's stream while it may have no leader. */
const ATTEMPT_TIMEOUT_MS = 2_000;
const READINESS_PROBE_KEY = 'readiness-probe';

/**
 * Opens (creating if need be) a KV bucket of the cluster and resolves only once its stream
 * answers. On NATS 2.9 a stream just created, by this node or by another one starting at the
 * same moment, has no leader for a while, and every request to it meanwhile (the stream info
 * inside Kvm.create, a get, a put) is dropped unanswered and times out. So: short attempts,
 * retried, until the stream info names a leader; then the bucket as the rest of the code
 * uses it, with the client's usual timeouts.
 */
export async function openBucket(connection: NatsConnection, name: string, options: Partial<KvOptions>, timeoutMs = 30_000): Promise<KV> {
  const deadline = Date.now() + timeoutMs;
  await jetStreamReady(connection, timeoutMs);
  const client = jetstream(connection, { timeout: ATTEMPT_TIMEOUT_MS });
  const quick = new Kvm(client);
  const manager = await client.jetstreamManager();
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const probe = await quick.create(name, options);
      const info = await manager.streams.info(`KV_${name}`);
      if (info.cluster === undefined || info.cluster.leader) {
        // A leader named in the info may still drop gets for a moment after its election: one
        // answered read (of a key nobody writes) shows the stream serves them.
        await probe.get(READINESS_PROBE_KEY);
        return await new Kvm(connection).open(name, { allow_direct: options.allow_direct ?? false });
      }
      lastError = new Error('its stream has no leader yet');
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`KV bucket ${name} did not become available within ${timeoutMs} ms: ${String(lastError)}`);
}

export interface BucketFollower {
  stop(): void;
}

/**
 * Calls `onEntry` with every change of a bucket (after its current values), in revision
 * order, until stopped. The client's watch is an ordered consumer that rides out reconnects
 * by itself; should it end anyway, it is opened again from the revision after the last one
 * seen, so a change is neither delivered twice nor skipped. `onTrouble` hears of a watch
 * that ended and of an `onEntry` that threw (the next entries are still delivered).
 * Resolves once the first watch is in place.
 */
export async function followBucket(kv: KV, onEntry: (entry: KvWatchEntry) => void, onTrouble: (what: string, error: unknown) => void): Promise<BucketFollower> {
  let stopped = false;
  let lastRevision = 0;
  let watcher = await kv.watch();
  const run = async () => {
    while (!stopped) {
      try {
        for await (const entry of watcher) {
          lastRevision = Math.max(lastRevision, entry.revision);
          try {
            onEntry(entry);
          } catch (error) {
            onTrouble('a watched entry could not be applied', error);
          }
        }
      } catch (error) {
        if (!stopped) onTrouble('the watch failed', error);
      }
      if (stopped) return;
      onTrouble('the watch ended: watching again', undefined);
      await new Promise((resolve) => setTimeout(resolve, 250));
      try {
        if (!stopped) watcher = await kv.watch(lastRevision > 0 ? { resumeFromRevision: lastRevision + 1 } : {});
      } catch (error) {
        onTrouble('the watch could not be opened again', error);
      }
    }
  };
  void run();
  return {
    stop: () => {
      stopped = true;
      watcher.stop();
    },
  };
}

/** The JetStream answer to a write whose expected last sequence did not match (a create of a key that has a value). */
export function isWrongLastSequence(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
