#!/usr/bin/env node
// The room API's own work per Connect, without HTTP: the gateway's POST / route handler
// (modules/grid/routes.ts, with its authorize step) called in-process on requests as the
// edge hands them over, for 1 000 client tokens over 200 rooms on 50 SFU servers, every
// token verified and every room placed first (the steady state connect.mjs measures).
// Process CPU time per Connect, in rounds; the minimum and the median are reported, so a
// shared machine's noise shows as spread instead of moving one figure. For an A/B, run it
// against two builds back to back:
//
//   node bench/http/connect-micro.mjs [--dist /abs/dist] [--rounds 15] [--calls 5000] [--concurrency 50]
//
// Counts only what Switchyard adds to a request (what bare uWS does not do) short of the
// edge: uWS, header reading and the body buffer are connect.mjs's to measure.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchCustomer } from './bench-customer.mjs';
import { startFleet } from './fleet.mjs';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: join(import.meta.dirname, '..', '..', 'dist') },
    rounds: { type: 'string', default: '15' },
    calls: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '50' },
    tokens: { type: 'string', default: '1000' },
    rooms: { type: 'string', default: '200' },
  },
});
const settings = Object.fromEntries(Object.entries(values).map(([key, value]) => [key, key === 'dist' ? value : Number(value)]));
const fromDist = (file) => import(pathToFileURL(join(settings.dist, file)).href);
const { loadConfig } = await fromDist('app/config.js');
const { Gateway } = await fromDist('app/gateway.js');
const { createLogger } = await fromDist('edge/logger.js');
const { rpcRoutes } = await fromDist('modules/grid/routes.js');

const INTERNAL_TOKEN = 'bench-internal-token-0123456789';
const { customer, generator } = benchCustomer();
const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-connect-micro-'));
const config = loadConfig({
  flags: { port: '0', host: '127.0.0.1', data: dataDir, 'log-level': 'silent' },
  // An hour between reports: no server goes silent while the rounds run.
  env: { SWITCHYARD_CUSTOMERS: JSON.stringify([customer]), SWITCHYARD_INTERNAL_TOKEN: INTERNAL_TOKEN, SWITCHYARD_SFU_REPORT_INTERVAL_SECONDS: '3600' },
});
const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
const fleet = await startFleet({ url: `http://127.0.0.1:${gateway.port}`, token: INTERNAL_TOKEN, count: 50, prefix: 'bench' });

const route = rpcRoutes(gateway.grid, { maxBodyBytes: config.rpcMaxBodyBytes, maxInternalBodyBytes: config.internalMaxBodyBytes }).find(
  (candidate) => candidate.method === 'post' && candidate.path === '/',
);
const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'Connect', params: {}, id: 1 }));
const signal = new AbortController().signal;
// Headers as uWS hands them over (lower-case names), per client token.
const heads = Array.from({ length: settings.tokens }, (_, index) => ({
  method: 'POST',
  path: '/',
  query: '',
  remoteAddress: '127.0.0.1',
  headers: {
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': String(body.length),
    authorization: `Bearer ${generator.createToken(`room-${index % settings.rooms}`, `user-${index}`, { audience: 'gateway', subject: 'connect', lifetime: 3600 })}`,
  },
}));

/** One Connect as the edge runs it: authorize on the head, then the handler it grants, on the body. */
async function connect(head) {
  const granted = await route.authorize(head);
  const response = typeof granted === 'function' ? await granted({ ...head, body, signal }) : granted;
  if (response.status !== 200 || !response.body.includes('"token"')) throw new Error(`Connect answered ${response.status} ${response.body}`);
}

async function calls(count, offset) {
  let next = 0;
  const worker = async () => {
    while (next < count) await connect(heads[(offset + next++) % heads.length]);
  };
  await Promise.all(Array.from({ length: settings.concurrency }, worker));
}

await calls(heads.length, 0); // every token verified, every room placed
await calls(settings.calls, 0); // and the JIT warm
const perCall = [];
for (let round = 0; round < settings.rounds; round++) {
  const before = process.cpuUsage();
  await calls(settings.calls, round * 7);
  const used = process.cpuUsage(before);
  perCall.push((used.user + used.system) / settings.calls);
}
await fleet.stop();
await gateway.stop();
rmSync(dataDir, { recursive: true, force: true });
perCall.sort((a, b) => a - b);
const median = perCall[Math.floor(perCall.length / 2)];
console.log(JSON.stringify({ dist: settings.dist, calls: settings.calls, rounds: settings.rounds, minMicros: +perCall[0].toFixed(2), medianMicros: +median.toFixed(2) }));
process.exit(0);
