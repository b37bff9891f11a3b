#!/usr/bin/env node
// Hardening point 3, the 60 s version of test/integration/wal-bound.test.ts: appends through
// SqliteEventStore as fast as they commit (closed loop, `writers` appends per group commit)
// with the checkpoint worker bounding the WAL at `--bound` bytes, sampling the -wal file's
// size every 50 ms. Baseline in the same run (DESIGN.md rule 9): the same load for
// `--baseline-seconds` with the bound effectively off (1 TiB), so the ratio of events/s shows
// what bounding costs and the baseline's WAL shows what it saves.
//
//   npm run build && node bench/micro/wal.mjs [--seconds 60] [--baseline-seconds 10]
//                         [--bound 67108864] [--writers 250] [--dir DIR] [--json]
//
// Use a directory on a real disk (tmpfs would fake the fsyncs). Passes when the largest WAL
// sampled stays under the bound.

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO, assertBuilt } from '../lib/system.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    'baseline-seconds': { type: 'string', default: '10' },
    bound: { type: 'string', default: String(64 * 1024 * 1024) },
    writers: { type: 'string', default: '250' },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const settings = {
  seconds: Number(values.seconds),
  baselineSeconds: Number(values['baseline-seconds']),
  bound: Number(values.bound),
  writers: Number(values.writers),
};

assertBuilt();
const { SqliteEventStore } = await import(join(REPO, 'dist', 'store', 'index.js'));
const MiB = 1024 * 1024;

async function round(seconds, walMaxBytes) {
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'switchyard-wal-bench-'));
  const path = join(dir, 'switchyard.db');
  const store = new SqliteEventStore({ path, walCheckpointIntervalMs: 1000, walMaxBytes });
  const payload = { note: 'x'.repeat(200) };
  let largest = 0;
  const sampler = setInterval(() => {
    if (existsSync(`${path}-wal`)) largest = Math.max(largest, statSync(`${path}-wal`).size);
  }, 50);
  const versions = new Array(settings.writers).fill(0);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let events = 0;
  while (performance.now() < deadline) {
    const appends = versions.map((version, index) => store.append(`s-${index}`, [{ type: 'Noted', data: payload }], version));
    await Promise.all(appends);
    for (let index = 0; index < versions.length; index++) versions[index] += 1;
    events += appends.length;
  }
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (existsSync(`${path}-wal`)) largest = Math.max(largest, statSync(`${path}-wal`).size);
  const databaseBytes = statSync(path).size;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { seconds: elapsed, events, eventsPerSecond: events / elapsed, largestWalBytes: largest, databaseBytes };
}

const baseline = await round(settings.baselineSeconds, 1024 * 1024 * MiB);
const bounded = await round(settings.seconds, settings.bound);
const report = {
  settings,
  baseline,
  bounded,
  throughputRatio: bounded.eventsPerSecond / baseline.eventsPerSecond,
  underBound: bounded.largestWalBytes < settings.bound,
};
if (values.json) {
  console.log(JSON.stringify(report));
} else {
  const row = (name, r) =>
    `| ${name} | ${r.seconds.toFixed(1)} s | ${r.events} | ${Math.round(r.eventsPerSecond)} | ${(r.largestWalBytes / MiB).toFixed(1)} MiB | ${(r.databaseBytes / MiB).toFixed(1)} MiB |`;
  console.log(`### WAL bound (${(settings.bound / MiB).toFixed(0)} MiB, ${settings.writers} appends per commit)\n`);
  console.log('| run | time | events | events/s | largest WAL | database |');
  console.log('|---|---|---|---|---|---|');
  console.log(row('unbounded (baseline)', baseline));
  console.log(row('bounded', bounded));
  console.log(`\nthroughput bounded/unbounded: ${report.throughputRatio.toFixed(2)}; WAL under bound: ${report.underBound ? 'yes' : 'NO'}`);
}
process.exitCode = report.underBound ? 0 : 1;
