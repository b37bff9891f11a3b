import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../../src/core/clock.js';
import { connectCluster, jetStreamReady } from '../../src/cluster/nats.js';
import { JetStreamEventStore, type EventStore, type Projection, type StoreObserver } from '../../src/store/index.js';
import { startNatsCluster, type NatsCluster } from './nats-cluster.js';
import { tempDir } from './temp-dir.js';

/** How the store contract (test/unit/store.contract.test.ts) opens each kind of log. */

export interface OpenOptions {
  projections?: readonly Projection[];
  observer?: StoreObserver;
  clock?: Clock;
}

export interface StoreHarness {
  /** Opens a store; a durable harness opens the same log every time within one test. */
  open(options?: OpenOptions): EventStore | Promise<EventStore>;
  readonly durable: boolean;
  dispose(): Promise<void>;
}

/** One nats-server for a whole test file, started by the first JetStream test; `stopContractNatsServer` after the last. */
let natsServer: Promise<{ cluster: NatsCluster; dir: ReturnType<typeof tempDir> }> | undefined;

export async function stopContractNatsServer(): Promise<void> {
  const started = await natsServer;
  natsServer = undefined;
  await started?.cluster.stop();
  started?.dir.remove();
}

/** The cluster's log on one real nats-server (R1): each harness its own JetStream stream and mirror. */
export function jetStreamHarness(): StoreHarness {
  const dir = tempDir();
  // Each test has its own JetStream stream and subjects: streams may not share subjects.
  const suffix = Math.random().toString(36).slice(2, 10);
  const streamName = `CONTRACT_${suffix}`;
  const opened: EventStore[] = [];
  let connection: NatsConnection | undefined;
  const quiet = { info: () => {}, warn: () => {} };
  return {
    durable: true,
    async open(options = {}) {
      natsServer ??= (async () => {
        const serverDir = tempDir('switchyard-nats-');
        return { cluster: await startNatsCluster(serverDir.path, 1), dir: serverDir };
      })();
      const { cluster } = await natsServer;
      connection ??= await connectCluster({ servers: cluster.urls, user: cluster.user, password: cluster.password, name: 'contract' }, quiet);
      const store = await JetStreamEventStore.open({
        connection,
        streamName,
        subjectPrefix: `contract.${suffix}`,
        replicas: 1,
        mirrorPath: join(dir.path, 'mirror.db'),
        ...options,
      });
      opened.push(store);
      return store;
    },
    async dispose() {
      for (const store of opened) await store.close();
      if (connection) {
        const manager = await jetStreamReady(connection);
        await manager.streams.delete(streamName);
        await connection.close();
      }
      dir.remove();
    },
  };
}
