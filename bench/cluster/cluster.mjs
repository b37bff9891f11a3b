#!/usr/bin/env node
// Scale-out (issue 13, PROTOCOL.md section 12): relay throughput across gateway nodes and
// appends on the replicated JetStream log, against their one-node baselines, in one run
// (DESIGN.md rule 9).
//
//   npm run build && node bench/cluster/cluster.mjs
//   node bench/cluster/cluster.mjs [--rows a,b,c,d] [--pairs 24] [--spread-pairs 24] [--depth 16]
//                                  [--phases ice,sdp] [--warmup 2] [--duration 8]
//                                  [--appends 3000] [--append-warmup 300] [--in-flight 1,100,500]
//                                  [--streams 1000] [--no-appends] [--no-relays]
//                                  [--gateway-cores 0] [--load-core 1] [--nats-core 1] [--store-core 0]
//                                  [--dir DIR] [--json]
//
// Three nats-server (JetStream, auth required, fresh store dirs) on loopback for the whole
// run. Relay rows (bench/cluster/relay.mjs), each on fresh gateway nodes in cluster mode:
// (a) one node; (b) two nodes, every pair split across them; (c) three nodes, a third of the
// pairs on each; (d) one node with c's pairs. Each row: a closed loop of pairs relaying
// 200 B ICE candidates, then 4 KB SDP offers, warm-up then a fixed window. Append rows
// (bench/cluster/append.mjs): SqliteEventStore against JetStreamEventStore R3 at 1, 100 and
// 500 appends in flight, the same 200 B event and number of appends.
//
// Pinning (2 cores): the gateway nodes on --gateway-cores (round robin: with one core they
// share it), the generator and NATS on --load-core / --nats-core, the append child on
// --store-core. A row is valid when the gateways' cores were full, the load core was not,
// little else ran and every verified relay was right; a target is met, missed, or not
// measurable here (three nodes on fewer than three cores cannot show three nodes' total).
//
// Prints a markdown block for bench/RESULTS.md on stdout (JSON with --json), progress on
// stderr. Exits non-zero only when the run broke (NATS or a baseline row failed to run).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPO, assertBuilt, cpuShares, filesystemOf, machineInfo, revision, uptimeLine, watchdog } from '../lib/system.mjs';
import { startNatsCluster } from '../lib/nats-cluster.mjs';
import { ROWS, runRelayRow } from './relay.mjs';
import { comparisons, renderMarkdown } from './report.mjs';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: 'a,b,c,d' },
    pairs: { type: 'string', default: '24' },
    'spread-pairs': { type: 'string', default: '24' },
    depth: { type: 'string', default: '16' },
    phases: { type: 'string', default: 'ice,sdp' },
    warmup: { type: 'string', default: '2' },
    duration: { type: 'string', default: '8' },
    appends: { type: 'string', default: '3000' },
    'append-warmup': { type: 'string', default: '300' },
    'in-flight': { type: 'string', default: '1,100,500' },
    streams: { type: 'string', default: '1000' },
    'no-appends': { type: 'boolean', default: false },
    'no-relays': { type: 'boolean', default: false },
    'gateway-cores': { type: 'string', default: '0' },
    'load-core': { type: 'string', default: '1' },
    'nats-core': { type: 'string', default: '1' },
    'store-core': { type: 'string', default: '0' },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const APP_PASSWORD = 'bench-cluster-password-0123456789';
const list = (value) => value.split(',').map((entry) => entry.trim()).filter(Boolean);
const settings = {
  rows: values['no-relays'] ? [] : list(values.rows),
  pairs: Number(values.pairs),
  spreadPairs: Number(values['spread-pairs']),
  depth: Number(values.depth),
  phases: list(values.phases),
  warmupMs: Number(values.warmup) * 1000,
  durationMs: Number(values.duration) * 1000,
  appends: values['no-appends'] ? 0 : Number(values.appends),
  appendWarmup: Number(values['append-warmup']),
  inFlight: values['no-appends'] ? [] : list(values['in-flight']).map(Number),
  streams: Number(values.streams),
  gatewayCores: list(values['gateway-cores']),
  loadCore: values['load-core'],
  natsCore: values['nats-core'],
  storeCore: values['store-core'],
  replicas: 3,
};
for (const row of settings.rows) if (!ROWS[row]) throw new Error(`unknown row ${row}; known: ${Object.keys(ROWS).join(', ')}`);
for (const phase of settings.phases) if (phase !== 'ice' && phase !== 'sdp') throw new Error(`unknown phase ${phase}: ice or sdp`);
if (settings.spreadPairs % 3 !== 0 && settings.rows.includes('c')) console.error(`note: --spread-pairs ${settings.spreadPairs} does not split evenly over three nodes`);

assertBuilt();
const relaySeconds = settings.rows.length * (settings.phases.length * (settings.warmupMs + settings.durationMs + 3000) / 1000 + 40);
watchdog(relaySeconds + settings.inFlight.length * 2 * 60 + 60);

const children = new Set();
let nats = null;
let scratch = null;
/** The gateway nodes' data dirs: removed on exit, also after their processes were killed. */
const nodesDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-cluster-nodes-'));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  nats?.disposeNow();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  rmSync(nodesDir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

/** A directory on a real disk for the append rows: tmpfs would fake SQLite's fsyncs. */
function appendDirectory() {
  for (const base of values.dir ? [values.dir] : [tmpdir(), join(REPO, 'bench', 'out')]) {
    const fs = filesystemOf(base);
    if (fs.fstype === 'tmpfs' || fs.fstype === 'ramfs') {
      if (values.dir) throw new Error(`${base} is ${fs.fstype}: pick a directory on disk`);
      continue;
    }
    return { path: mkdtempSync(join(base, 'switchyard-bench-cluster-')), fs };
  }
  throw new Error('no directory on a real disk found; pass --dir');
}

/** The append child, pinned; its JSON lines evaluated against the NATS servers' CPU. */
async function runAppends(directory) {
  const child = spawn('taskset', ['-c', settings.storeCore, process.execPath, join(REPO, 'bench/cluster/append.mjs'), JSON.stringify({
    dir: directory.path,
    natsUrls: nats.urls,
    user: nats.user,
    password: nats.password,
    replicas: settings.replicas,
    natsPids: nats.pids(),
    appends: settings.appends,
    warmup: settings.appendWarmup,
    inFlight: settings.inFlight,
    streams: settings.streams,
  })], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const rows = [];
  let finished = false;
  for await (const line of createInterface({ input: child.stdout })) {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    if (parsed.error) throw new Error(`append rows: ${parsed.error}`);
    if (parsed.done) {
      finished = true;
      break;
    }
    const shares = cpuShares(parsed.cpu.before, parsed.cpu.after);
    const [storeCpu, ...natsCpu] = shares.processes;
    const problems = [];
    if (shares.other > 0.15) problems.push(`other CPU ${(shares.other * 100).toFixed(0)} %`);
    if (shares.steal > 0.05) problems.push(`steal ${(shares.steal * 100).toFixed(0)} %`);
    const { cpu, ...rest } = parsed;
    rows.push({ ...rest, storeCpu, natsCpu, otherCpu: shares.other, iowait: shares.iowait, steal: shares.steal, valid: problems.length === 0, problems });
    console.error(`append ${parsed.kind} ×${parsed.inFlight}: ${Math.round(parsed.appendsPerSecond)} appends/s, p99 ${parsed.p99} ms`);
  }
  if (!finished) throw new Error(`append rows: the child exited after ${rows.length} rows without finishing`);
  return rows;
}

const startedAt = new Date();
const machine = machineInfo();
const loadBefore = uptimeLine();
const relayResults = [];
const failures = [];
let appendResults = [];
let appendFailure = null;
let directory = null;
let natsVersion = null;
try {
  console.error('starting 3 nats-server (JetStream, auth)...');
  nats = await startNatsCluster({ size: 3, core: settings.natsCore });
  natsVersion = nats.version;
  for (const row of settings.rows) {
    console.error(`relay row ${ROWS[row].label}...`);
    try {
      const results = await runRelayRow(row, { settings, nats, children, appPassword: APP_PASSWORD, scratchDir: nodesDir });
      relayResults.push(...results);
      for (const result of results) console.error(`  ${result.phase}: ${Math.round(result.relaysPerSecond)} relays/s, p99 ${result.p99} ms${result.valid ? '' : ` (not valid: ${result.problems.join('; ')})`}`);
    } catch (error) {
      failures.push({ row, message: error.message });
      console.error(`  row ${row} failed: ${error.message}`);
    }
  }
  if (settings.inFlight.length > 0) {
    directory = appendDirectory();
    scratch = directory.path;
    try {
      appendResults = await runAppends(directory);
    } catch (error) {
      appendFailure = error.message;
      console.error(error.message);
    }
  }
} finally {
  await nats?.stop();
  nats = null;
}
const loadAfter = uptimeLine();

const report = { startedAt, machine, revision: revision(), natsVersion, settings, loadBefore, loadAfter, relayResults, failures, appendResults, appendFailure, appendDisk: directory?.fs ?? null };
if (values.json) console.log(JSON.stringify({ ...report, comparisons: comparisons(relayResults) }, null, 2));
else console.log(renderMarkdown(report, process.argv.slice(2)));
// Broken: a baseline row (a or d) or the append rows could not run at all. A refused
// cross-node row is a result (written as failed), not a broken run.
const broken = failures.some((failure) => failure.row === 'a' || failure.row === 'd') || appendFailure !== null;
process.exit(broken ? 1 : 0);
