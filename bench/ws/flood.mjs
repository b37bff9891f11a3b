#!/usr/bin/env node
// An anonymous sign-in flood (issue 16, point 2): a control client's ping p99 on an idle
// gateway, then during a flood of --frames (default 100,000) bad `authorize` / `authenticate` /
// `auth-request` / `login` frames from --sockets anonymous sockets (each reconnecting when the
// gateway closes it, 4400, until every frame is written), then after the flooder leaves: the
// time until a window of --window control pings has p99 < 10 ms again. Reports the figures, the
// during/idle ratio, and how much the log and the server's RSS grew.
//
//   npm run build && node bench/ws/flood.mjs [--frames 100000] [--sockets 8] [--window 200] [--json]
//
// The gateway from dist/ runs as a child pinned to --server-core (`taskset`), with its default
// limits; the control client and the flooder run in a child pinned to --generator-core. Data in
// a tmp dir. Loopback only. Roles: (none) orchestrates, `serve` and `generate` are the children.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { Histogram, REPO, assertBuilt, cpuShares, fmt, machineInfo, revision, sampleCpu, uptimeLine, watchdog } from '../lib/system.mjs';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'orchestrate' },
    data: { type: 'string' },
    port: { type: 'string' },
    'server-pid': { type: 'string' },
    frames: { type: 'string', default: '100000' },
    sockets: { type: 'string', default: '8' },
    /** Control pings per p99 window. */
    window: { type: 'string', default: '200' },
    'idle-pings': { type: 'string', default: '2000' },
    'server-core': { type: 'string', default: '0' },
    'generator-core': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const SELF = fileURLToPath(import.meta.url);
const RECOVERED_P99_MS = 10;
/** After the flood, give up waiting for recovery after this long (reported as not recovered). */
const RECOVERY_LIMIT_MS = 300_000;

// ---------------------------------------------------------------- serve (child)
async function serve() {
  const { loadConfig } = await import('../../dist/app/config.js');
  const { Gateway } = await import('../../dist/app/gateway.js');
  const { createLogger } = await import('../../dist/edge/logger.js');
  const config = loadConfig({ flags: { port: '0', host: '127.0.0.1', data: values.data, 'log-level': 'silent' }, env: {} });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
  const report = () => ({ events: gateway.store.readAll().length, rssBytes: process.memoryUsage().rss });
  process.stdout.write(`${JSON.stringify({ port: gateway.port, pid: process.pid, ...report() })}\n`);
  // The orchestrator asks for the log size and RSS by a line on stdin.
  createInterface({ input: process.stdin }).on('line', () => process.stdout.write(`${JSON.stringify(report())}\n`));
  process.once('SIGTERM', () => gateway.stop().finally(() => process.exit(0)));
}

// ---------------------------------------------------------------- generate (child)
const BAD_FRAMES = [
  (i) => ({ event: 'authorize', data: { method: 'oauth2', token: `bad.${i}.token` }, id: i }),
  (i) => ({ event: 'authenticate', data: { method: 'oauth2', token: `bad.${i}.token` }, id: i }),
  (i) => ({ event: 'auth-request', data: { token: `bad.${i}.token` }, id: i }),
  (i) => ({ event: 'login', data: { username: 'nobody', password: `guess-${i}` }, id: i }),
];

function openSocket(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
  });
}

/** The control client: one ping at a time, each answer timed. */
async function controlClient(url) {
  const socket = await openSocket(url);
  let waiting;
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.event === 'pong' && waiting && frame.id === waiting.id) {
      const done = waiting;
      waiting = undefined;
      done.resolve(performance.now() - done.sentAt);
    }
  });
  let id = 0;
  const ping = () =>
    new Promise((resolve, reject) => {
      id += 1;
      waiting = { id, sentAt: performance.now(), resolve };
      socket.send(JSON.stringify({ event: 'ping', id }));
      setTimeout(() => waiting?.id === id && reject(new Error('control ping unanswered after 60 s')), 60_000).unref();
    });
  return { ping, close: () => socket.close() };
}

/** Writes `total` bad sign-in frames over `sockets` sockets, reconnecting whichever the gateway closes. */
function flood(url, total, sockets) {
  let written = 0;
  let closes4400 = 0;
  let refusedUpgrades = 0;
  const frames = BAD_FRAMES.map((make) => JSON.stringify(make(1)));
  return new Promise((resolve) => {
    let active = 0;
    const run = async () => {
      active += 1;
      while (written < total) {
        let socket;
        try {
          socket = await openSocket(url);
        } catch {
          refusedUpgrades += 1;
          await new Promise((resume) => setTimeout(resume, 50));
          continue;
        }
        const closed = new Promise((resume) => socket.once('close', (code) => resume(code)));
        // Bursts of 500, yielding between them, until the gateway closes the socket.
        let open = true;
        closed.then(() => (open = false));
        while (open && written < total) {
          for (let n = 0; n < 500 && written < total; n++, written++) socket.send(frames[written & 3]);
          await new Promise((resume) => setImmediate(resume));
        }
        if (open) socket.close();
        if ((await closed) === 4400) closes4400 += 1;
      }
      active -= 1;
      if (active === 0) resolve({ written, closes4400, refusedUpgrades });
    };
    for (let index = 0; index < sockets; index++) run();
  });
}

async function windowP99(control, pings) {
  const histogram = new Histogram(60_000);
  for (let index = 0; index < pings; index++) histogram.recordMs(await control.ping());
  return { p50: histogram.percentileMs(0.5), p99: histogram.percentileMs(0.99), max: histogram.max };
}

async function generate() {
  const url = `ws://127.0.0.1:${values.port}/ws`;
  const window = Number(values.window);
  const control = await controlClient(url);
  const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

  // Baseline: the same control pings on the idle gateway, in the same run.
  const idle = await windowP99(control, Number(values['idle-pings']));
  emit({ phase: 'idle', ...idle });

  const during = new Histogram(60_000);
  let flooding = true;
  const flooded = flood(url, Number(values.frames), Number(values.sockets)).then((result) => {
    flooding = false;
    return result;
  });
  const started = performance.now();
  while (flooding) during.recordMs(await control.ping());
  const result = await flooded;
  const floodMs = performance.now() - started;
  emit({ phase: 'flood', ...result, floodMs, pings: during.count, p50: during.percentileMs(0.5), p99: during.percentileMs(0.99), max: during.max });

  // After: windows of pings until one has p99 under the target.
  const left = performance.now();
  let recoveredMs = null;
  let last;
  while (performance.now() - left < RECOVERY_LIMIT_MS) {
    last = await windowP99(control, window);
    if (last.p99 < RECOVERED_P99_MS) {
      recoveredMs = performance.now() - left;
      break;
    }
  }
  emit({ phase: 'after', recoveredMs, ...last });
  control.close();
}

// ---------------------------------------------------------------- orchestrate
function child(args, core) {
  const proc = spawn('taskset', ['-c', core, process.execPath, SELF, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout });
  const queue = [];
  const waiters = [];
  lines.on('line', (line) => {
    const parsed = JSON.parse(line);
    const waiter = waiters.shift();
    if (waiter) waiter(parsed);
    else queue.push(parsed);
  });
  const next = () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiters.push(resolve)));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return { proc, next, exited };
}

async function orchestrate() {
  assertBuilt();
  watchdog(900);
  const data = mkdtempSync(join(tmpdir(), 'switchyard-flood-'));
  const server = child(['--role', 'serve', '--data', data], values['server-core']);
  try {
    const ready = await server.next();
    const cpuBefore = sampleCpu([ready.pid]);
    const generator = child(
      ['--role', 'generate', '--port', String(ready.port), '--server-pid', String(ready.pid), '--frames', values.frames, '--sockets', values.sockets, '--window', values.window, '--idle-pings', values['idle-pings']],
      values['generator-core'],
    );
    const idle = await generator.next();
    const flood = await generator.next();
    server.proc.stdin.write('\n');
    const afterFlood = await server.next();
    const after = await generator.next();
    await generator.exited;
    server.proc.stdin.write('\n');
    const end = await server.next();
    const cpu = cpuShares(cpuBefore, sampleCpu([ready.pid]));
    const report = {
      revision: revision(),
      machine: machineInfo(),
      uptime: uptimeLine(),
      idle,
      flood,
      after,
      ratioDuringToIdleP99: flood.p99 / idle.p99,
      ratioAfterToIdleP99: after.p99 / idle.p99,
      log: { atStart: ready.events, afterFlood: afterFlood.events, atEnd: end.events, grownBy: end.events - ready.events },
      rssBytes: { atStart: ready.rssBytes, afterFlood: afterFlood.rssBytes, atEnd: end.rssBytes },
      serverCpu: cpu,
      package: JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version,
    };
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(`anonymous sign-in flood: ${fmt.int(flood.written)} frames over ${values.sockets} sockets in ${fmt.ms(flood.floodMs)} ms (${flood.closes4400} closes 4400, ${flood.refusedUpgrades} upgrades refused)`);
      console.log(`control ping p99: idle ${fmt.ms(idle.p99)} ms, during ${fmt.ms(flood.p99)} ms (x${fmt.ratio(report.ratioDuringToIdleP99)}), after ${fmt.ms(after.p99)} ms`);
      console.log(after.recoveredMs === null ? `not recovered (p99 >= ${RECOVERED_P99_MS} ms) within ${RECOVERY_LIMIT_MS / 1000} s` : `p99 < ${RECOVERED_P99_MS} ms again ${fmt.ms(after.recoveredMs)} ms after the flooder left`);
      console.log(`log grew by ${fmt.int(report.log.grownBy)} events; server RSS ${fmt.int(ready.rssBytes / 2 ** 20)} -> ${fmt.int(afterFlood.rssBytes / 2 ** 20)} MiB`);
      console.log(`server CPU during the run: ${JSON.stringify(cpu)}`);
    }
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    rmSync(data, { recursive: true, force: true });
  }
}

if (values.role === 'serve') await serve();
else if (values.role === 'generate') await generate();
else await orchestrate();
