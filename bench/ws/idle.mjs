// Memory per idle authenticated socket (issue 15 target: <= 4 KB RSS each).
//
//   npm run build && node --expose-gc bench/ws/idle.mjs [sockets=10000] [--dist DIR] [--again] [--snapshot DIR]
//
// `--dist DIR` runs the gateway from another build (a copy of dist/) for before/after runs.
// `--again` then opens as many sockets a second time and reports what those cost: the first
// batch's figure also carries what the storm leaves grown for good (V8's young generation,
// malloc arenas, SQLite's page caches), the second's is closer to what one more idle socket
// holds (the gateway then holds 2N sockets: mind `ulimit -n`). `--snapshot DIR` also writes a
// V8 heap snapshot before and after the sockets (diff them by constructor to see what each
// socket holds on the heap; slow: use ~1,000 sockets).
//
// This process runs the gateway (from dist/, data in a temporary directory, an app password
// set) and measures its own RSS after a full GC, before and after a child process opens N
// raw WebSocket connections that each complete Chat Signal's `auth-request` with an app
// token. Reports (after - before) / N. The GC before each reading keeps garbage from the
// connection storm (log appends, tokens) out of the figure: what is left is what idle
// sockets hold. Loopback only; bounded in time.

import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { REPO, assertBuilt, machineInfo, uptimeLine } from '../lib/system.mjs';

const PASSWORD = 'bench-password-0123456789';

function maskedText(text) {
  const payload = Buffer.from(text);
  const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([header, mask, Buffer.from(payload.map((byte, index) => byte ^ mask[index & 3]))]);
}

/** The client side: opens `count` sockets, authenticates each, reports, then holds them. */
async function client(port, count, token) {
  const authFrame = maskedText(JSON.stringify({ event: 'auth-request', data: token }));
  const sockets = [];
  const open = () =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let seen = '';
      let upgraded = false;
      socket.on('connect', () =>
        socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
      );
      socket.on('data', (chunk) => {
        seen += chunk.toString('latin1');
        if (!upgraded && seen.includes('\r\n\r\n')) {
          upgraded = true;
          socket.write(authFrame);
        }
        if (seen.includes('auth-accept')) {
          seen = '';
          resolve();
        } else if (seen.includes('auth-reject') || seen.includes('"error"')) {
          // A refused sign-in would otherwise leave the bench waiting for ever.
          reject(new Error(`sign-in refused: ${seen.slice(seen.indexOf('{'), seen.indexOf('{') + 300)}`));
        }
      });
      socket.on('error', reject);
      sockets.push(socket);
    });
  for (let index = 0; index < count; index += 200) await Promise.all(Array.from({ length: Math.min(200, count - index) }, open));
  process.send({ authenticated: sockets.length });
  process.on('message', () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
}

/** The client's report; a client that dies first (a refused sign-in, out of file descriptors) fails the run. */
const reported = (child) =>
  new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the client exited (${code}) before reporting: see its error above`)));
  });

if (process.argv[2] === 'client') {
  await client(Number(process.argv[3]), Number(process.argv[4]), process.argv[5]);
} else {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { dist: { type: 'string' }, snapshot: { type: 'string' }, again: { type: 'boolean', default: false } } });
  const SOCKETS = Number(positionals[0] ?? 10_000);
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  const dist = values.dist ? pathToFileURL(values.dist).href : pathToFileURL(join(REPO, 'dist')).href;
  if (!values.dist) assertBuilt();
  const { loadConfig } = await import(`${dist}/app/config.js`);
  const { Gateway } = await import(`${dist}/app/gateway.js`);
  const { createLogger } = await import(`${dist}/edge/logger.js`);
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-idle-'));
  const config = loadConfig({
    flags: { port: '0', data: dataDir },
    env: {
      SWITCHYARD_APP_PASSWORD: PASSWORD,
      SWITCHYARD_LOG_LEVEL: 'warn',
      SWITCHYARD_AUTH_DEADLINE_SECONDS: '0',
      // Every bench socket comes from 127.0.0.1: the per-address storm limits would refuse most.
      SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: '0',
      SWITCHYARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '0',
      SWITCHYARD_CONNECTION_OPENS_PER_SECOND: '0',
      // ...and sign-ins in flight per address (64 by default) would refuse most of a group of 200.
      SWITCHYARD_MAX_SIGN_INS_IN_FLIGHT_PER_ADDRESS: '1000000',
    },
  });
  const gateway = await Gateway.start({ config, logger: createLogger('warn') });
  const { response } = await (
    await fetch(`http://127.0.0.1:${gateway.port}/app`, { method: 'POST', body: JSON.stringify({ app: 'idle', password: PASSWORD }) })
  ).json();
  const settledRss = async () => {
    for (let round = 0; round < 3; round++) {
      global.gc();
      await sleep(300);
    }
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  };
  /** Where the process's memory is, read right after `settledRss`: V8's heap by space, and the rest. */
  const breakdown = () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    const usage = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, { used: space.space_used_size, committed: space.physical_space_size }]));
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), rssShmem: kb('RssShmem'), heapUsed: usage.heapUsed, heapCommitted: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers, spaces };
  };
  const before = await settledRss();
  const partsBefore = breakdown();
  const heapBefore = process.memoryUsage().heapUsed;
  if (values.snapshot) writeHeapSnapshot(join(values.snapshot, 'idle-before.heapsnapshot'));
  const started = Date.now();
  const child = fork(new URL(import.meta.url).pathname, ['client', String(gateway.port), String(SOCKETS), response.token]);
  const { authenticated } = await reported(child);
  const openMs = Date.now() - started;
  const after = await settledRss();
  const partsAfter = breakdown();
  const heapAfter = process.memoryUsage().heapUsed;
  if (values.snapshot) writeHeapSnapshot(join(values.snapshot, 'idle-after.heapsnapshot'));
  const perSocket = (after - before) / SOCKETS;
  const per = (bytes) => `${(bytes / SOCKETS / 1024).toFixed(2)} KB`;
  const delta = (read) => read(partsAfter) - read(partsBefore);
  const committed = delta((parts) => parts.heapCommitted);
  const spaceRows = Object.keys(partsAfter.spaces)
    .map((name) => {
      const used = partsAfter.spaces[name].used - (partsBefore.spaces[name]?.used ?? 0);
      const grown = partsAfter.spaces[name].committed - (partsBefore.spaces[name]?.committed ?? 0);
      return used === 0 && grown === 0 ? undefined : `| ${name} | ${per(used)} | ${per(grown)} |`;
    })
    .filter(Boolean);
  console.log(`## Idle authenticated sockets (${new Date().toISOString().slice(0, 10)})

Command: \`npm run build && node --expose-gc bench/ws/idle.mjs ${SOCKETS}\`
Machine: ${machineInfo().cpu}, ${machineInfo().nproc} cores; ${uptimeLine()}

| sockets | authenticated | gateway RSS before | after | per socket | of which V8 heap | target |
|---|---|---|---|---|---|---|
| ${SOCKETS} | ${authenticated} (open: ${gateway.openConnections}) | ${(before / 2 ** 20).toFixed(1)} MiB | ${(after / 2 ** 20).toFixed(1)} MiB | ${(perSocket / 1024).toFixed(2)} KB | ${((heapAfter - heapBefore) / SOCKETS / 1024).toFixed(2)} KB | <= 4 KB: ${perSocket <= 4096 ? 'met' : 'MISSED'} |

(RSS read after three forced GCs on each side; ${SOCKETS} connections opened and authenticated in ${openMs} ms.)

Per socket, by where it is (after - before, / ${SOCKETS}):

| part | per socket |
|---|--:|
| RSS, anonymous memory | ${per(delta((parts) => parts.rssAnon))} |
| RSS, file-backed + shared (SQLite's -shm map, code) | ${per(delta((parts) => parts.rssFile + parts.rssShmem))} |
| V8 heap, used (live objects) | ${per(delta((parts) => parts.heapUsed))} |
| V8 heap, committed | ${per(committed)} |
| native: RSS - V8 heap committed (uWS sockets, SQLite caches, malloc) | ${per(after - before - committed)} |
| of which V8 external (ArrayBuffers and strings outside the heap) | ${per(delta((parts) => parts.external))} |

| V8 space | used per socket | committed per socket |
|---|--:|--:|
${spaceRows.join('\n')}`);
  if (values.again) {
    const heapBeforeAgain = process.memoryUsage().heapUsed;
    const second = fork(new URL(import.meta.url).pathname, ['client', String(gateway.port), String(SOCKETS), response.token]);
    const { authenticated: more } = await reported(second);
    const afterAgain = await settledRss();
    const heapAfterAgain = process.memoryUsage().heapUsed;
    console.log(`
A second batch of ${SOCKETS} sockets (${more} authenticated; open: ${gateway.openConnections}), on top of the first:
RSS ${(after / 2 ** 20).toFixed(1)} -> ${(afterAgain / 2 ** 20).toFixed(1)} MiB, **${per(afterAgain - after)} per socket**, of which V8 heap used ${per(heapAfterAgain - heapBeforeAgain)}.`);
    second.send('done');
    await new Promise((resolve) => second.once('exit', resolve));
  }
  child.send('done');
  await new Promise((resolve) => child.once('exit', resolve));
  await gateway.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
