// Failover (issue 13): how fast the clients of a gateway node killed with -9 are back, each in
// its room, on the other nodes of the cluster.
//
//   taskset -c 1 node bench/cluster/failover.mjs [--clients 1000] [--rounds 2] [--gateway-core 0] [--nats-core 1] [--json]
//
// Two rows, each on fresh gateway nodes (one NATS cluster, so one log, for the whole run): three gateway nodes (bench/cluster/node.mjs, all on
// --gateway-core) on three NATS servers (on --nats-core). `--clients` raw-socket JSON clients
// (this process) open on node B, sign in with an app token (`auth-request`) and each create a
// room. Then node B is killed with SIGKILL, and every client reconnects at once, alternately to
// node A and node C (a load balancer's round robin):
//
//   resume    the client sends `resume {session, since}` as its first frame; it is back at
//             `resumed` (the same peer_id, still the owner of its room, which stayed open)
//   restart   the baseline, what every client had to do before a session could move between
//             nodes: it starts afresh, `welcome`, `auth-request`, and creates its room again
//             (a new peer_id; the old one left its room when its window ended)
//
// The two rows alternate `--rounds` times (a row's place in the run is not its advantage).
// Reported per row: the time from the kill to the last client back, p50/p99/max of the
// per-client time (from the kill), and the clients that failed (a refused resume, an error).
// The clients reconnect without backoff: the figure is the gateways' capacity to take a node's
// clients back, not an SDK's reconnect schedule. Per-address limits are raised out of the way
// (every client comes from 127.0.0.1), as bench/ws/reconnect.mjs does.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { REPO, Histogram, assertBuilt, fmt, machineInfo, revision, uptimeLine, watchdog } from '../lib/system.mjs';
import { startNatsCluster } from '../lib/nats-cluster.mjs';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    'gateway-core': { type: 'string', default: '0' },
    'nats-core': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(values.clients);
const APP_PASSWORD = 'bench-failover-password-0123456789';
/** Every client comes from 127.0.0.1: the per-address limits would measure themselves. */
const LIMITS_OUT_OF_THE_WAY = {
  SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: '100000',
  SWITCHYARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '100000',
  SWITCHYARD_CONNECTION_OPENS_PER_SECOND: '100000',
  SWITCHYARD_RESUME_FAILURES_PER_MINUTE_PER_ADDRESS: '100000',
  SWITCHYARD_MAX_SIGN_INS_IN_FLIGHT_PER_ADDRESS: '100000',
};
const STEP_MS = 30_000;

assertBuilt();
watchdog(600);

const children = new Set();
const scratch = mkdtempSync(join(tmpdir(), 'switchyard-bench-failover-'));
let nats = null;
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  nats?.disposeNow();
  rmSync(scratch, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

/** One gateway node, pinned; resolves with its {port, pid} once it accepts connections. */
function startNode(index) {
  const options = { dataDir: mkdtempSync(join(scratch, `node-${index}-`)), natsUrls: nats.urls, user: nats.user, password: nats.password, replicas: 3, appPassword: APP_PASSWORD, env: LIMITS_OUT_OF_THE_WAY };
  const child = spawn('taskset', ['-c', values['gateway-core'], process.execPath, join(REPO, 'bench/cluster/node.mjs'), JSON.stringify(options)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway node ${index} exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ ...JSON.parse(line), child }));
  });
}

async function stopNode(node) {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((resolve) => node.child.once('exit', resolve));
  node.child.kill('SIGTERM');
  await exited;
}

/** A raw JSON socket: frames in arrival order, and a wait for the first that matches. */
class Client {
  constructor(port) {
    this.frames = [];
    this.waiters = [];
    this.seq = 0;
    this.socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    this.closed = new Promise((resolve) => this.socket.once('close', resolve));
    this.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (typeof frame.seq === 'number' && frame.seq > this.seq) this.seq = frame.seq;
      const waiter = this.waiters.find((candidate) => candidate.match(frame));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      } else this.frames.push(frame);
    });
    this.socket.on('error', () => undefined);
  }

  opened() {
    return new Promise((resolve, reject) => {
      this.socket.once('open', resolve);
      this.socket.once('error', reject);
    });
  }

  next(match, what) {
    const early = this.frames.findIndex(match);
    if (early >= 0) return Promise.resolve(this.frames.splice(early, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${STEP_MS} ms`)), STEP_MS);
      this.waiters.push({ match, resolve: (frame) => (clearTimeout(timer), resolve(frame)) });
    });
  }

  send(frame) {
    this.socket.send(JSON.stringify(frame));
  }
}

/** Opens, signs in and creates a room; returns what a reconnect needs. */
async function signedInWithRoom(port, token, room) {
  const client = new Client(port);
  await client.opened();
  const welcome = await client.next((frame) => frame.event === 'welcome', 'welcome');
  client.send({ event: 'auth-request', data: token, id: 1 });
  const accepted = await client.next((frame) => frame.id === 1, 'auth-accept');
  if (accepted.event !== 'auth-accept') throw new Error(`auth-request refused: ${JSON.stringify(accepted.data)}`);
  client.send({ event: 'room-create-request', data: { room }, id: 2 });
  const created = await client.next((frame) => frame.id === 2, 'room-create-accept');
  if (created.event !== 'room-create-accept') throw new Error(`room-create refused: ${JSON.stringify(created.data)}`);
  return { client, peerId: welcome.data.peer_id, resume: welcome.data.resume };
}

/** One client's way back after the kill; resolves with the ms since the kill, or throws. */
async function comeBack(mode, port, token, session, room, killedAt) {
  const client = new Client(port);
  await client.opened();
  if (mode === 'resume') {
    client.send({ event: 'resume', data: { session: session.resume, since: session.client.seq }, id: 1 });
    const answer = await client.next((frame) => frame.id === 1 || frame.event === 'resumed' || frame.event === 'resume-failed', 'resumed');
    if (answer.event !== 'resumed') throw new Error(`resume: ${answer.event} ${JSON.stringify(answer.data)}`);
    if (answer.data.peer_id !== session.peerId) throw new Error('resumed as another peer');
  } else {
    await client.next((frame) => frame.event === 'welcome', 'welcome');
    client.send({ event: 'auth-request', data: token, id: 1 });
    const accepted = await client.next((frame) => frame.id === 1, 'auth-accept');
    if (accepted.event !== 'auth-accept') throw new Error(`auth-request refused: ${JSON.stringify(accepted.data)}`);
    client.send({ event: 'room-create-request', data: { room: `${room}-again` }, id: 2 });
    const created = await client.next((frame) => frame.id === 2, 'room-create-accept');
    if (created.event !== 'room-create-accept') throw new Error(`room-create refused: ${JSON.stringify(created.data)}`);
  }
  const ms = performance.now() - killedAt;
  client.socket.close();
  return ms;
}

async function runRow(mode, round) {
  const nodes = await Promise.all([0, 1, 2].map((index) => startNode(index)));
  const [a, b, c] = nodes;
  try {
    const response = await fetch(`http://127.0.0.1:${a.port}/app`, { method: 'POST', body: JSON.stringify({ app: 'bench-failover', password: APP_PASSWORD }) });
    const token = (await response.json())?.response?.token;
    if (typeof token !== 'string') throw new Error(`POST /app gave no token: ${response.status}`);
    // Every node must know the others before B's clients count on them.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const setupStarted = performance.now();
    const sessions = [];
    for (let start = 0; start < CLIENTS; start += 100) {
      const batch = Array.from({ length: Math.min(100, CLIENTS - start) }, (_, offset) => signedInWithRoom(b.port, token, `${mode}-${round}-${start + offset}`));
      sessions.push(...(await Promise.all(batch)));
    }
    const setupMs = performance.now() - setupStarted;
    const cut = sessions.map((session) => session.client.closed);
    const killedAt = performance.now();
    b.child.kill('SIGKILL');
    await Promise.all(cut);
    const survivors = [a.port, c.port];
    const outcomes = await Promise.allSettled(sessions.map((session, index) => comeBack(mode, survivors[index % 2], token, session, `${mode}-${round}-${index}`, killedAt)));
    const histogram = new Histogram(60_000);
    const failures = [];
    let last = 0;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') {
        histogram.recordMs(outcome.value);
        if (outcome.value > last) last = outcome.value;
      } else failures.push(String(outcome.reason?.message ?? outcome.reason));
    }
    return { mode, clients: CLIENTS, setupMs, back: histogram.count, lastMs: last, p50: histogram.percentileMs(0.5), p99: histogram.percentileMs(0.99), max: histogram.max, failures: failures.length, firstFailure: failures[0] ?? null };
  } finally {
    for (const node of nodes) await stopNode(node);
  }
}

const startedAt = new Date();
const loadBefore = uptimeLine();
const rows = [];
try {
  nats = await startNatsCluster({ size: 3, core: values['nats-core'] });
  const modes = Array.from({ length: Number(values.rounds) }, () => ['resume', 'restart']).flat();
  for (const [index, mode] of modes.entries()) {
    console.error(`row ${mode}: ${CLIENTS} clients on node B, then kill -9 B...`);
    const row = await runRow(mode, index);
    console.error(`  all back ${fmt.ms(row.lastMs)} ms after the kill (p50 ${fmt.ms(row.p50)}, p99 ${fmt.ms(row.p99)}), ${row.failures} failed`);
    rows.push(row);
  }
} finally {
  await nats?.stop();
  nats = null;
}
const loadAfter = uptimeLine();

if (values.json) {
  console.log(JSON.stringify({ startedAt, rows }, null, 2));
} else {
  const machine = machineInfo();
  const sum = (mode) => rows.filter((row) => row.mode === mode).reduce((total, row) => total + row.lastMs, 0);
  console.log(`## Failover (issue 13) — bench/cluster/failover.mjs, ${startedAt.toISOString()}

- machine: ${machine.nproc} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}; code ${revision()}
- command: \`taskset -c 1 node bench/cluster/failover.mjs ${process.argv.slice(2).join(' ')}\`
- three gateway nodes (dist/, cluster mode, R3) on core ${values['gateway-core']}, three nats-server and this generator on core ${values['nats-core']}; each row on a fresh cluster; ${CLIENTS} clients on node B, each signed in (app token) and owner of a room; B killed with SIGKILL; every client reconnects at once, alternately to A and C, without backoff; per-address limits raised out of the way
- load before: \`${loadBefore}\`
- load after: \`${loadAfter}\`

| row | clients | back | failed | all back after the kill (ms) | p50 ms | p99 ms | max ms |
|---|--:|--:|--:|--:|--:|--:|--:|
${rows.map((row) => `| ${row.mode === 'resume' ? 'resume on A/C (same peer, same room)' : 'restart (baseline: welcome, auth-request, room-create)'} | ${row.clients} | ${row.back} | ${row.failures} | ${fmt.ms(row.lastMs)} | ${fmt.ms(row.p50)} | ${fmt.ms(row.p99)} | ${fmt.ms(row.max)} |`).join('\n')}

- resume / restart, time until all back, over the ${values.rounds} rounds: **${fmt.ratio(sum('resume') / sum('restart'))}**
${rows
  .filter((row) => row.firstFailure)
  .map((row) => `- first ${row.mode} failure: ${row.firstFailure}`)
  .join('\n')}
`);
}
process.exit(rows.some((row) => row.failures > 0) ? 1 : 0);
