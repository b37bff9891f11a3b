#!/usr/bin/env node
// JavaScript cost of one `ping` frame through the native route, without sockets: the
// `/ws` route of dist/edge/native-socket.js with a sink that only counts what it is
// given. It isolates what Switchyard adds on top of uWS (decode, validate, dispatch,
// encode, send bookkeeping) from the kernel and uWS's own work, so it is the figure to
// watch while optimising the hot path; bench/ws/ping.mjs is the one that counts.
//
//   node bench/micro/dispatch.mjs [--seconds 2] [--dist DIR]
//
// Reports CPU ns per frame (median of 5 rounds) for JSON and MessagePack frames.

import { encode } from '@msgpack/msgpack';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { assertBuilt } from '../lib/system.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, dist: { type: 'string' } } });
// --dist DIR measures another build (a copy of dist/ from before a change) for A/B runs.
const dist = values.dist ? pathToFileURL(resolve(values.dist)).href : new URL('../../dist', import.meta.url).href;
if (!values.dist) assertBuilt();
const { nativeSocketRoute } = await import(`${dist}/edge/native-socket.js`);
const { pingTopic } = await import(`${dist}/edge/handlers.js`);
const { Dispatcher } = await import(`${dist}/edge/dispatch.js`);

const roundMs = (Number(values.seconds) * 1000) / 5;

let sent = 0;
let sentBytes = 0;
const sink = {
  send(message) {
    sent += 1;
    // uWS reads a typed array through its backing store; asking for it here makes V8 do
    // what it does for uWS (move a small on-heap array off the heap), so that cost counts.
    sentBytes += typeof message === 'string' ? message.length : message.buffer.byteLength;
    return 1;
  },
  end() {},
  bufferedAmount: () => 0,
};
const metrics = {
  frames: { in: { json: 0, msgpack: 0 }, out: { json: 0, msgpack: 0 } },
  errors: { inc() {} },
};
const clock = { now: () => Date.now() };
const onHandlerError = (_connection, _event, error) => {
  throw error;
};
// The gateway's dispatcher with its one topic here, `ping`, as src/app/gateway.ts adds it.
const dispatcher = new Dispatcher({ metrics, clock, onHandlerError }).add(pingTopic);
const route = nativeSocketRoute({
  dispatcher,
  metrics,
  clock,
  limits: { maxBackpressureBytes: 1 << 20, badFrameLimit: 20, badFrameWindowMs: 10_000, maxFrameBytes: 65536, maxFrameDepth: 32 },
  allowedOrigins: [],
  accepting: () => true,
  opened() {},
  closed() {},
});

function measure(codec) {
  const info = { id: 'bench', codec, transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null };
  const connection = route.open(sink, info);
  // Frames as uWS hands them over: a fresh ArrayBuffer per message, ids varying.
  const frames = Array.from({ length: 1024 }, (_, index) => {
    const bytes = codec === 'json' ? new TextEncoder().encode(JSON.stringify({ event: 'ping', id: index + 1 })) : encode({ event: 'ping', id: index + 1 });
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  });
  const isBinary = codec === 'msgpack';
  const rounds = [];
  for (let round = 0; round < 6; round++) {
    const sentBefore = sent;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    let count = 0;
    while (performance.now() - started < roundMs) {
      for (let index = 0; index < 1024; index++) route.message(connection, frames[index], isBinary);
      count += 1024;
    }
    // CPU time, not wall time: on a shared machine another process taking turns on this
    // core stretches the wall clock but not the CPU time this work needed.
    const cpu = process.cpuUsage(cpuBefore);
    if (sent - sentBefore !== count) throw new Error(`expected ${count} replies, got ${sent - sentBefore}`);
    if (round > 0) rounds.push(((cpu.user + cpu.system) * 1000) / count); // round 0 warms the JIT up
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

const json = measure('json');
const msgpack = measure('msgpack');
console.log(`| codec | ns per ping frame (decode, validate, dispatch, pong encode, send bookkeeping) |`);
console.log(`|---|--:|`);
console.log(`| json | ${json.toFixed(0)} |`);
console.log(`| msgpack | ${msgpack.toFixed(0)} |`);
