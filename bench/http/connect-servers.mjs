// The two servers of bench/http/connect.mjs, each run as its own (pinned) child process:
//
//   node bench/http/connect-servers.mjs uws '<json>'          bare uWebSockets.js: reads the body,
//                                                             answers a fixed Connect response
//   node bench/http/connect-servers.mjs switchyard '<json>'   the real gateway from dist/, data in a tmp dir
//
// Each listens on 127.0.0.1, port 0, prints one JSON line {"port", "native", "pid"} once it
// accepts requests, and exits on SIGTERM. `settings.dist` (an absolute path) runs another
// build than the checkout's dist/, for A/B runs of two builds back to back.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import uWS from 'uWebSockets.js';

const [kind, settingsJson = '{}'] = process.argv.slice(2);
const settings = JSON.parse(settingsJson);
const native = /\[native code\]/.test(Function.prototype.toString.call(uWS.App));

function ready(port) {
  process.stdout.write(`${JSON.stringify({ port, native, pid: process.pid })}\n`);
}

if (kind === 'uws') {
  // The same response headers as the room API (CORS, no-store, JSON), and the body is read
  // before answering, as the gateway must: the baseline differs only by Switchyard's work.
  const body = settings.body;
  const app = uWS.App().post('/', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((_chunk, isLast) => {
      if (!isLast || aborted) return;
      res.cork(() => {
        res.writeStatus('200 OK');
        res.writeHeader('access-control-allow-origin', '*');
        res.writeHeader('access-control-allow-headers', 'Authorization, Content-Type');
        res.writeHeader('access-control-allow-methods', 'POST, OPTIONS');
        res.writeHeader('access-control-max-age', '600');
        res.writeHeader('cache-control', 'no-store');
        res.writeHeader('content-type', 'application/json');
        res.end(body);
      });
    });
  });
  app.listen('127.0.0.1', 0, (listenSocket) => {
    if (!listenSocket) {
      console.error('bare uWS: cannot listen');
      process.exit(1);
    }
    ready(uWS.us_socket_local_port(listenSocket));
  });
  process.once('SIGTERM', () => process.exit(0));
} else if (kind === 'switchyard') {
  const dist = settings.dist ?? join(import.meta.dirname, '..', '..', 'dist');
  const fromDist = (file) => import(pathToFileURL(join(dist, file)).href);
  const { loadConfig } = await fromDist('app/config.js');
  const { Gateway } = await fromDist('app/gateway.js');
  const { createLogger } = await fromDist('edge/logger.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-connect-'));
  const config = loadConfig({
    flags: { port: '0', host: '127.0.0.1', data: dataDir, 'log-level': 'silent' },
    env: {
      SWITCHYARD_CUSTOMERS: JSON.stringify(settings.customers),
      SWITCHYARD_INTERNAL_TOKEN: settings.internalToken,
      SWITCHYARD_SFU_REPORT_INTERVAL_SECONDS: String(settings.reportIntervalSeconds ?? 5),
    },
  });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
  ready(gateway.port);
  process.once('SIGTERM', () => {
    gateway.stop().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
} else {
  console.error('usage: node bench/http/connect-servers.mjs uws|switchyard <settings json>');
  process.exit(2);
}
