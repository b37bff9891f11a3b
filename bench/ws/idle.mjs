// Memory per idle authenticated socket (rooms issue target: <= 8 KB RSS each).
//
//   npm run build && node --expose-gc bench/ws/idle.mjs [sockets=10000]
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

if (process.argv[2] === 'client') {
  await client(Number(process.argv[3]), Number(process.argv[4]), process.argv[5]);
} else {
  const SOCKETS = Number(process.argv[2] ?? 10_000);
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  assertBuilt();
  const { loadConfig } = await import(join(REPO, 'dist/app/config.js'));
  const { Gateway } = await import(join(REPO, 'dist/app/gateway.js'));
  const { createLogger } = await import(join(REPO, 'dist/edge/logger.js'));
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
  const before = await settledRss();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = Date.now();
  const child = fork(new URL(import.meta.url).pathname, ['client', String(gateway.port), String(SOCKETS), response.token]);
  const { authenticated } = await new Promise((resolve) => child.once('message', resolve));
  const openMs = Date.now() - started;
  const after = await settledRss();
  const heapAfter = process.memoryUsage().heapUsed;
  const perSocket = (after - before) / SOCKETS;
  console.log(`## Idle authenticated sockets (${new Date().toISOString().slice(0, 10)})

Command: \`npm run build && node --expose-gc bench/ws/idle.mjs ${SOCKETS}\`
Machine: ${machineInfo().cpu}, ${machineInfo().nproc} cores; ${uptimeLine()}

| sockets | authenticated | gateway RSS before | after | per socket | of which V8 heap | target |
|---|---|---|---|---|---|---|
| ${SOCKETS} | ${authenticated} (open: ${gateway.openConnections}) | ${(before / 2 ** 20).toFixed(1)} MiB | ${(after / 2 ** 20).toFixed(1)} MiB | ${(perSocket / 1024).toFixed(2)} KB | ${((heapAfter - heapBefore) / SOCKETS / 1024).toFixed(2)} KB | <= 8 KB: ${perSocket <= 8192 ? 'met' : 'MISSED'} |

(RSS read after three forced GCs on each side; ${SOCKETS} connections opened and authenticated in ${openMs} ms.)`);
  child.send('done');
  await new Promise((resolve) => child.once('exit', resolve));
  await gateway.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
