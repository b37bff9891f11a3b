#!/usr/bin/env node
// The machine's floor for a durable append (issue 15): how long one fsync / fdatasync of a
// WAL-like file takes on this disk. Every acknowledged append waits for at least one, so if
// the disk's own p99 is above the append-to-ack target (5 ms), no store code can meet it with
// durable acknowledgements on this machine.
//
//   node bench/micro/fsync.mjs [--samples 2000] [--dir DIR]... [--json]
//
// Needs no build. By default it probes the gateway's data dir filesystem (./data, or its
// nearest existing parent) and the system tmp dir, once each when they are on different
// filesystems. For each directory and each mode:
// - `append fdatasync`: write 4 KB at the end of the file, then fdatasync; the file grows, as
//   a WAL does between checkpoints (the size change is metadata fdatasync must also flush).
// - `overwrite fdatasync`: write 4 KB inside an already allocated 8 MB region, then
//   fdatasync; a WAL rewound after a checkpoint rewrites its frames in place, so this is the
//   steady state.
// - `append fsync`: as the first, with fsync (SQLite's default at synchronous=FULL on Linux
//   without SQLITE_FDATASYNC is fdatasync; fsync is the upper bound).
// Samples of the three modes are interleaved, so a slow spell of a shared disk hits all of
// them; each mode gets `samples` syncs. Prints p50 / p99 / p99.9 / max per mode.

import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { REPO, Histogram, filesystemOf, fmt, machineInfo, uptimeLine } from '../lib/system.mjs';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '2000' },
    dir: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
  },
});
const samples = Number(values.samples);
const PAGE = 4096;
const OVERWRITE_REGION = 8 * 1024 * 1024;

/** The data dir the gateway would use from this checkout (config default `data`), or its nearest existing parent. */
function dataDirCandidate() {
  let path = resolve(REPO, 'data');
  while (!existsSync(path)) path = dirname(path);
  return path;
}

function directories() {
  if (values.dir) return values.dir.map((dir) => ({ label: dir, path: dir }));
  const chosen = [];
  const seen = new Set();
  for (const [label, path] of [
    ['data dir', dataDirCandidate()],
    ['tmp dir', tmpdir()],
  ]) {
    const fs = filesystemOf(path);
    const key = `${fs.source} ${fs.target} ${fs.fstype}`;
    if (seen.has(key)) {
      chosen.find((entry) => entry.key === key).label += ` = ${label} (${path})`;
      continue;
    }
    seen.add(key);
    chosen.push({ label: `${label} (${path})`, path, key });
  }
  return chosen;
}

function probe(directory) {
  const fs = filesystemOf(directory.path);
  const scratch = mkdtempSync(join(directory.path, 'switchyard-fsync-'));
  try {
    const appendData = openSync(join(scratch, 'append-datasync.bin'), 'w');
    const appendFull = openSync(join(scratch, 'append-fsync.bin'), 'w');
    const overwrite = openSync(join(scratch, 'overwrite-datasync.bin'), 'w');
    const page = Buffer.alloc(PAGE, 0x5a);
    // Allocate and sync the overwrite region first, so its syncs carry no size change.
    for (let offset = 0; offset < OVERWRITE_REGION; offset += PAGE) writeSync(overwrite, page, 0, PAGE, offset);
    fsyncSync(overwrite);
    const modes = [
      { name: 'append + fdatasync', fd: appendData, sync: fdatasyncSync, position: () => null },
      { name: 'overwrite + fdatasync', fd: overwrite, sync: fdatasyncSync, position: (index) => (index * PAGE) % OVERWRITE_REGION },
      { name: 'append + fsync', fd: appendFull, sync: fsyncSync, position: () => null },
    ].map((mode) => ({ ...mode, histogram: new Histogram(2000) }));
    const started = performance.now();
    for (let index = 0; index < samples; index++) {
      for (const mode of modes) {
        writeSync(mode.fd, page, 0, PAGE, mode.position(index));
        const before = performance.now();
        mode.sync(mode.fd);
        mode.histogram.recordMs(performance.now() - before);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    for (const mode of modes) closeSync(mode.fd);
    return {
      label: directory.label,
      fs,
      seconds,
      modes: modes.map(({ name, histogram }) => ({
        name,
        samples: histogram.count,
        p50: histogram.percentileMs(0.5),
        p99: histogram.percentileMs(0.99),
        p999: histogram.percentileMs(0.999),
        max: histogram.max,
      })),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const machine = machineInfo();
const loadBefore = uptimeLine();
const results = directories().map(probe);
const loadAfter = uptimeLine();

if (values.json) {
  console.log(JSON.stringify({ machine, samples, loadBefore, loadAfter, results }, null, 2));
  process.exit(0);
}

const out = [`### fsync floor, ${new Date().toISOString()}`, ''];
out.push(`- machine: ${machine.nproc} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}`);
out.push(`- command: \`node bench/micro/fsync.mjs --samples ${samples}\`; 4 KB write then one sync, modes interleaved`);
out.push(`- load before: \`${loadBefore}\``);
out.push(`- load after: \`${loadAfter}\``);
out.push('');
out.push('| directory | filesystem | mode | syncs | p50 ms | p99 ms | p99.9 ms | max ms |');
out.push('|---|---|---|--:|--:|--:|--:|--:|');
for (const result of results) {
  for (const mode of result.modes) {
    out.push(
      `| ${result.label} | ${result.fs.source} (${result.fs.fstype}) | ${mode.name} | ${mode.samples} | ${fmt.ms(mode.p50)} | ` +
        `**${fmt.ms(mode.p99)}** | ${fmt.ms(mode.p999)} | ${fmt.ms(mode.max)} |`,
    );
  }
}
const worstP99 = Math.max(...results.flatMap((result) => result.modes.filter((mode) => mode.name.includes('fdatasync')).map((mode) => mode.p99)));
out.push('');
out.push(
  `- worst fdatasync p99: ${fmt.ms(worstP99)} ms: ${worstP99 <= 5 ? 'below' : 'ABOVE'} the 5 ms append-to-ack target, so the disk ` +
    `${worstP99 <= 5 ? 'does not rule it out' : 'alone rules it out with durable acknowledgements'}`,
);
console.log(out.join('\n'));
