// Shared by the live-events benches (bench/ws/live-events.mjs, bench/ws/chat-fanout.mjs): the
// pinned children (servers in bench/ws/live-servers.mjs, loads in bench/ws/live-load.mjs), the
// server-side send-loop figures, and the validity checks of a fan-out run (DESIGN.md rule 9).

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { REPO, cpuShares, fmt } from './system.mjs';

export const sorted = (list) => [...list].sort((a, b) => a - b);
export const pct = (list, fraction) => (list.length === 0 ? NaN : sorted(list)[Math.max(0, Math.ceil(list.length * fraction) - 1)]);

/**
 * The descriptor limit for the children: each holds one descriptor per socket (the server C + N,
 * the load C + N), so the soft limit is raised up to the hard limit, which a user cannot raise.
 * Exits (2) with the way out when the hard limit is too low; warns when ephemeral ports are short.
 */
export function fileDescriptorLimit(needed, sockets, log) {
  const hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  const limit = hard === 'unlimited' ? 65536 : Math.min(Number(hard), Math.max(65536, needed));
  if (limit < needed) {
    console.error(
      `file descriptor hard limit is ${hard}, but ${sockets} sockets need ${needed} in each of the server and the load ` +
        `process: raise the hard limit (limits.conf, or \`ulimit -Hn ${needed}\` as root) or ask for fewer sockets`,
    );
    process.exit(2);
  }
  const [portLow, portHigh] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  if (portHigh - portLow < sockets + 1000) log(`warning: only ${portHigh - portLow} ephemeral ports for ${sockets} sockets`);
  return { limit, hard };
}

/**
 * Spawns the servers and loads pinned to their cores, with the raised descriptor limit; every
 * child is killed when this process exits.
 */
export function pinnedChildren({ fdLimit, serverCore, loadCore, serverScript = 'bench/ws/live-servers.mjs', loadScript = 'bench/ws/live-load.mjs' }) {
  const children = new Set();
  process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));
  process.on('SIGINT', () => process.exit(130));

  /** `node <script> ...args` pinned to `core`; its stdout as JSON lines. */
  function spawnPinned(core, script, args) {
    const command = ['-c', 'ulimit -n "$0" && exec "$@"', String(fdLimit), 'taskset', '-c', String(core), process.execPath, join(REPO, script), ...args];
    const child = spawn('sh', command, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    // 'close', not 'exit': it comes after the child's stdout has ended, so after its last line.
    const exited = new Promise((resolve) => child.once('close', (code) => (children.delete(child), resolve(code))));
    const lines = [];
    let wake = () => {};
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        lines.push(JSON.parse(line));
      } catch {
        return; // a library printing: not ours
      }
      wake();
    });
    const nextLine = async () => {
      while (lines.length === 0) {
        const code = await Promise.race([new Promise((resolve) => (wake = () => resolve(undefined))), exited]);
        if (code !== undefined && lines.length === 0) throw new Error(`${script} exited with ${code} before reporting`);
      }
      const line = lines.shift();
      if (line.error) throw new Error(`${script}: ${line.error}`);
      return line;
    };
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    };
    return { nextLine, stop };
  }

  /** A server of `serverScript` (bench/ws/live-servers.mjs) on the server core, once it has said it is ready. */
  async function startServer(kind, ...args) {
    const server = spawnPinned(serverCore, serverScript, [kind, ...args]);
    const ready = await server.nextLine();
    if (!ready.native) throw new Error('uWebSockets.js runs on its JavaScript fallback: figures would be meaningless');
    return { ...server, ...ready };
  }

  /** One run of `loadScript` (bench/ws/live-load.mjs) on the load core: its report line. */
  async function runLoad(options) {
    const load = spawnPinned(loadCore, loadScript, [JSON.stringify(options)]);
    try {
      return await load.nextLine();
    } finally {
      await load.stop();
    }
  }

  return { startServer, runLoad };
}

/**
 * The gateway's switchyard_push_fanout_seconds histogram for one push event (cumulative): the
 * send loop's time per push, measured inside the server.
 */
export async function pushHistogram(port, event) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets = [];
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('switchyard_push_fanout_seconds') || !line.includes(`event="${event}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (line.startsWith('switchyard_push_fanout_seconds_bucket') && le !== undefined) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: value });
    else if (line.startsWith('switchyard_push_fanout_seconds_sum')) sum = value;
    else if (line.startsWith('switchyard_push_fanout_seconds_count')) count = value;
  }
  return { buckets, sum, count };
}

/** Mean (exact) and p50/p99 (the bucket bound they fall in) of the pushes between two readings, in ms. */
export function sendLoopFromHistogram(before, after) {
  const count = after.count - before.count;
  if (count <= 0) return undefined;
  const within = (q) => {
    for (const bucket of after.buckets) {
      const earlier = before.buckets.find((b) => b.le === bucket.le)?.count ?? 0;
      if (bucket.count - earlier >= q * count) return bucket.le * 1000;
    }
    return Infinity;
  };
  return { meanMs: ((after.sum - before.sum) * 1000) / count, p50Ms: within(0.5), p99Ms: within(0.99), exact: false, pushes: count };
}

/** The Socket.IO baseline's own timings of each broadcast's send loop. */
export async function socketIoSendLoops(port) {
  const { sendLoopsMs } = await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
  const ordered = sorted(sendLoopsMs);
  const at = (q) => ordered[Math.min(ordered.length - 1, Math.ceil(q * ordered.length) - 1)];
  return { meanMs: ordered.reduce((a, b) => a + b, 0) / ordered.length, p50Ms: at(0.5), p99Ms: at(0.99), exact: true, pushes: ordered.length };
}

/** CPU shares of the window and the checks every run makes: the load must not peg its core, nothing else may run. */
export function machineChecks(report, consequence, valid) {
  const shares = cpuShares(report.cpu.before, report.cpu.after);
  const [serverCpu, loadCpu] = shares.processes;
  const problems = [];
  if (loadCpu > valid.loadMax) problems.push(`load generator pegged its core (${fmt.pct(loadCpu)} > ${fmt.pct(valid.loadMax)}): ${consequence}`);
  if (shares.other > valid.otherMax) problems.push(`other CPU ${fmt.pct(shares.other)} > ${fmt.pct(valid.otherMax)}`);
  if (shares.steal > valid.stealMax) problems.push(`steal ${fmt.pct(shares.steal)} > ${fmt.pct(valid.stealMax)}`);
  return { shares, serverCpu, loadCpu, problems };
}

/** A fan-out run's figures (live-load.mjs mode `fanout`) and whether the run counts. */
export function evaluateFanOut(label, report, valid) {
  const { shares, serverCpu, loadCpu, problems } = machineChecks(report, "receipt times are the load's, not the server's", valid);
  if (report.missing > 0) problems.push(`${fmt.int(report.missing)} pushes not received within 5 s`);
  if (report.badPushes > 0) problems.push(`${report.badPushes} wrong pushes, first: ${JSON.stringify(report.firstBadPush)}`);
  const seconds = shares.seconds;
  const { cpu, capturedPush, totals, fanouts, firsts, firstBadPush, ...figures } = report;
  // The server idles between updates, so the window's share can stay under the cap while the
  // load is busy through every burst: compare its CPU per update with the fan-out itself.
  const loadMsPerUpdate = (loadCpu * seconds * 1000) / totals.length;
  const loadBound = loadCpu > valid.loadMax || loadMsPerUpdate >= 0.8 * pct(fanouts, 0.5);
  if (loadBound && loadCpu <= valid.loadMax) problems.push(`load busy ${loadMsPerUpdate.toFixed(1)} ms per update, ≥ 80 % of the fan-out p50: receipt times are bounded by the load`);
  return {
    label, ...figures, serverCpu, loadCpu, otherCpu: shares.other, irq: shares.irq, steal: shares.steal,
    updatesPerSecond: totals.length / seconds,
    total: { p50: pct(totals, 0.5), p99: pct(totals, 0.99), max: pct(totals, 1) },
    fanout: { p50: pct(fanouts, 0.5), p99: pct(fanouts, 0.99), max: pct(fanouts, 1) },
    first: { p50: pct(firsts, 0.5), p99: pct(firsts, 0.99) },
    serverMsPerUpdate: (serverCpu * seconds * 1000) / totals.length,
    loadMsPerUpdate,
    loadBound,
    valid: problems.length === 0, problems,
  };
}

/** A native /ws client for a bench's seeding: answers by id, an Extream command's result (not its receipt); `expect` the status, or it rejects. */
export async function seedClient(port) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
  const pending = new Map();
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    const waiter = frame.id === undefined ? undefined : pending.get(frame.id);
    if (!waiter || frame.data?.status === 202) return;
    pending.delete(frame.id);
    waiter(frame);
  });
  let nextId = 1;
  const ask = (event, data, expect) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (frame) => (expect !== undefined && frame.data?.status !== expect ? reject(new Error(`${event} answered ${JSON.stringify(frame).slice(0, 400)}`)) : resolve(frame)));
      socket.send(JSON.stringify({ event, data, id }));
    });
  return { ask, close: () => socket.close() };
}
