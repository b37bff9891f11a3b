// The children of bench/ws/reconnect.mjs: the real gateway process (`dist/main.js start`,
// stopped with SIGTERM and started again on its data dir), the Socket.IO baseline server and
// the load shards, each pinned to its core with the descriptor limit raised, speaking JSON lines.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO, processTicks } from './system.mjs';

/** Epoch milliseconds with sub-millisecond resolution: comparable across the bench's processes. */
export const epochNow = () => performance.timeOrigin + performance.now();

/** Descriptors a shard needs per client: its socket, and the proxy's two halves of it. */
const FDS_PER_SHARD_CLIENT = 3;
/** Descriptors besides sockets (node, stdio, libuv, a few listeners). */
const FD_SLACK = 500;

/**
 * How the load is split so that no process needs more descriptors than the hard limit allows
 * (a user cannot raise it; here it is often 20,000): each shard holds an even number of clients
 * (pairs), its own proxy and three descriptors per client. Exits (2) when the server alone
 * would not fit, or the limit is too low for even one pair.
 */
export function planShards(clients, log) {
  const hardText = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  const hard = hardText === 'unlimited' ? 1_048_576 : Number(hardText);
  const serverNeeds = clients + FD_SLACK;
  if (hard < serverNeeds) {
    console.error(`file descriptor hard limit is ${hard}, but the server needs ${serverNeeds} for ${clients} sockets: raise it (limits.conf, or \`ulimit -Hn ${serverNeeds}\` as root) or ask for fewer clients`);
    process.exit(2);
  }
  const perShard = 2 * Math.floor((hard - FD_SLACK) / FDS_PER_SHARD_CLIENT / 2);
  if (perShard < 2) {
    console.error(`file descriptor hard limit ${hard} leaves no room for a load shard`);
    process.exit(2);
  }
  const count = Math.ceil(clients / perShard);
  const pairs = clients / 2;
  const sizes = Array.from({ length: count }, (_, index) => 2 * (Math.floor(pairs / count) + (index < pairs % count ? 1 : 0)));
  const [portLow, portHigh] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  // Every client holds one ephemeral port towards its proxy and the proxy one towards the server.
  if (portHigh - portLow < clients + 1000) log(`warning: only ${portHigh - portLow} ephemeral ports for ${clients} connections to one destination`);
  return { hard, fdLimit: Math.min(hard, Math.max(serverNeeds, Math.max(...sizes) * FDS_PER_SHARD_CLIENT + FD_SLACK)), sizes };
}

/** Every child is killed when this process exits, however it exits. */
const children = new Set();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));
process.on('SIGINT', () => process.exit(130));

/**
 * Spawns `node <args>` pinned to `core` with the descriptor limit; its stdout as JSON lines
 * (`nextLine(match)` waits for the next one `match` accepts), its stdin for commands.
 */
export function spawnPinned({ core, fdLimit, args, env = process.env, name, onLine = () => {} }) {
  const command = ['-c', 'ulimit -n "$0" && exec "$@"', String(fdLimit), 'taskset', '-c', String(core), process.execPath, ...args];
  const child = spawn('sh', command, { cwd: REPO, env, stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const spawnedAt = epochNow();
  // 'close', not 'exit': it comes after the child's stdout has ended, so after its last line.
  const exited = new Promise((resolve) => child.once('close', (code, signal) => (children.delete(child), resolve({ code, signal, at: epochNow() }))));
  const lines = [];
  let wake = () => {};
  createInterface({ input: child.stdout }).on('line', (line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // not a JSON line: a library printing
    }
    onLine(parsed);
    lines.push(parsed);
    wake();
  });
  async function nextLine(match = () => true) {
    for (;;) {
      const index = lines.findIndex(match);
      if (index !== -1) {
        const [line] = lines.splice(index, 1);
        if (line.error) throw new Error(`${name}: ${line.error}`);
        return line;
      }
      if (lines.some((line) => line.error)) throw new Error(`${name}: ${lines.find((line) => line.error).error}`);
      const gone = await Promise.race([new Promise((resolve) => (wake = () => resolve(undefined))), exited]);
      if (gone !== undefined && !lines.some(match)) throw new Error(`${name} exited (${gone.signal ?? gone.code}) before reporting`);
    }
  }
  const send = (command) => child.stdin.write(`${JSON.stringify(command)}\n`);
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with when the signal went and how it ended. */
  async function stop(graceMs = 15_000) {
    if (child.exitCode !== null || child.signalCode !== null) return { sigtermAt: epochNow(), ...(await exited) };
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const sigtermAt = epochNow();
    child.kill('SIGTERM');
    const end = await exited;
    clearTimeout(timer);
    return { sigtermAt, ...end };
  }
  return { child, spawnedAt, nextLine, send, stop, exited };
}

/** The parent's environment without SWITCHYARD_* variables: the bench's gateway config is its own. */
function cleanEnvironment(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHYARD_')));
  return { ...env, ...extra };
}

/**
 * The real gateway, `node dist/main.js start`, on `dataDir` and `port` (0: a free one), with
 * `env` (SWITCHYARD_* settings). Resolves once its "gateway ready" log line came: port, pid,
 * how long the start took and what the rebuild from the log said.
 */
export async function startGateway({ core, fdLimit, dataDir, port, env, nodeArgs = [] }) {
  const args = [...nodeArgs, join(REPO, 'dist', 'main.js'), 'start', '--host', '127.0.0.1', '--port', String(port), '--data', dataDir, '--log-level', 'info'];
  // Its errors (pino levels 50 and up) go to stderr: a refused start says why there.
  const onLine = (line) => line.level >= 50 && console.error(`[gateway ${line.pid}] ${line.msg}${line.err ? `: ${line.err.message}` : ''}`);
  const gateway = spawnPinned({ core, fdLimit, args, env: cleanEnvironment(env), name: 'gateway', onLine });
  const rebuilt = await gateway.nextLine((line) => line.msg === 'actors rebuilt from the event log');
  const ready = await gateway.nextLine((line) => line.msg === 'gateway ready');
  const readyAt = epochNow();
  return {
    ...gateway,
    pid: ready.pid,
    port: ready.port,
    readyAt,
    startMs: readyAt - gateway.spawnedAt,
    /** CPU the process used to start (ticks at ready), and what it rebuilt. */
    startTicks: processTicks(ready.pid),
    rebuilt: { events: rebuilt.events, actors: rebuilt.actors, ms: rebuilt.ms },
    /** SIGTERM (graceful: every socket closed with 1001, appends committed), with the CPU it spent stopping, as last seen. */
    async stopMeasured() {
      let lastTicks = processTicks(ready.pid);
      const before = lastTicks;
      const poll = setInterval(() => {
        try {
          lastTicks = processTicks(ready.pid);
        } catch {
          clearInterval(poll); // gone
        }
      }, 20);
      const end = await gateway.stop();
      clearInterval(poll);
      return { ...end, stopMs: end.at - end.sigtermAt, stopTicks: lastTicks - before };
    },
  };
}

/** Waits until `pid` has been quiet (at most one tick per 200 ms, three times running), or 20 s. */
export async function settle(pid) {
  let last = processTicks(pid);
  const giveUpAt = performance.now() + 20_000;
  for (let quiet = 0; quiet < 3 && performance.now() < giveUpAt; ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = processTicks(pid);
    quiet = now - last <= 1 ? quiet + 1 : 0;
    last = now;
  }
}

/** The gateway's resume counters, error answers by code, uncaught errors and its socket gauges from /metrics. */
export async function resumeMetrics(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const figures = { resumes: {}, errors: {}, uncaught: 0, detached: NaN, connections: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const label = /"([^"]+)"/.exec(line)?.[1];
    if (line.startsWith('switchyard_resumes_total{')) figures.resumes[label] = value;
    else if (line.startsWith('switchyard_errors_total{')) figures.errors[label] = value;
    else if (line.startsWith('switchyard_uncaught_errors_total')) figures.uncaught += value;
    else if (line.startsWith('switchyard_detached_connections ')) figures.detached = value;
    else if (line.startsWith('switchyard_connections')) figures.connections += value;
  }
  return figures;
}

/**
 * The kernel's TCP counters that tell a storm's latency from a dropped SYN's (Linux retries a
 * SYN after 1 s, then 3 s...): ListenOverflows / ListenDrops (accept queue full), SYN cookies sent, plus failed
 * connection attempts and resets sent. Machine-wide, as /proc/net/netstat and /proc/net/snmp keep them.
 */
export function tcpCounters() {
  const counters = {};
  for (const file of ['/proc/net/netstat', '/proc/net/snmp']) {
    const rows = readFileSync(file, 'utf8').trim().split('\n');
    for (let index = 0; index + 1 < rows.length; index += 2) {
      const names = rows[index].split(/\s+/);
      const numbers = rows[index + 1].split(/\s+/);
      names.forEach((name, column) => {
        if (['TcpExt:ListenOverflows', 'TcpExt:ListenDrops', 'TcpExt:SyncookiesSent', 'Tcp:AttemptFails', 'Tcp:OutRsts', 'TcpExt:TCPTimeouts'].includes(`${names[0]}${name}`)) counters[name] = Number(numbers[column]);
      });
    }
  }
  return counters;
}


/** The accept-queue length a listener on 127.0.0.1:`port` was given (`ss -ltn`'s Send-Q): SYNs past it are dropped. */
export function listenBacklog(port) {
  try {
    const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n')[0];
    return Number(line.trim().split(/\s+/)[2]);
  } catch {
    return NaN; // no ss here
  }
}
