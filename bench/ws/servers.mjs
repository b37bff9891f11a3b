// The two servers of bench/ws/ping.mjs, each run as its own (pinned) child process:
//
//   node bench/ws/servers.mjs uws          bare uWebSockets.js echo: the baseline
//   node bench/ws/servers.mjs uws-pong     bare uWebSockets.js answering each ping with a pong
//                                          through Switchyard's own ping codec (dist/protocol),
//                                          without the gateway: what any server that answers
//                                          a ping with a fresh pong pays on top of an echo
//   node bench/ws/servers.mjs switchyard [DIST]   the real gateway from dist/ (or DIST), data in a tmp dir
//
// Each listens on 127.0.0.1, port 0, prints one JSON line {"port", "native"} on stdout once
// it accepts connections, and exits on SIGTERM.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import uWS from 'uWebSockets.js';

const kind = process.argv[2];
const native = /\[native code\]/.test(Function.prototype.toString.call(uWS.App));

function ready(port) {
  process.stdout.write(`${JSON.stringify({ port, native, pid: process.pid })}\n`);
}

if (kind === 'uws' || kind === 'uws-pong') {
  // Same socket options as src/edge/uws.ts, so the baseline differs only by the work
  // Switchyard does per frame.
  const maxFrameBytes = 64 * 1024;
  const { encodePong, pingFrameOf } = kind === 'uws-pong' ? await import('../../dist/protocol/codecs.js') : {};
  const echo = (ws, message, isBinary) => {
    ws.send(message, isBinary);
  };
  // The codec a socket speaks is its frames' kind here (the generator sends one kind per run).
  const pong = (ws, message, isBinary) => {
    const ping = pingFrameOf(new Uint8Array(message), isBinary);
    ws.send(encodePong(isBinary ? 'msgpack' : 'json', Date.now(), ping?.id), isBinary);
  };
  const app = uWS.App().ws('/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: maxFrameBytes * 4,
    maxBackpressure: 1024 * 1024 + maxFrameBytes * 4,
    closeOnBackpressureLimit: 0,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    message: kind === 'uws' ? echo : pong,
  });
  app.listen('127.0.0.1', 0, (listenSocket) => {
    if (!listenSocket) {
      console.error(`bare ${kind}: cannot listen`);
      process.exit(1);
    }
    ready(uWS.us_socket_local_port(listenSocket));
  });
  process.once('SIGTERM', () => process.exit(0));
} else if (kind === 'switchyard') {
  // A second argument names another build (a copy of dist/ from before a change) for A/B runs.
  const dist = process.argv[3] ? pathToFileURL(resolve(process.argv[3])).href : new URL('../../dist', import.meta.url).href;
  // Builds from before the modules layout (config.js, server/) still run here, for A/B runs.
  const modern = existsSync(new URL(`${dist}/app/config.js`));
  const { loadConfig } = await import(modern ? `${dist}/app/config.js` : `${dist}/config.js`);
  const { Gateway } = await import(modern ? `${dist}/app/gateway.js` : `${dist}/server/gateway.js`);
  const { createLogger } = await import(modern ? `${dist}/edge/logger.js` : `${dist}/server/logger.js`);
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-ws-'));
  const config = loadConfig({ flags: { port: '0', host: '127.0.0.1', data: dataDir, 'log-level': 'silent' }, env: {} });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
  ready(gateway.port);
  process.once('SIGTERM', () => {
    gateway.stop().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
} else {
  console.error('usage: node bench/ws/servers.mjs uws|uws-pong|switchyard');
  process.exit(2);
}
