// The append rows of bench/cluster/cluster.mjs, run as a pinned child process (the stores
// are opened in this process, no gateway in between):
//
//   node bench/cluster/append.mjs '<json: {dir, natsUrls, user, password, replicas, natsPids,
//                                          appends, warmup, inFlight: [1, 100, 500], streams}>'
//
// For each in-flight level, SqliteEventStore (the default: fsync inside COMMIT, WAL, the
// checkpoint worker) then JetStreamEventStore at R3 on the three NATS servers, each on a
// fresh database / a fresh JetStream stream, the same number of appends of the same 200 B
// event. Closed loop: `inFlight` writers, each appending one event with an expected version
// to streams of its own (no conflicts) and appending again once the previous is acknowledged
// (SQLite: committed and fsynced; JetStream: acknowledged by a quorum of the stream's
// replicas and ingested by this process's mirror, which is when the gateway answers). The
// first `warmup` appends of a row are not recorded. Latency: append call to its resolution.
//
// Prints one JSON line per row, then {"done":true}; {"error"} and exit 1 when a store breaks.

import { join } from 'node:path';
import { Histogram, sampleCpu } from '../lib/system.mjs';

const options = JSON.parse(process.argv[2]);
const { SqliteEventStore, JetStreamEventStore } = await import('../../dist/store/index.js');
const { connectCluster } = await import('../../dist/cluster/nats.js');

/** The event appended, its `data` exactly 200 B of JSON whatever the sequence number. */
const EVENT_DATA_BYTES = 200;
function eventFor(sequence) {
  const data = { sequence: String(sequence).padStart(10, '0'), pad: '' };
  data.pad = 'x'.repeat(EVENT_DATA_BYTES - JSON.stringify(data).length);
  return { type: 'BenchAppended', data, metadata: { actor: 'bench' } };
}

const quietLogger = { info() {}, warn() {} };
let rowIndex = 0;

async function openStore(kind, connection) {
  rowIndex += 1;
  if (kind === 'sqlite') return new SqliteEventStore({ path: join(options.dir, `sqlite-${rowIndex}.db`), walSync: 'commit', walCheckpointIntervalMs: 1000 });
  // A stream of its own per row, apart from the gateways' SWITCHYARD_LOG on the same servers.
  return JetStreamEventStore.open({
    connection,
    mirrorPath: join(options.dir, `mirror-${rowIndex}.db`),
    streamName: `BENCH_APPEND_${rowIndex}`,
    subjectPrefix: `bench.append${rowIndex}`,
    replicas: options.replicas,
    logger: quietLogger,
  });
}

/** `total` appends by `writers` closed-loop writers; latencies recorded after the first `warmup`. */
async function drive(store, writers, total, warmup, histogram) {
  const versions = new Int32Array(options.streams);
  let issued = 0;
  let acknowledged = 0;
  let before = null;
  let startedAt = 0;
  const pids = [process.pid, ...options.natsPids];
  const writer = async (index) => {
    for (let round = 0; issued < total; round++) {
      const sequence = issued++;
      if (sequence === warmup) {
        before = sampleCpu(pids);
        startedAt = performance.now();
      }
      const stream = (index + writers * round) % options.streams;
      const expected = versions[stream];
      const sentAt = performance.now();
      await store.append(`bench-${stream}`, [eventFor(sequence)], expected);
      if (sequence >= warmup) histogram.recordMs(performance.now() - sentAt);
      versions[stream] = expected + 1;
      acknowledged += 1;
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, index) => writer(index)));
  const after = sampleCpu(pids);
  return { before, after, seconds: (performance.now() - startedAt) / 1000, acknowledged };
}

let connection;
try {
  connection = await connectCluster({ servers: options.natsUrls, user: options.user, password: options.password, name: 'switchyard-bench-append' }, quietLogger);
  for (const inFlight of options.inFlight) {
    // Writers own disjoint streams: at least one stream per writer.
    if (options.streams < inFlight) throw new Error(`--streams ${options.streams} < ${inFlight} in flight`);
    for (const kind of ['sqlite', 'jetstream']) {
      const store = await openStore(kind, connection);
      const histogram = new Histogram(10_000);
      try {
        const { before, after, seconds, acknowledged } = await drive(store, inFlight, options.appends + options.warmup, options.warmup, histogram);
        const head = store.headPosition();
        if (head !== acknowledged) throw new Error(`${kind} holds ${head} events after ${acknowledged} acknowledged appends`);
        process.stdout.write(
          `${JSON.stringify({
            kind,
            inFlight,
            appends: options.appends,
            seconds,
            appendsPerSecond: options.appends / seconds,
            p50: histogram.percentileMs(0.5),
            p99: histogram.percentileMs(0.99),
            max: histogram.max,
            cpu: { before, after },
          })}\n`,
        );
      } finally {
        await store.close();
      }
    }
  }
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  process.exit(1);
} finally {
  await connection?.close().catch(() => undefined);
}
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
process.exit(0);
