#!/usr/bin/env node
// Event-log appends through SqliteEventStore versus raw batched better-sqlite3 inserts of
// the same rows, in the same run (DESIGN.md rule 9), then an open-loop latency test.
//
//   npm run bench:store                   (builds first)
//   node bench/micro/append.mjs [--seconds 4] [--rounds 3] [--streams 1000] [--batch 100]
//                               [--rate 20000] [--latency-seconds 5] [--dir DIR] [--json]
//                               [--modes commit,worker] [--dist DIR]
//
// A/B: copy dist/ to bench/out/dist-old before a change, rebuild, run with `--dist bench/out/dist-old`
// and without, back to back. `--rounds 0` / `--modes ''` skip throughput / latency runs.
//
// Both sides use the same database setup: the log's schema (dist/store/schema.js), the
// pragmas of openDatabase (WAL, synchronous=FULL, busy_timeout) and the WAL checkpoint
// worker with automatic checkpoints off, exactly as the gateway runs. Each round gets a
// fresh database file in a directory on a real disk (tmpfs would fake the fsyncs). The
// store runs without projections: this measures the log's own cost over the same rows
// (group commit, version checks, promises), not that of the read models.
//
// 0. The disk's floor: 4 KB write + fdatasync, in the same directory.
// 1. Latency, open loop (first, on a young heap), for each durability mode twice: `rate` appends/s offered on a fixed
//    schedule to random streams with expected versions, after a 1 s warm-up; latency counts
//    from each append's intended send time, not the time it was actually issued, so a
//    stalled loop shows up as latency (no coordinated omission).
// 2. Throughput, closed loop, `rounds` times raw then store. Raw: transactions of `batch`
//    rows, each row's stream version counted in memory and its data and metadata
//    JSON.stringify'd, one prepared INSERT. Store: `batch` writers, each appending one
//    event with an expected version to its own streams and appending again as soon as the
//    commit answers; all of them answer in one settle, so the next `batch` appends share
//    the next transaction (group commit).
//
// Prints a markdown block for bench/RESULTS.md (JSON with --json). Takes about
// 2 x rounds x seconds + latency-seconds + 1 + a few seconds (~35 s with the defaults).

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { REPO, Histogram, assertBuilt, cpuShares, filesystemOf, fmt, machineInfo, revision, sampleCpu, uptimeLine, watchdog } from '../lib/system.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    streams: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '100' },
    rate: { type: 'string', default: '20000' },
    'latency-seconds': { type: 'string', default: '5' },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
    modes: { type: 'string', default: 'commit,worker' },
    dist: { type: 'string' },
  },
});
const modes = values.modes.split(',').filter(Boolean);
for (const mode of modes) if (mode !== 'commit' && mode !== 'worker') throw new Error(`--modes: unknown durability mode ${mode}`);

const settings = {
  seconds: Number(values.seconds),
  rounds: Number(values.rounds),
  streams: Number(values.streams),
  batch: Number(values.batch),
  rate: Number(values.rate),
  latencySeconds: Number(values['latency-seconds']),
};
// Issue 15: the store keeps at least 0.8 of raw batched inserts while acknowledging only what is on disk.
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 5;
/** Shares of one core over a window above which the machine counts as busy. */
const VALID = { otherMax: 0.15, stealMax: 0.05 };
const CHECKPOINT_INTERVAL_MS = 1000;
const LATENCY_WARMUP_SECONDS = 1;

const dist = values.dist ? resolve(values.dist) : join(REPO, 'dist');
if (!values.dist) assertBuilt();
watchdog(2 * settings.rounds * settings.seconds + 2 * modes.length * (settings.latencySeconds + 1) + 70);
const { SqliteEventStore, openDatabase } = await import(pathToFileURL(join(dist, 'store', 'index.js')).href);
const { migrate } = await import(pathToFileURL(join(dist, 'store', 'schema.js')).href);
const { WalCheckpointer } = await import(pathToFileURL(join(dist, 'store', 'wal-checkpointer.js')).href);

// A directory on a real disk: the given one, else the system tmp dir unless it is tmpfs,
// else bench/out (ignored by git) inside the checkout.
function benchDirectory() {
  const candidates = values.dir ? [values.dir] : [tmpdir(), join(REPO, 'bench', 'out')];
  for (const base of candidates) {
    const fs = filesystemOf(base);
    if (fs.fstype === 'tmpfs' || fs.fstype === 'ramfs') {
      if (values.dir) throw new Error(`${base} is ${fs.fstype}: fsync would cost nothing there; pick a directory on disk`);
      continue;
    }
    return { path: mkdtempSync(join(base, 'switchyard-bench-store-')), fs };
  }
  throw new Error('no directory on a real disk found; pass --dir');
}

const directory = benchDirectory();
// Also on an error or the watchdog: the databases are a few hundred MB.
process.on('exit', () => rmSync(directory.path, { recursive: true, force: true }));
let databases = 0;
const freshPath = () => join(directory.path, `log-${++databases}.db`);

/** A deterministic xorshift: every run appends the same sequence of streams. */
function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

const streamIds = Array.from({ length: settings.streams }, (_, index) => `connection-bench${String(index).padStart(5, '0')}`);

/** One realistic event: a connection opening, as the gateway appends it. */
function eventFor(streamIndex, sequence) {
  return {
    type: 'ConnectionOpened',
    data: {
      connectionId: streamIds[streamIndex].slice('connection-'.length),
      codec: 'json',
      transport: 'native',
      remoteAddress: '127.0.0.1',
      userAgent: 'switchyard-bench/1.0',
      origin: null,
      sequence,
    },
    metadata: { actor: `connection:${streamIndex}`, correlationId: `bench-${sequence}` },
  };
}

function pragmasOf(db) {
  return {
    journal: db.pragma('journal_mode', { simple: true }),
    synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][db.pragma('synchronous', { simple: true })],
    autocheckpoint: db.pragma('wal_autocheckpoint', { simple: true }),
  };
}

const pid = process.pid;

/** Raw better-sqlite3: `batch` rows per transaction, as fast as it goes for `seconds`. */
async function rawRound() {
  const path = freshPath();
  const db = openDatabase(path);
  db.pragma('wal_autocheckpoint = 0');
  migrate(db);
  const checkpointer = new WalCheckpointer(path, CHECKPOINT_INTERVAL_MS);
  const insert = db.prepare(
    'INSERT INTO event_log (stream_id, stream_version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const versions = new Int32Array(settings.streams);
  const writeBatch = db.transaction((first, count) => {
    const recordedAt = Date.now();
    for (let sequence = first; sequence < first + count; sequence++) {
      // The same stream choice as the store round: writer w appends to its own streams in turn.
      const writer = sequence % settings.batch;
      const round = Math.floor(sequence / settings.batch);
      const streamIndex = (writer + settings.batch * round) % settings.streams;
      const event = eventFor(streamIndex, sequence);
      versions[streamIndex] += 1;
      insert.run(streamIds[streamIndex], versions[streamIndex], event.type, JSON.stringify(event.data), JSON.stringify(event.metadata), recordedAt);
    }
  });
  const pragmas = pragmasOf(db);
  // Let the checkpoint worker start before measuring, as the store round does.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = sampleCpu([pid]);
  const started = performance.now();
  let rows = 0;
  let transactions = 0;
  while (performance.now() - started < settings.seconds * 1000) {
    writeBatch.immediate(rows, settings.batch);
    rows += settings.batch;
    transactions += 1;
    // Give the event loop a turn now and then (timers, the worker's messages), as a server would.
    if (transactions % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const after = sampleCpu([pid]);
  const seconds = (performance.now() - started) / 1000;
  await checkpointer.stop();
  const stored = db.prepare('SELECT count(*) FROM event_log').pluck().get();
  db.close();
  if (stored !== rows) throw new Error(`raw round stored ${stored} rows, expected ${rows}`);
  return { rows, seconds, rowsPerSecond: rows / seconds, meanBatch: settings.batch, pragmas, cpu: cpuShares(before, after) };
}

function newStore(path, batches, walSync = 'commit') {
  return new SqliteEventStore({
    path,
    walSync,
    walCheckpointIntervalMs: CHECKPOINT_INTERVAL_MS,
    observer: {
      committed(latencies) {
        batches.count += 1;
        batches.appends += latencies.length;
      },
    },
  });
}

/** SqliteEventStore: `batch` closed-loop writers with expected versions, for `seconds`. */
async function storeRound() {
  const batches = { count: 0, appends: 0 };
  const store = newStore(freshPath(), batches);
  const pragmas = pragmasOf(store.readModels);
  const versions = new Int32Array(settings.streams);
  let rows = 0;
  let conflicts = 0;
  let running = true;
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = sampleCpu([pid]);
  const started = performance.now();
  const writer = async (index) => {
    for (let round = 0; running; round++) {
      const streamIndex = (index + settings.batch * round) % settings.streams;
      const expected = versions[streamIndex];
      try {
        await store.append(streamIds[streamIndex], [eventFor(streamIndex, rows)], expected);
        versions[streamIndex] = expected + 1;
        rows += 1;
      } catch (error) {
        if (error?.code !== 'CONFLICT') throw error;
        conflicts += 1;
        versions[streamIndex] = store.streamVersion(streamIds[streamIndex]);
      }
    }
  };
  const stop = setTimeout(() => {
    running = false;
  }, settings.seconds * 1000);
  // Every writer's append lands in the same tick, so they share one transaction each round.
  await Promise.all(Array.from({ length: settings.batch }, (_, index) => writer(index)));
  clearTimeout(stop);
  const after = sampleCpu([pid]);
  const seconds = (performance.now() - started) / 1000;
  const head = store.headPosition();
  await store.close();
  if (head !== rows) throw new Error(`store round has head ${head}, expected ${rows}`);
  return {
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    meanBatch: batches.appends / batches.count,
    conflicts,
    pragmas,
    cpu: cpuShares(before, after),
  };
}

/**
 * The disk's floor for a durable append: a 4 KB write + fdatasync, as a WAL commit does at
 * synchronous=FULL. An append cannot be acknowledged faster than this; its tail sets the
 * latency test's p99 more than anything in the store.
 */
function fsyncFloor(samples = 2000) {
  const path = join(directory.path, 'fsync-probe.bin');
  const fd = openSync(path, 'w');
  const page = Buffer.alloc(4096, 0x5a);
  const histogram = new Histogram(1000);
  for (let index = 0; index < samples; index++) {
    writeSync(fd, page);
    const started = performance.now();
    fdatasyncSync(fd);
    histogram.recordMs(performance.now() - started);
  }
  closeSync(fd);
  return { p50: histogram.percentileMs(0.5), p99: histogram.percentileMs(0.99), max: histogram.max, samples };
}

/**
 * Open loop: `rate` appends/s on a fixed schedule; latency from the intended send time. The
 * first second is a warm-up at the same rate (JIT, the version cache, the WAL's first
 * growth) and is not recorded. Settled appends are counted, not kept: holding every promise
 * would make each young-generation GC copy them and add its own milliseconds to the tail.
 */
async function latencyRun(walSync) {
  const batches = { count: 0, appends: 0 };
  const store = newStore(freshPath(), batches, walSync);
  const histogram = new Histogram(10_000);
  const next = random(0x5eed);
  const issued = new Int32Array(settings.streams);
  const warmup = Math.round(settings.rate * LATENCY_WARMUP_SECONDS);
  const total = warmup + Math.round(settings.rate * settings.latencySeconds);
  const gcPauses = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (measuring) gcPauses.push(entry.duration);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  let errors = 0;
  let firstError;
  let sent = 0;
  let settled = 0;
  let measuring = false;
  let before;
  let measuredFrom = 0;
  await new Promise((resolve) => setTimeout(resolve, 100));
  const start = performance.now() + 10;
  await new Promise((resolve) => {
    const onSettled = () => {
      settled += 1;
      if (settled === total) resolve();
    };
    // Polls the schedule on every loop turn: a timer could not hit a 50 µs period. Appends
    // whose time has come go out together, as frames read in one poll would.
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * settings.rate) / 1000) + 1);
      while (sent < due) {
        if (sent === warmup) {
          measuring = true;
          measuredFrom = start + (sent * 1000) / settings.rate;
          before = sampleCpu([pid]);
          batches.count = 0;
          batches.appends = 0;
        }
        const intended = start + (sent * 1000) / settings.rate;
        const recorded = sent >= warmup;
        const streamIndex = Math.floor(next() * settings.streams);
        const expected = issued[streamIndex];
        issued[streamIndex] = expected + 1;
        store.append(streamIds[streamIndex], [eventFor(streamIndex, sent)], expected).then(
          () => {
            if (recorded) histogram.recordMs(performance.now() - intended);
            onSettled();
          },
          (error) => {
            errors += 1;
            firstError ??= error;
            onSettled();
          },
        );
        sent += 1;
      }
      if (sent < total) setImmediate(tick);
    };
    tick();
  });
  measuring = false;
  gcObserver.disconnect();
  const after = sampleCpu([pid]);
  const seconds = (performance.now() - measuredFrom) / 1000;
  const head = store.headPosition();
  await store.close();
  gcPauses.sort((a, b) => b - a);
  return {
    walSync,
    offered: settings.rate,
    appends: total - warmup,
    warmup,
    committed: head,
    achieved: (head - warmup) / seconds,
    errors,
    firstError: firstError ? String(firstError.message ?? firstError) : undefined,
    p50: histogram.percentileMs(0.5),
    p99: histogram.percentileMs(0.99),
    p999: histogram.percentileMs(0.999),
    max: histogram.max,
    meanBatch: batches.appends / batches.count,
    transactions: batches.count,
    gc: { pauses: gcPauses.length, over1ms: gcPauses.filter((ms) => ms > 1).length, max: gcPauses[0] ?? 0 },
    cpu: cpuShares(before, after),
  };
}

const startedAt = new Date();
const machine = machineInfo();
const loadBefore = uptimeLine();
const disk = fsyncFloor();
// Latency first, on a young heap: after the throughput rounds the old generation holds their
// garbage and a full GC inside the window would be the bench's own pause, not the store's.
// Each durability mode twice, alternating, so a slow spell of the disk hits both: `commit` is
// the fsync inside COMMIT on the event loop (synchronous=FULL, the gateway's default), `worker`
// the WAL's fdatasync in the sync worker, appends made meanwhile committed after it (opt-in:
// see SqliteStoreOptions.walSync for why it is not the default).
const latencies = [];
for (const walSync of [...modes, ...modes]) latencies.push(await latencyRun(walSync));
const worst = (mode) => latencies.filter((run) => run.walSync === mode).sort((a, b) => b.p99 - a.p99)[0];
const latency = worst('commit') ?? worst('worker');
const workerLatency = worst('worker');
const rounds = [];
for (let round = 0; round < settings.rounds; round++) {
  rounds.push({ raw: await rawRound(), store: await storeRound() });
}
const loadAfter = uptimeLine();

const mean = (list) => list.reduce((sum, value) => sum + value, 0) / list.length;
const raw = mean(rounds.map((round) => round.raw.rowsPerSecond));
const stored = mean(rounds.map((round) => round.store.rowsPerSecond));
const ratio = stored / raw;

const windowProblems = (cpu) => {
  const problems = [];
  if (cpu.other > VALID.otherMax) problems.push(`other CPU ${fmt.pct(cpu.other)} > ${fmt.pct(VALID.otherMax)}`);
  if (cpu.steal > VALID.stealMax) problems.push(`steal ${fmt.pct(cpu.steal)}`);
  return problems;
};

if (values.json) {
  console.log(JSON.stringify({ startedAt, machine, settings, directory, disk, loadBefore, loadAfter, rounds, raw, stored, ratio, latencies }, null, 2));
  process.exit(0);
}

const command =
  `node bench/micro/append.mjs --seconds ${settings.seconds} --rounds ${settings.rounds} --streams ${settings.streams} ` +
  `--batch ${settings.batch} --rate ${settings.rate} --latency-seconds ${settings.latencySeconds}` +
  (values.modes === 'commit,worker' ? '' : ` --modes ${values.modes}`) +
  (values.dist ? ` --dist ${values.dist}` : '');
const pragmas = rounds[0]?.store.pragmas ?? { journal: 'wal', synchronous: 'FULL', autocheckpoint: 0 };
const out = [];
out.push(`### bench:store — event-log appends, ${startedAt.toISOString()}`);
out.push('');
out.push(`- machine: ${machine.nproc} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}; code ${revision()}${values.dist ? ` (store from ${values.dist})` : ""}`);
out.push(`- command: \`${command}\` (\`npm run bench:store\` builds, then runs this with the defaults)`);
out.push(
  `- database: ${directory.fs.source} (${directory.fs.fstype}, mounted on ${directory.fs.target}); journal ${pragmas.journal}, ` +
    `synchronous ${pragmas.synchronous}, wal_autocheckpoint ${pragmas.autocheckpoint} + checkpoint worker every ${CHECKPOINT_INTERVAL_MS} ms, ` +
    `no projections, ${settings.streams} streams, one event (~${JSON.stringify(eventFor(0, 12345).data).length} B data) per append`,
);
out.push(
  `- disk floor (same directory, same run): 4 KB write + fdatasync p50 ${fmt.ms(disk.p50)} ms, p99 ${fmt.ms(disk.p99)} ms, ` +
    `max ${fmt.ms(disk.max)} ms (${disk.samples} samples); every acknowledged append waits for at least one`,
);
out.push(`- load before: \`${loadBefore}\``);
out.push(`- load after: \`${loadAfter}\``);
out.push('');
out.push('| round | side | rows/s | rows per transaction | process CPU | other CPU | iowait | steal | conflicts | machine quiet |');
out.push('|--:|---|--:|--:|--:|--:|--:|--:|--:|---|');
rounds.forEach((round, index) => {
  for (const [side, result] of [
    [`raw better-sqlite3, ${settings.batch}-row transactions`, round.raw],
    [`SqliteEventStore, ${settings.batch} writers`, round.store],
  ]) {
    const problems = windowProblems(result.cpu);
    out.push(
      `| ${index + 1} | ${side} | ${fmt.int(result.rowsPerSecond)} | ${result.meanBatch.toFixed(1)} | ${fmt.pct(result.cpu.processes[0])} | ` +
        `${fmt.pct(result.cpu.other)} | ${fmt.pct(result.cpu.iowait)} | ${fmt.pct(result.cpu.steal)} | ${result.conflicts ?? '-'} | ` +
        `${problems.length === 0 ? 'yes' : `no: ${problems.join('; ')}`} |`,
    );
  }
});
out.push('');
out.push(
  `- throughput: store ${fmt.int(stored)} rows/s vs raw ${fmt.int(raw)} rows/s (means of ${settings.rounds} rounds) = ` +
    `**${fmt.ratio(ratio)}** (target ≥ ${TARGET_RATIO.toFixed(2)}: ${ratio >= TARGET_RATIO ? 'met' : 'missed'})`,
);
// `--modes ''` measures throughput only.
if (latency) {
  out.push(
    `- open loop, ${fmt.int(settings.rate)} appends/s offered for ${settings.latencySeconds} s to random streams with expected versions, ` +
      `after ${fmt.int(latency.warmup)} unrecorded warm-up appends (1 s); latency from each append's intended send time to its ack; ` +
      `each durability mode twice, alternating:`,
  );
  out.push('');
  out.push('| run | durability | committed/s | errors | appends per transaction | p50 ms | p99 ms | p99.9 ms | max ms | GC pauses > 1 ms | process CPU | iowait | machine quiet |');
  out.push('|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  latencies.forEach((run, index) => {
    const problems = windowProblems(run.cpu);
    const mode = run.walSync === 'worker' ? 'fdatasync in the sync worker, commits pipelined' : 'fsync inside COMMIT (synchronous=FULL)';
    out.push(
      `| ${index + 1} | ${mode} | ${fmt.int(run.achieved)} | ${run.errors} | ${run.meanBatch.toFixed(1)} | ${fmt.ms(run.p50)} | **${fmt.ms(run.p99)}** | ` +
        `${fmt.ms(run.p999)} | ${fmt.ms(run.max)} | ${run.gc.over1ms} | ${fmt.pct(run.cpu.processes[0])} | ${fmt.pct(run.cpu.iowait)} | ` +
        `${problems.length === 0 ? 'yes' : `no: ${problems.join('; ')}`} |`,
    );
  });
  out.push('');
  out.push(
    `- append-to-ack p99 as the gateway runs (fsync inside COMMIT), worse of its two runs: **${fmt.ms(latency.p99)} ms** (target p99 ≤ ${TARGET_P99_MS} ms: ` +
      `${latency.p99 <= TARGET_P99_MS && latency.errors === 0 ? 'met' : 'missed'}); with the sync worker (opt-in): ${workerLatency ? `${fmt.ms(workerLatency.p99)} ms` : 'not run'}`,
  );
}
out.push(
  `- process CPU includes the checkpoint worker thread; "other" is everything else on the machine in the window ` +
    `(valid when ≤ ${fmt.pct(VALID.otherMax)} of a core and steal ≤ ${fmt.pct(VALID.stealMax)})`,
);
console.log(out.join('\n'));
