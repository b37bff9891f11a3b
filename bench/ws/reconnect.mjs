#!/usr/bin/env node
// Reconnect storm (issue 14): 10,000 SDK clients lose their connections at once and come back.
//
//   npm run build && npm run build:sdk && node bench/ws/reconnect.mjs   (npm run bench:reconnect)
//   node bench/ws/reconnect.mjs [--clients 10000] [--users 10] [--server-core 0] [--load-core 1]
//        [--cap-seconds 60] [--socketio-backoff matched|default] [--scenarios cut,restart,socketio]
//        [--server-node-args="--cpu-prof --cpu-prof-dir=DIR"] [--json]
//
// The real gateway (`node dist/main.js start`, its connection limits raised for N sockets from
// one address) runs pinned to --server-core on a data dir seeded here through the operator
// context (an organisation, --users users, one access token per client). The load, pinned to
// --load-core, is one or more shard processes (bench/ws/reconnect-load.mjs; more than one only
// when the descriptor hard limit cannot hold a shard's three descriptors per client), each with
// its own node:net proxy between its clients and the server (bench/lib/reconnect-proxy.mjs).
// N clients of the real SDK (packages/client/dist, default options) sign in and pair up in rooms.
//
//   1. cut: every proxy resets every connection at once; the gateway keeps running. Measured:
//      cut -> `resumed` per client (p50/p99, to 5,000, to all), failures by reason, the
//      gateway's CPU, and afterwards whether each pair's room still relays.
//   2. restart: the gateway gets SIGTERM (graceful: 1001 to every socket) and is started again
//      on the same data dir, on a new port (this uWS build cannot listen again on a port whose
//      closed sockets are in TIME_WAIT), the proxies pointed at it once it is ready, as a load
//      balancer's health check would. Every resume fails (`restarted`), the SDK signs in again.
//      Measured: SIGTERM -> `restarted` per client, the new process's start and CPU.
//   Baseline in the same run: Socket.IO 4.8 with connectionStateRecovery (bench/ws/reconnect-servers.mjs),
//   N socket.io-client clients in the same room pairs, the same cut through the same proxies:
//   cut -> `connect` with `socket.recovered`.
//
// Prints a markdown block for bench/RESULTS.md (with --json, the figures); progress on stderr.
// Targets are reported, never asserted; the exit code is non-zero only for a broken run.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listenBacklog, planShards, resumeMetrics, settle, spawnPinned, startGateway, tcpCounters } from '../lib/reconnect-children.mjs';
import { markdown, summarize } from '../lib/reconnect-report.mjs';
import { REPO, assertBuilt, machineInfo, revision, sampleCpu, ticksPerSecond, uptimeLine, watchdog } from '../lib/system.mjs';

const DEFAULTS = { clients: 10_000, users: 10, 'server-core': 0, 'load-core': 1, 'cap-seconds': 60 };
const { values } = parseArgs({
  options: {
    ...Object.fromEntries(Object.entries(DEFAULTS).map(([name, value]) => [name, { type: 'string', default: String(value) }])),
    'socketio-backoff': { type: 'string', default: 'matched' },
    /** Which of the three to run (all by default; fewer only to look at one more closely: the comparison needs cut and socketio). */
    scenarios: { type: 'string', default: 'cut,restart,socketio' },
    /** Extra node flags for the gateway, e.g. --server-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof", to see where a storm's time goes. */
    'server-node-args': { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
  },
});
const S = Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name.replace(/-(\w)/g, (_, letter) => letter.toUpperCase()), Number(values[name])]));
for (const [name, value] of Object.entries(S)) if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number`);
if (S.clients < 2 || S.clients % 2 !== 0) throw new Error('--clients must be even and at least 2: clients come in room pairs');
if (S.users < 1) throw new Error('--users must be at least 1');
/**
 * socket.io-client's first reconnect waits reconnectionDelay ± randomizationFactor of it.
 * `matched` spreads it over [0, 500] ms like the SDK's first attempt (full jitter over
 * [0, baseMs 500)), so both servers meet the same arrival curve; `default` keeps the library's
 * 1 000 ms ± 50 % (500-1 500 ms), which would make the baseline's storm gentler by construction.
 */
const SOCKET_IO_BACKOFF = {
  matched: { reconnectionDelay: 250, randomizationFactor: 1 },
  default: {},
};
const socketIoBackoff = SOCKET_IO_BACKOFF[values['socketio-backoff']];
if (!socketIoBackoff) throw new Error('--socketio-backoff is matched or default');
const scenarios = new Set(values.scenarios.split(',').filter(Boolean));
for (const name of scenarios) if (!['cut', 'restart', 'socketio'].includes(name)) throw new Error('--scenarios lists cut, restart, socketio');
const log = (line) => console.error(`[reconnect] ${line}`);

/**
 * The gateway's limits for N sockets from one address (every client comes through the proxy
 * on 127.0.0.1), raised rather than switched off so their checks still run: each storm opens
 * N sockets while up to N old ones may still be up, and every resume of the restart fails.
 */
const gatewayEnv = (clients) => ({
  SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: String(Math.max(1000, 2 * clients + 1000)),
  SWITCHYARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: String(Math.max(100, 2 * clients)),
  SWITCHYARD_CONNECTION_OPENS_PER_SECOND: String(Math.max(1000, 2 * clients)),
  SWITCHYARD_RESUME_FAILURES_PER_MINUTE_PER_ADDRESS: String(Math.min(100_000, Math.max(30, 2 * clients))),
  SWITCHYARD_MAX_SIGN_INS_IN_FLIGHT_PER_ADDRESS: String(Math.max(64, clients)),
});
const KEY_NAMES = {
  SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: 'maxConnectionsPerAddress (1000)',
  SWITCHYARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: 'connectionsPerSecondPerAddress (100)',
  SWITCHYARD_CONNECTION_OPENS_PER_SECOND: 'connectionOpensPerSecond (1000, all addresses)',
  SWITCHYARD_RESUME_FAILURES_PER_MINUTE_PER_ADDRESS: 'resumeFailuresPerMinutePerAddress (30)',
  SWITCHYARD_MAX_SIGN_INS_IN_FLIGHT_PER_ADDRESS: 'maxSignInsInFlightPerAddress (64)',
};
const SDK_SETTINGS =
  'the SDK\'s defaults, none passed: reconnect {baseMs 500, maxMs 30 000, maxAttempts ∞} with full jitter (attempt n waits uniformly in [0, min(30 s, 500 ms·2^(n−1))): ' +
  'the first attempt after a cut in [0, 500 ms), which spreads the storm over half a second), handshakeTimeoutMs 10 000, heartbeat 25 000 / 10 000 ms, requestTimeoutMs 10 000; ' +
  'JSON codec; `ws` 8 as the WebSocket class without permessage-deflate; auth {getToken} (`authorize {method:"oauth2"}`)';

/** The SDK build must exist and be newer than its sources (it bundles src/core and src/protocol too). */
function assertSdkBuilt() {
  const dist = join(REPO, 'packages', 'client', 'dist', 'index.js');
  let built;
  try {
    built = statSync(dist).mtimeMs;
  } catch {
    console.error('packages/client/dist is missing: run `npm run build:sdk` first (npm run bench:reconnect does it for you).');
    process.exit(2);
  }
  const sources = ['packages/client/src', 'src/core', 'src/protocol'].map((dir) => newest(join(REPO, dir)));
  if (Math.max(...sources) > built) log('warning: the SDK sources are newer than packages/client/dist; run `npm run build:sdk` to measure the current SDK.');
}
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

/** Organisation, users and one access token per client, signed by the key the gateway will load. */
async function seed(dataDir, tokenFile) {
  const started = performance.now();
  const { loadConfig } = await import('../../dist/app/config.js');
  const { openOperatorContext } = await import('../../dist/cli/context.js');
  const operator = openOperatorContext(loadConfig({ flags: { data: dataDir }, env: {} }));
  const organisation = await operator.identity.createOrganisation('reconnect bench', 'bench');
  const users = [];
  for (let index = 0; index < S.users; index++) {
    users.push(await operator.identity.addUser({ organisation, username: `storm${index}`, password: 'bench-password-1', groups: [], by: 'bench' }));
  }
  const tokens = [];
  for (let index = 0; index < S.clients; index++) {
    const issued = await operator.identity.tokens.issue('access', { subject: users[index % users.length], ttlSeconds: 3 * 3600, claims: { org: organisation }, now: Date.now() });
    tokens.push(issued.token);
  }
  await operator.close();
  writeFileSync(tokenFile, JSON.stringify(tokens));
  return performance.now() - started;
}

/** Starts the shards of one fleet against `serverPort`; resolves once every client is set up. */
async function startFleet(kind, serverPort, tokenFile, tag) {
  let offset = 0;
  const shards = shardPlan.sizes.map((clients, shard) => {
    const options = { kind, shard, clients, serverPort, tokensFile: tokenFile, tokenOffset: offset, tag, socketIoBackoff };
    offset += clients;
    return spawnPinned({ core: S.loadCore, fdLimit: shardPlan.fdLimit, args: [join(REPO, 'bench', 'ws', 'reconnect-load.mjs'), JSON.stringify(options)], name: `${kind} shard ${shard}` });
  });
  const ready = await Promise.all(shards.map((shard) => shard.nextLine((line) => line.ready)));
  shards.forEach((shard, index) => (shard.pid = ready[index].pid));
  backlogs[kind] = { server: listenBacklog(serverPort), proxy: listenBacklog(ready[0].proxyPort) };
  log(`${kind}: ${S.clients} clients set up in ${(Math.max(...ready.map((line) => line.setupMs)) / 1000).toFixed(1)} s`);
  const ask = (command, match) => Promise.all(shards.map((shard) => (shard.send(command), shard.nextLine(match))));
  return { shards, pids: shards.map((shard) => shard.pid), ask, exit: () => Promise.all(shards.map((shard) => (shard.send({ op: 'exit' }), shard.exited))) };
}

/** What changed between two readings of counters, the unchanged left out. */
const delta = (after, before) => Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]).filter(([, value]) => value !== 0));

/** One cut of every shard's connections; the reports and the CPU samples around it. */
async function cutStorm(serverPid, fleet) {
  await settle(serverPid);
  const tcpBefore = tcpCounters();
  const before = sampleCpu([serverPid, ...fleet.pids]);
  const reports = await fleet.ask({ op: 'cut', capMs: S.capSeconds * 1000 }, (line) => line.phase === 'cut');
  const after = sampleCpu([serverPid, ...fleet.pids]);
  const tcp = delta(tcpCounters(), tcpBefore);
  await settle(serverPid);
  const quiet = sampleCpu([serverPid, ...fleet.pids]);
  return { reports, ref: Math.min(...reports.map((report) => report.cutAt)), cpu: { before, after, quiet }, tcp, sweepMs: Math.max(...reports.map((report) => report.sweepMs)) };
}

const verify = async (fleet) => {
  const results = await fleet.ask({ op: 'verify' }, (line) => line.pairs !== undefined);
  const refused = {};
  for (const result of results) for (const [code, count] of Object.entries(result.refused)) refused[code] = (refused[code] ?? 0) + count;
  return { pairs: results.reduce((sum, r) => sum + r.pairs, 0), delivered: results.reduce((sum, r) => sum + r.delivered, 0), refused };
};

assertBuilt();
assertSdkBuilt();
const shardPlan = planShards(S.clients, log);
// Setup at >= 100 clients/s per fleet, two cuts and a restart each bounded by their caps.
watchdog(300 + (3 * S.clients) / 100 + 4 * S.capSeconds);

const startedAt = new Date().toISOString();
const loadBefore = uptimeLine();
const scratch = mkdtempSync(join(tmpdir(), 'switchyard-reconnect-bench-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const dataDir = join(scratch, 'data');
mkdirSync(dataDir, { mode: 0o700 });
const tokenFile = join(scratch, 'tokens.json');
const tag = Math.random().toString(36).slice(2, 8);
/** Each server's and proxy's accept-queue length, by fleet: a storm's SYNs past them are dropped and sent again by TCP after 1 s, 3 s. */
const backlogs = {};
const env = gatewayEnv(S.clients);
const gatewaySettings = { core: S.serverCore, fdLimit: shardPlan.fdLimit, dataDir, env, nodeArgs: values['server-node-args'].split(' ').filter(Boolean) };

log(`seeding ${S.users} users and ${S.clients} access tokens`);
const seedMs = await seed(dataDir, tokenFile);
log(`seeded in ${(seedMs / 1000).toFixed(1)} s; load in ${shardPlan.sizes.length} shard(s) of ${shardPlan.sizes.join(' + ')}`);


/** Scenarios 1 (cut) and 2 (restart) against the real gateway, on one set of SDK clients. */
async function gatewayScenarios() {
  let gateway = await startGateway({ ...gatewaySettings, port: 0 });
  log(`gateway on port ${gateway.port} (pid ${gateway.pid}), ready in ${gateway.startMs.toFixed(0)} ms`);
  const fleet = await startFleet('switchyard', gateway.port, tokenFile, tag);
  const results = {};
  if (scenarios.has('cut')) {
    const metricsBefore = await resumeMetrics(gateway.port);
    log('cut');
    const storm = await cutStorm(gateway.pid, fleet);
    const metrics = await resumeMetrics(gateway.port);
    const relay = await verify(fleet);
    results.cut = summarize({
      label: 'Switchyard + SDK (resume)', ...storm, success: 'resumed',
      extra: { sweepMs: storm.sweepMs, tcp: storm.tcp, relay, metrics: { ...metrics, resumes: delta(metrics.resumes, metricsBefore.resumes), errors: delta(metrics.errors, metricsBefore.errors) } },
    });
    log(`cut: ${results.cut.back}/${results.cut.clients} resumed, to all ${Math.round(results.cut.toAll)} ms; rooms relaying ${relay.delivered}/${relay.pairs}`);
  }
  if (scenarios.has('restart')) {
    log('restart: SIGTERM');
    await settle(gateway.pid);
    await fleet.ask({ op: 'arm' }, (line) => line.armed);
    const tcpBefore = tcpCounters();
    const stop = await gateway.stopMeasured();
    log(`gateway stopped in ${stop.stopMs.toFixed(0)} ms (${stop.code ?? stop.signal}); starting again on the same data dir`);
    // On a new port: uWS (this build, with or without LIBUS_LISTEN_EXCLUSIVE_PORT) cannot
    // listen on a port whose closed sockets are in TIME_WAIT, for 60 s ("address in use").
    gateway = await startGateway({ ...gatewaySettings, port: 0 });
    const before = sampleCpu([gateway.pid, ...fleet.pids]);
    await fleet.ask({ op: 'upstream', port: gateway.port }, (line) => line.upstream === gateway.port);
    const reports = await fleet.ask({ op: 'wait', capMs: S.capSeconds * 1000 + 60_000 }, (line) => line.phase === 'restart');
    const after = sampleCpu([gateway.pid, ...fleet.pids]);
    const tcp = delta(tcpCounters(), tcpBefore);
    await settle(gateway.pid);
    const quiet = sampleCpu([gateway.pid, ...fleet.pids]);
    results.restart = summarize({
      label: 'Switchyard + SDK (restart)', reports, ref: stop.sigtermAt, success: 'restarted, signed in', cpu: { before, after, quiet },
      extra: { stop, tcp, start: { startMs: gateway.startMs, rebuilt: gateway.rebuilt, startTicks: gateway.startTicks }, downMs: gateway.readyAt - stop.sigtermAt, metrics: await resumeMetrics(gateway.port) },
    });
    log(`restart: ${results.restart.back}/${results.restart.clients} restarted and signed in, to all ${Math.round(results.restart.toAll)} ms from SIGTERM`);
  }
  await fleet.exit();
  await gateway.stop();
  return results;
}

/** The baseline: Socket.IO 4.8 with connection state recovery, the same cut. */
async function socketIoScenario() {
  const server = spawnPinned({ core: S.serverCore, fdLimit: shardPlan.fdLimit, args: [join(REPO, 'bench', 'ws', 'reconnect-servers.mjs'), 'socketio'], name: 'socket.io server' });
  const { port, pid } = await server.nextLine((line) => line.port);
  const fleet = await startFleet('socketio', port, tokenFile, tag);
  log('Socket.IO cut');
  const storm = await cutStorm(pid, fleet);
  const relay = await verify(fleet);
  const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
  const result = summarize({ label: 'Socket.IO 4.8 (recovery)', ...storm, success: 'recovered', extra: { tcp: storm.tcp, relay, stats } });
  log(`Socket.IO cut: ${result.back}/${result.clients} recovered, to all ${Math.round(result.toAll)} ms`);
  await fleet.exit();
  await server.stop();
  return result;
}

const { cut, restart } = scenarios.has('cut') || scenarios.has('restart') ? await gatewayScenarios() : {};
const sioCut = scenarios.has('socketio') ? await socketIoScenario() : undefined;

const socketIoSettings =
  `\`connectionStateRecovery {maxDisconnectionDuration: 120 000, skipMiddlewares: true}\`, websocket transport, no sign-in; socket.io-client 4.8 \`transports: ['websocket']\`, ` +
  (values['socketio-backoff'] === 'matched'
    ? 'reconnectionDelay 250 with randomizationFactor 1 (first attempt in [0, 500] ms, matched to the SDK\'s; the library default 1 000 ± 50 % is `--socketio-backoff default`)'
    : 'the library\'s default backoff (reconnectionDelay 1 000 ± 50 %: first attempt in [500, 1 500] ms)');
const run = {
  startedAt, command: `node bench/ws/reconnect.mjs ${process.argv.slice(2).join(' ')}`.trim(), settings: S, machine: machineInfo(), revision: revision(),
  loadBefore, loadAfter: uptimeLine(), seedMs, shards: shardPlan, ticksPerSecond: ticksPerSecond(), backlogs,
  sdkSettings: SDK_SETTINGS, socketIoSettings,
  gatewayKeys: Object.entries(env).map(([name, value]) => `\`${name}=${value}\` (${KEY_NAMES[name]} by default)`).join(', '),
  cut, sioCut, restart,
};
console.log(values.json ? JSON.stringify(run, null, 2) : markdown(run));
process.exit(0);
