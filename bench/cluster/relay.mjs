// The relay rows of bench/cluster/cluster.mjs: gateway nodes (bench/cluster/node.mjs) on one
// NATS cluster, each pinned, and the raw-socket generator (bench/cluster/relay-load.mjs)
// pinned apart, one fresh set of nodes per row:
//
//   a  one node, both peers of every pair on it (the same-node baseline of b)
//   b  two nodes, every pair's owner on node 1 and its joiner on node 2 (cross-node: each
//      relay goes over the mesh, core NATS)
//   c  three nodes, each holding both members of a third of the pairs (total throughput)
//   d  one node with c's pairs (the baseline of c)

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO, cpuShares } from '../lib/system.mjs';

export const ROWS = {
  a: { nodes: 1, label: 'a: 1 node, pairs on it', place: () => [0, 0] },
  b: { nodes: 2, label: 'b: 2 nodes, owner on 1, joiner on 2', place: () => [0, 1] },
  c: { nodes: 3, label: 'c: 3 nodes, a third of the pairs on each', place: (pair) => [pair % 3, pair % 3] },
  d: { nodes: 1, label: "d: 1 node, c's pairs on it", place: () => [0, 0] },
};

/** Validity thresholds, shares of one core over the window (as bench/ws/relay.mjs). */
export const VALID = { gatewayMin: 0.9, loadCoreMax: 0.95, generatorMax: 0.85, otherMax: 0.1, stealMax: 0.05 };

/** `node <script> <json>` under `taskset -c <core>`, its stdout as JSON lines. */
function spawnPinned(children, core, script, argument) {
  const child = spawn('taskset', ['-c', String(core), process.execPath, join(REPO, script), JSON.stringify(argument)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code))));
  const queue = [];
  let waiting = null;
  createInterface({ input: child.stdout }).on('line', (line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // a library printing: not ours
    }
    if (waiting) {
      const { resolve } = waiting;
      waiting = null;
      resolve(parsed);
    } else queue.push(parsed);
  });
  const nextLine = () =>
    queue.length > 0
      ? Promise.resolve(queue.shift())
      : new Promise((resolve, reject) => {
          waiting = { resolve };
          exited.then((code) => reject(new Error(`${script} exited with ${code} before reporting`)));
        });
  return { child, nextLine, exited };
}

async function stop({ child, exited }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(timer);
}

/**
 * Runs one row; returns its phases evaluated. `children`: the caller's set of live child
 * processes, which its exit handler kills; `scratchDir`: where the nodes' data dirs go (the
 * caller removes it).
 */
export async function runRelayRow(key, { settings, nats, children, appPassword, scratchDir }) {
  const row = ROWS[key];
  const pairs = key === 'c' || key === 'd' ? settings.spreadPairs : settings.pairs;
  const gatewayCores = settings.gatewayCores;
  const cores = Array.from({ length: row.nodes }, (_, index) => gatewayCores[index % gatewayCores.length]);
  const nodes = [];
  try {
    // All at once, as a supervisor would start them: the shared key files' seed race has one winner.
    const started = cores.map((core) =>
      spawnPinned(children, core, 'bench/cluster/node.mjs', { dataDir: mkdtempSync(join(scratchDir, `node-${key}-`)), natsUrls: nats.urls, user: nats.user, password: nats.password, replicas: settings.replicas, appPassword }),
    );
    nodes.push(...started);
    const ready = await Promise.all(started.map((node) => node.nextLine()));
    const placement = Array.from({ length: pairs }, (_, pair) => row.place(pair));
    const natsPids = nats.pids();
    const generator = spawnPinned(children, settings.loadCore, 'bench/cluster/relay-load.mjs', {
      ports: ready.map((node) => node.port),
      placement,
      pids: [...ready.map((node) => node.pid), ...natsPids],
      depth: settings.depth,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      phases: settings.phases,
      appPassword,
      roomPrefix: `bench-${key}-${Date.now().toString(36)}`,
    });
    nodes.push(generator);
    const results = [];
    for (;;) {
      const line = await generator.nextLine();
      if (line.error) throw new Error(line.error);
      if (line.done) break;
      results.push(evaluate(key, line, { pairs, cores, nodeCount: row.nodes, natsCount: natsPids.length, settings }));
    }
    return results;
  } finally {
    for (const node of nodes.reverse()) await stop(node);
  }
}

function evaluate(key, report, { pairs, cores, nodeCount, natsCount, settings }) {
  const shares = cpuShares(report.cpu.before, report.cpu.after);
  const gatewayCpu = shares.processes.slice(0, nodeCount);
  const natsCpu = shares.processes.slice(nodeCount, nodeCount + natsCount);
  const generatorCpu = shares.processes[nodeCount + natsCount];
  const gatewayTotal = gatewayCpu.reduce((sum, value) => sum + value, 0);
  const natsTotal = natsCpu.reduce((sum, value) => sum + value, 0);
  const distinctGatewayCores = new Set(cores).size;
  const loadCoreBusy = generatorCpu + (settings.natsCore === settings.loadCore ? natsTotal : 0);
  const problems = [];
  const pct = (value) => `${(value * 100).toFixed(0)} %`;
  // The gateways must be the bottleneck: their cores nearly full, the load side not.
  if (gatewayTotal < VALID.gatewayMin * distinctGatewayCores) problems.push(`gateways ${pct(gatewayTotal)} < ${pct(VALID.gatewayMin * distinctGatewayCores)} of their ${distinctGatewayCores} core(s)`);
  if (generatorCpu > VALID.generatorMax) problems.push(`generator ${pct(generatorCpu)} > ${pct(VALID.generatorMax)}`);
  if (loadCoreBusy > VALID.loadCoreMax) problems.push(`load core ${settings.loadCore} saturated (generator${settings.natsCore === settings.loadCore ? ' + NATS' : ''} ${pct(loadCoreBusy)})`);
  if (shares.other > VALID.otherMax) problems.push(`other CPU ${pct(shares.other)} > ${pct(VALID.otherMax)}`);
  if (shares.steal > VALID.stealMax) problems.push(`steal ${pct(shares.steal)}`);
  if (report.mismatchCount > 0) problems.push(`${report.mismatchCount} wrong relays, first: ${JSON.stringify(report.mismatches[0])}`);
  if (report.checked === 0) problems.push('no relay verified');
  return {
    row: key,
    label: ROWS[key].label,
    phase: report.phase,
    pairs,
    nodes: nodeCount,
    cores,
    // Each node had a core of its own: what the scaling target presumes.
    ownCores: distinctGatewayCores >= nodeCount,
    relaysPerSecond: report.received / report.seconds,
    received: report.received,
    seconds: report.seconds,
    p50: report.p50,
    p99: report.p99,
    max: report.max,
    checked: report.checked,
    payloadBytes: report.payloadBytes,
    setupMs: report.setupMs,
    gatewayCpu,
    natsCpu,
    generatorCpu,
    otherCpu: shares.other,
    irq: shares.irq,
    steal: shares.steal,
    // CPU per relay barely moves when processes take turns on a shared core: the figure to
    // compare when the nodes could not each have a core.
    gatewayMicrosPerRelay: (gatewayTotal * report.seconds * 1e6) / report.received,
    natsMicrosPerRelay: (natsTotal * report.seconds * 1e6) / report.received,
    valid: problems.length === 0,
    problems,
  };
}
