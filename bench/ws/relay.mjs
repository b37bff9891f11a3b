#!/usr/bin/env node
// WebRTC signalling relay (rooms issue): Switchyard (JSON and MessagePack) versus a bare
// uWebSockets.js relay and a Socket.IO 4.8 relay, in one run, with one load generator
// (DESIGN.md rule 9).
//
//   npm run build && npm run bench:relay
//   node bench/ws/relay.mjs [--pairs 25] [--depth 16] [--warmup 2] [--duration 8]
//                           [--open-rate 20000] [--servers uws,socketio,switchyard-json,switchyard-msgpack]
//                           [--profile] [--syscalls] [--no-append] [--json]
//   (servers also: switchyard-mixed, MessagePack <-> JSON pairs: every relay crosses codecs;
//   uws-scan, bare uWS that also scans and copies each frame as Switchyard's relay does: the floor
//   of a validating relay, against which Switchyard's routing and sending is what is left)
//
// For each server: the server pinned to core 0 (`taskset -c 0`), the raw-socket generator
// (relay-load.mjs) to core 1. N pairs of clients meet (Switchyard: app token, auth-request,
// room create, join request, owner approval), then relay in a closed loop, each client
// keeping K relays in flight to its partner: first 200 B ICE candidates
// (`relay-ice-candidate`), then 4 KB SDP offers (`relay-session-description`). Switchyard
// JSON also gets an open-loop phase: ICE relays offered at a fixed rate, latency timed from
// the intended send time. Every phase has a warm-up, then a fixed window whose CPU shares
// come from /proc. A closed-loop row is valid only when the server used nearly a whole
// core, the generator clearly less, little else ran and no relay arrived wrong.
//
// Prints a markdown block and appends it to bench/RESULTS.md (unless --no-append).
// --profile runs every server under `node --cpu-prof` and prints where its time went in
// each window (figures of a profiled run are not comparable, and it is not appended).
// --syscalls counts the server's write and read syscalls in each window with `perf stat`
// (syscall tracepoints: root or perf_event_paranoid <= 1) and adds them per relay to the table.
// About 2.5 minutes.

import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { REPO, assertBuilt, cpuShares, fmt, machineInfo, revision, uptimeLine, watchdog } from '../lib/system.mjs';
import { countSyscalls, syscallRates } from './relay-syscalls.mjs';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '25' },
    depth: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '2' },
    duration: { type: 'string', default: '8' },
    'open-rate': { type: 'string', default: '20000' },
    servers: { type: 'string', default: 'uws,socketio,switchyard-json,switchyard-msgpack' },
    'server-core': { type: 'string', default: '0' },
    'generator-core': { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    syscalls: { type: 'boolean', default: false },
    'no-append': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

/** Validity thresholds, as shares of one core over the window (as bench/ws/ping.mjs). */
const VALID = { serverMin: 0.9, generatorMax: 0.85, otherMax: 0.1, stealMax: 0.05, openDeliveredMin: 0.99 };
/**
 * Issue 15's targets, as ratios of server CPU per relay (the rooms issue's were 0.7 and 1.5 for
 * ICE, 0.6 and 2.8 for SDP, in msg/s, for JSON only).
 */
const TARGETS = {
  'switchyard-json': { ice: { vsUws: 0.85, vsSocketIo: 2.0 }, sdp: { vsUws: 0.9, vsSocketIo: 3.0 } },
  'switchyard-msgpack': { ice: { vsUws: 0.8 }, sdp: { vsUws: 0.8 } },
  openP99Ms: 5,
};
const APP_PASSWORD = 'bench-relay-password-0123456789';

const settings = {
  pairs: Number(values.pairs),
  depth: Number(values.depth),
  warmupMs: Number(values.warmup) * 1000,
  durationMs: Number(values.duration) * 1000,
  openRate: Number(values['open-rate']),
  serverCore: values['server-core'],
  generatorCore: values['generator-core'],
};
const targets = values.servers.split(',').map((name) => name.trim());
const TARGET_SPEC = {
  uws: { server: 'uws', codec: 'json', label: 'bare uWS relay' },
  'uws-scan': { server: 'uws', kind: 'uws-scan', codec: 'json', label: 'bare uWS + JSON scan and copy' },
  socketio: { server: 'socketio', codec: 'json', label: 'Socket.IO 4.8 relay' },
  'switchyard-json': { server: 'switchyard', codec: 'json', label: 'Switchyard JSON' },
  'switchyard-msgpack': { server: 'switchyard', codec: 'msgpack', label: 'Switchyard MessagePack' },
  'switchyard-mixed': { server: 'switchyard', codec: 'mixed', label: 'Switchyard MessagePack <-> JSON' },
};
for (const name of targets) if (!TARGET_SPEC[name]) throw new Error(`unknown server ${name}; known: ${Object.keys(TARGET_SPEC).join(', ')}`);

assertBuilt();
const phasesPerRun = (name) => (name === 'switchyard-json' && settings.openRate > 0 ? 3 : 2);
// Each phase: warm-up, window, drain (an open loop's may take 20 s); plus start-up and setup.
watchdog(targets.reduce((sum, name) => sum + phasesPerRun(name) * (settings.warmupMs + settings.durationMs + 3000) / 1000 + 45, 0));

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

/** `node [nodeArgs] <script> ...args` pinned to `core`, its stdout as JSON lines. */
function spawnPinned(core, script, args, nodeArgs = []) {
  const child = spawn('taskset', ['-c', core, process.execPath, ...nodeArgs, join(REPO, script), ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code))));
  const lines = createInterface({ input: child.stdout });
  const queue = [];
  let waiting = null;
  lines.on('line', (line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // not ours (a library printing): ignore
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

async function run(name, profileDir) {
  const spec = TARGET_SPEC[name];
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`] : [];
  const server = spawnPinned(settings.serverCore, 'bench/ws/relay-servers.mjs', [spec.kind ?? spec.server, APP_PASSWORD], nodeArgs);
  const { port, native, pid } = await server.nextLine();
  if (!native) throw new Error('uWebSockets.js runs on its JavaScript fallback: figures would be meaningless');
  const counter = syscallDir ? countSyscalls(pid, join(syscallDir, `${name}.csv`), children) : null;
  const phases = [{ kind: 'ice' }, { kind: 'sdp' }];
  if (name === 'switchyard-json' && settings.openRate > 0) phases.push({ kind: 'open', body: 'ice', rate: settings.openRate });
  const generator = spawnPinned(settings.generatorCore, 'bench/ws/relay-load.mjs', [
    JSON.stringify({
      port,
      serverPid: pid,
      server: spec.server,
      codec: spec.codec,
      pairs: settings.pairs,
      depth: settings.depth,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      phases,
      appPassword: APP_PASSWORD,
    }),
  ]);
  const rows = [];
  try {
    for (;;) {
      const line = await generator.nextLine();
      if (line.error) throw new Error(`${name}: ${line.error}`);
      if (line.done) break;
      rows.push({ ...evaluate(name, line), windowMicros: line.windowMicros });
    }
  } finally {
    await stop(generator);
    if (counter) {
      counter.child.kill('SIGINT');
      await counter.exited;
    }
    await stop(server);
  }
  if (counter) {
    for (const row of rows) {
      const rates = syscallRates(counter, row.windowMicros);
      row.syscalls = rates && { writesPerRelay: rates.writesPerSecond / row.msgPerSecond, readsPerRelay: rates.readsPerSecond / row.msgPerSecond };
    }
  }
  if (nodeArgs.length > 0) {
    for (const row of rows) row.profile = summariseProfile(join(profileDir, name), row.windowMicros);
  }
  return rows;
}

function evaluate(name, report) {
  const spec = TARGET_SPEC[name];
  const shares = cpuShares(report.cpu.before, report.cpu.after);
  const [serverCpu, generatorCpu] = shares.processes;
  const open = report.phase.startsWith('open');
  const problems = [];
  if (!open && serverCpu < VALID.serverMin) problems.push(`server CPU ${fmt.pct(serverCpu)} < ${fmt.pct(VALID.serverMin)}`);
  if (generatorCpu > VALID.generatorMax) problems.push(`generator CPU ${fmt.pct(generatorCpu)} > ${fmt.pct(VALID.generatorMax)}`);
  if (shares.other > VALID.otherMax) problems.push(`other CPU ${fmt.pct(shares.other)} > ${fmt.pct(VALID.otherMax)}`);
  if (shares.steal > VALID.stealMax) problems.push(`steal ${fmt.pct(shares.steal)} > ${fmt.pct(VALID.stealMax)}`);
  if (report.mismatchCount > 0) problems.push(`${report.mismatchCount} wrong relays, first: ${JSON.stringify(report.mismatches[0])}`);
  if (report.checked === 0) problems.push('no relay verified');
  if (open && report.received < VALID.openDeliveredMin * report.sentInWindow) {
    problems.push(`server fell behind: delivered ${fmt.int(report.received)} in the window of ${fmt.int(report.sentInWindow)} offered`);
  }
  if (open && report.undelivered > 0) problems.push(`${fmt.int(report.undelivered)} relays still undelivered 20 s after the window (percentiles are of the delivered ones)`);
  return {
    name,
    label: spec.label,
    server: spec.server,
    codec: spec.codec,
    phase: report.phase,
    body: report.body,
    msgPerSecond: report.received / report.seconds,
    megabytesPerSecond: report.bytesReceived / report.seconds / 1e6,
    received: report.received,
    seconds: report.seconds,
    p50: report.p50,
    p99: report.p99,
    max: report.max,
    checked: report.checked,
    frameBytes: report.frameBytes,
    rate: report.rate,
    sentInWindow: report.sentInWindow,
    undelivered: report.undelivered,
    sendLagP50: report.sendLagP50,
    sendLagP99: report.sendLagP99,
    setupMs: report.setupMs,
    serverCpu,
    // CPU time the server spent per relay: it barely moves when another process takes
    // turns on the server's core, so it is the figure to compare on a busy machine.
    serverMicrosPerMessage: (serverCpu * report.seconds * 1e6) / report.received,
    generatorCpu,
    otherCpu: shares.other,
    irq: shares.irq,
    steal: shares.steal,
    valid: problems.length === 0,
    problems,
  };
}

// ---------------------------------------------------------------- profile summary

/**
 * Self time by function and by file in the .cpuprofile of one server run, counting only
 * samples inside `[from, to]` (µs on the monotonic clock, which V8's profile timestamps use
 * on Linux) and leaving out `(idle)`: shares of the time the server was busy in the window.
 */
function summariseProfile(directory, [from, to]) {
  let files;
  try {
    files = readdirSync(directory).filter((file) => file.endsWith('.cpuprofile'));
  } catch {
    return null;
  }
  if (files.length === 0) return null;
  const byFunction = new Map();
  const byFile = new Map();
  let total = 0;
  let idle = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(directory, file), 'utf8'));
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    let at = profile.startTime;
    profile.samples.forEach((id, index) => {
      const delta = profile.timeDeltas[index] ?? 0;
      at += delta;
      if (at < from || at > to) return;
      const { callFrame } = nodes.get(id);
      if (callFrame.functionName === '(idle)') {
        idle += delta;
        return;
      }
      const url = callFrame.url.replace(/^file:\/\//, '');
      const path = url.startsWith(REPO) ? relative(REPO, url) : url;
      const key = `${callFrame.functionName || '(anonymous)'}${path ? ` ${path}:${callFrame.lineNumber + 1}` : ''}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + delta);
      const fileKey = path ? path.replace(/node_modules\/((@[^/]+\/)?[^/]+)\/.*/, 'node_modules/$1') : callFrame.functionName || '(native)';
      byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + delta);
      total += delta;
    });
  }
  if (total === 0) return null;
  const top = (map, count) => [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, micros]) => ({ key, share: micros / total }));
  return { busyShare: total / (total + idle), functions: top(byFunction, 20), files: top(byFile, 12) };
}

// ---------------------------------------------------------------- the run

const startedAt = new Date();
const machine = machineInfo();
const loadBefore = uptimeLine();
const profileRoot = values.profile ? mkdtempSync(join(tmpdir(), 'switchyard-relay-prof-')) : null;
const syscallDir = values.syscalls ? mkdtempSync(join(tmpdir(), 'switchyard-relay-syscalls-')) : null;
const results = [];
/** A server that fails (setup refused, connection closed, wrong frames in setup) is reported, and the others still run. */
const failures = [];
for (const name of targets) {
  try {
    results.push(...(await run(name, profileRoot)));
  } catch (error) {
    failures.push({ name, message: error.message });
    console.error(`${name} failed: ${error.message}`);
  }
}
const loadAfter = uptimeLine();
if (profileRoot) rmSync(profileRoot, { recursive: true, force: true });
if (syscallDir) rmSync(syscallDir, { recursive: true, force: true });

const find = (name, phase) => results.find((result) => result.name === name && result.phase === phase);
const comparisons = [];
for (const name of ['uws-scan', 'switchyard-json', 'switchyard-msgpack', 'switchyard-mixed']) {
  for (const body of ['ice', 'sdp']) {
    const ours = find(name, body);
    if (!ours) continue;
    // Against uws-scan: what routing and sending cost Switchyard on top of the scan's floor.
    const baselines = name === 'switchyard-json' ? [['uws', 'vsUws'], ['uws-scan', 'vsScanFloor'], ['socketio', 'vsSocketIo']] : [['uws', 'vsUws'], ['socketio', 'vsSocketIo']];
    for (const [against, key] of baselines) {
      const base = find(against, body);
      if (!base) continue;
      const target = TARGETS[name]?.[body][key];
      const cpuRatio = base.serverMicrosPerMessage / ours.serverMicrosPerMessage;
      comparisons.push({
        name,
        body,
        against,
        ratio: ours.msgPerSecond / base.msgPerSecond,
        cpuRatio,
        target,
        met: target === undefined ? undefined : cpuRatio >= target,
        valid: ours.valid && base.valid,
      });
    }
  }
}
const openRow = results.find((result) => result.phase.startsWith('open'));
const openVerdict = openRow ? { p99: openRow.p99, target: TARGETS.openP99Ms, met: openRow.p99 <= TARGETS.openP99Ms, valid: openRow.valid } : null;

if (values.json) {
  console.log(JSON.stringify({ startedAt, machine, settings, loadBefore, loadAfter, results, failures, comparisons, openVerdict }, null, 2));
  process.exit(0);
}

const command =
  `node bench/ws/relay.mjs --pairs ${settings.pairs} --depth ${settings.depth} --warmup ${settings.warmupMs / 1000} ` +
  `--duration ${settings.durationMs / 1000} --open-rate ${settings.openRate} --servers ${targets.join(',')}${values.profile ? ' --profile' : ''}` +
  `${values.syscalls ? ' --syscalls' : ''}`;
// Frame sizes as Switchyard JSON clients send them (peer ids, and so `to`, differ in length by server).
const framesOf = (body) => (find('switchyard-json', body) ?? results.find((result) => result.body === body))?.frameBytes;
const sample = results.find((result) => result.frameBytes);
const ice = framesOf('ice');
const sdp = framesOf('sdp');
/** The generator's histograms stop at 2 s: a value there means "2 s or more". */
const latency = (value) => (value >= 2000 ? '≥ 2000' : fmt.ms(value));
const phaseLabel = (result) =>
  result.phase === 'ice' ? 'ICE 200 B' : result.phase === 'sdp' ? 'SDP 4 KB' : `ICE open loop @ ${fmt.int(result.rate)}/s`;
const out = [];
out.push(`## Relay (rooms issue) — bench:relay, ${startedAt.toISOString()}${values.profile ? ' (PROFILED: figures not comparable)' : ''}`);
out.push('');
out.push(`- machine: ${machine.nproc} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}; code ${revision()}`);
out.push(`- command: \`${command}\` (\`npm run build && npm run bench:relay\` runs this with the defaults)`);
out.push(
  `- setup: server \`taskset -c ${settings.serverCore}\`, generator \`taskset -c ${settings.generatorCore}\` (raw net.Socket client, ` +
    `pre-masked frames); ${settings.pairs} pairs = ${settings.pairs * 2} connections, one room per pair (Switchyard: app token, ` +
    `auth-request, create, join request, owner approval); closed loop: each client keeps ${settings.depth} relays in flight to its ` +
    `partner, each relay received releases one back; ${settings.warmupMs / 1000} s warm-up, ${settings.durationMs / 1000} s window per phase; loopback`,
);
if (sample) {
  out.push(
    `- frames sent (payload, JSON): ICE \`relay-ice-candidate\` ${ice?.sentPayload} B with a ${ice?.bodyJson} B \`ice_candidate\`; ` +
      `SDP \`relay-session-description\` ${sdp?.sentPayload} B with a ${sdp?.bodyJson} B \`session_description\` (Chrome-style audio+video offer, CRLF)`,
  );
}
out.push(
  '- servers: bare uWS forwards each frame byte for byte to the socket paired with it (no decode); Socket.IO 4.8 (`ws` transport only) ' +
    'decodes the event and emits `ice-candidate`/`session-description` {room, peer_id, body} to the socket named by `to`; ' +
    'Switchyard runs its default configuration with the relay budgets raised out of the way (SWITCHYARD_RELAY_*_PER_SECOND=1000000)',
);
out.push('- latency: one way, sender\'s write to the partner\'s read, both in the generator; open loop timed from the intended send time');
out.push(`- load before: \`${loadBefore}\``);
out.push(`- load after: \`${loadAfter}\``);
out.push('');
// --syscalls adds two columns: the server's write and read syscalls per relay delivered.
const syscallHead = syscallDir ? ' write syscalls/relay | read syscalls/relay |' : '';
const syscallCells = (result) =>
  !syscallDir ? '' : result.syscalls ? ` ${result.syscalls.writesPerRelay.toFixed(3)} | ${result.syscalls.readsPerRelay.toFixed(3)} |` : ' — | — |';
out.push(`| server | phase | msg/s | MB/s in | server µs/msg |${syscallHead} p50 ms | p99 ms | max ms | verified | server CPU | generator CPU | other CPU | irq | steal | valid |`);
out.push(`|---|---|--:|--:|--:|${syscallDir ? '--:|--:|' : ''}--:|--:|--:|--:|--:|--:|--:|--:|--:|---|`);
for (const result of results) {
  out.push(
    `| ${result.label} | ${phaseLabel(result)} | ${fmt.int(result.msgPerSecond)} | ${result.megabytesPerSecond.toFixed(1)} | ` +
      `${result.serverMicrosPerMessage.toFixed(2)} |${syscallCells(result)} ${latency(result.p50)} | ${latency(result.p99)} | ${fmt.ms(result.max)} | ${fmt.int(result.checked)} | ` +
      `${fmt.pct(result.serverCpu)} | ${fmt.pct(result.generatorCpu)} | ${fmt.pct(result.otherCpu)} | ${fmt.pct(result.irq)} | ${fmt.pct(result.steal)} | ` +
      `${result.valid ? 'yes' : `no: ${result.problems.join('; ')}`} |`,
  );
}
for (const { name, message } of failures) out.push(`| ${TARGET_SPEC[name].label} | — | FAILED: ${message} |${'|'.repeat(syscallDir ? 14 : 12)}`);
out.push('');
const allValid = failures.length === 0 && results.every((result) => result.valid);
out.push(
  `- run: ${allValid ? '**valid**' : '**NOT valid** (see the table): figures for orientation only; `server µs/msg` and its ratios move least with outside load'}`,
);
const againstLabel = { uws: 'bare uWS', 'uws-scan': 'bare uWS + JSON scan and copy', socketio: 'Socket.IO' };
for (const comparison of comparisons) {
  const targetText =
    comparison.target === undefined ? '' : ` (target ≥ ${comparison.target.toFixed(comparison.target >= 1 ? 1 : 2)}: ${comparison.met ? 'met' : 'missed'})`;
  out.push(
    `- ${TARGET_SPEC[comparison.name].label}, ${comparison.body === 'ice' ? 'ICE 200 B' : 'SDP 4 KB'} / ${againstLabel[comparison.against]} = ` +
      `**${fmt.ratio(comparison.cpuRatio)}** in server CPU per relay${targetText}; ${fmt.ratio(comparison.ratio)} in msg/s` +
      `${comparison.valid ? '' : ' — not valid, see table'}`,
  );
}
if (openRow) {
  out.push(
    `- open loop, Switchyard JSON ICE at ${fmt.int(openRow.rate)} msg/s offered: delivered ${fmt.int(openRow.msgPerSecond)} msg/s, ` +
      `p50 ${latency(openRow.p50)} ms, **p99 ${latency(openRow.p99)} ms** (target ≤ ${TARGETS.openP99Ms} ms: ${openVerdict.met ? 'met' : 'missed'}` +
      `${openRow.valid ? '' : '; not valid, see table'}); the generator's own send lag behind schedule (included): ` +
      `p50 ${fmt.ms(openRow.sendLagP50)} ms, p99 ${fmt.ms(openRow.sendLagP99)} ms; server CPU ${fmt.pct(openRow.serverCpu)}`,
  );
}
out.push(
  `- valid when: closed loop server ≥ ${fmt.pct(VALID.serverMin)} of a core, generator ≤ ${fmt.pct(VALID.generatorMax)}, ` +
    `other processes ≤ ${fmt.pct(VALID.otherMax)}, steal ≤ ${fmt.pct(VALID.stealMax)} (shares of one core over the window; irq is ` +
    `loopback TCP softirq time charged to neither), every verified relay right (event, room, partner's peer_id, body, order; every ` +
    `other relay of the exact verified size); open loop: the same but no server minimum, and ≥ ${fmt.pct(VALID.openDeliveredMin)} of the offered relays delivered`,
);
for (const { label, profile, ...row } of results) {
  if (!profile) continue;
  out.push('');
  out.push(
    `Profile of ${label}, ${phaseLabel(row)}: self time of the profile's samples in the window, as shares of the non-idle ones ` +
      `(${fmt.pct(profile.busyShare)} of them; \`(program)\` is native code outside JavaScript, such as uWS's receive path; a native call ` +
      'made from JavaScript, such as `ws.send`, counts as its caller\'s):',
  );
  out.push('');
  out.push('| share | function |');
  out.push('|--:|---|');
  for (const { key, share } of profile.functions) out.push(`| ${(share * 100).toFixed(1)} % | \`${key}\` |`);
  out.push('');
  out.push('| share | file |');
  out.push('|--:|---|');
  for (const { key, share } of profile.files) out.push(`| ${(share * 100).toFixed(1)} % | \`${key}\` |`);
}
const block = out.join('\n');
console.log(block);
if (!values['no-append'] && !values.profile) {
  appendFileSync(join(REPO, 'bench', 'RESULTS.md'), `\n${block}\n`);
  console.error('appended to bench/RESULTS.md');
}
