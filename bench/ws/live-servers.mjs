// The servers of bench/ws/live-events.mjs (issue 9), each run as its own (pinned) child:
//
//   node bench/ws/live-servers.mjs switchyard [env JSON]  the real gateway from dist/, data in a tmp dir
//   node bench/ws/live-servers.mjs uws-static <file>      bare uWebSockets.js: every frame answered with <file>'s bytes
//   node bench/ws/live-servers.mjs socketio <file>        Socket.IO 4.8 broadcasting <file>'s push to a room
//
// Each listens on 127.0.0.1, port 0, prints one JSON line {"port", "native", "pid", ...} on
// stdout once it accepts connections, and exits on SIGTERM.
//
// The baselines do the least a server of their kind does for the same traffic:
// - uws-static answers every frame with the response the gateway gave to the same
//   `consumer_itinerary_get` (captured once by the driver): the ceiling for sending that
//   payload over uWS, with nothing computed;
// - socketio joins a socket to the room `event` when it asks (`join`, acked), and on the
//   organiser's `update` {item, name, seq} renames that item in the captured push of the
//   gateway, then `io.to('event').emit('consumer_itinerary_update', payload)`: one encode per
//   broadcast, then one send per member, as the gateway's sendToAll does.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import uWS from 'uWebSockets.js';

const kind = process.argv[2];
const native = /\[native code\]/.test(Function.prototype.toString.call(uWS.App));

function ready(extra = {}) {
  process.stdout.write(`${JSON.stringify({ native, pid: process.pid, ...extra })}\n`);
}

if (kind === 'uws-static') {
  const response = readFileSync(process.argv[3]);
  // Same socket options as src/edge/uws.ts (defaults: 64 KiB frames, 1 MiB backpressure),
  // so the baseline differs only by the work Switchyard does per request.
  const maxFrameBytes = 64 * 1024;
  const app = uWS.App().ws('/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: maxFrameBytes * 4,
    maxBackpressure: 1024 * 1024 + maxFrameBytes * 4 + response.length,
    closeOnBackpressureLimit: 0,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    message: (ws) => {
      // Text, as the gateway's JSON answer; the request is not even looked at.
      ws.send(response, false);
    },
  });
  app.listen('127.0.0.1', 0, (listenSocket) => {
    if (!listenSocket) {
      console.error('uws-static: cannot listen');
      process.exit(1);
    }
    ready({ port: uWS.us_socket_local_port(listenSocket), responseBytes: response.length });
  });
  process.once('SIGTERM', () => process.exit(0));
} else if (kind === 'socketio') {
  /** Where a captured chat push keeps the message's text: `data.message` or the data itself. */
  const chatMessageOf = (data) => (data.message && typeof data.message === 'object' ? data.message : data);
  const { Server } = await import('socket.io');
  // The gateway's push `data` ({event, itinerary:{..., items}, seq}), as the driver captured it.
  const payload = JSON.parse(readFileSync(process.argv[3], 'utf8'));
  const items = new Map((payload.itinerary?.items ?? []).map((item) => [item.id, item]));
  // How long each broadcast's send loop took (the server's share of a fan-out), for GET /stats:
  // the same figure the gateway's switchyard_push_fanout_seconds histogram keeps.
  const sendLoops = [];
  const httpServer = createServer((request, response) => {
    if (request.url !== '/stats') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sendLoopsMs: sendLoops }));
  });
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  io.on('connection', (socket) => {
    socket.on('join', (room, ack) => {
      socket.join(String(room));
      if (typeof ack === 'function') ack({ status: 200 });
    });
    socket.on('update', ({ item, name, seq }, ack) => {
      const target = items.get(item);
      if (target) target.name = name;
      payload.seq = seq;
      const started = performance.now();
      io.to('event').emit('consumer_itinerary_update', payload);
      sendLoops.push(performance.now() - started);
      if (typeof ack === 'function') ack({ status: target ? 200 : 404 });
    });
    // bench/ws/chat-fanout.mjs: the gateway's consumer_chat_receive data with the new text.
    socket.on('chat', ({ name, seq }, ack) => {
      const message = chatMessageOf(payload);
      message.text = name;
      payload.seq = seq;
      const started = performance.now();
      io.to('event').emit('consumer_chat_receive', payload);
      sendLoops.push(performance.now() - started);
      if (typeof ack === 'function') ack({ status: 201 });
    });
  });
  httpServer.listen(0, '127.0.0.1', () => ready({ port: httpServer.address().port }));
  process.once('SIGTERM', () => process.exit(0));
} else if (kind === 'switchyard') {
  const { loadConfig } = await import('../../dist/app/config.js');
  const { Gateway } = await import('../../dist/app/gateway.js');
  const { createLogger } = await import('../../dist/edge/logger.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-live-'));
  const config = loadConfig({
    flags: { port: '0', host: '127.0.0.1', data: dataDir, 'log-level': 'silent' },
    env: {
      // Every bench socket comes from 127.0.0.1: the per-address storm limits would refuse
      // most of 5,000 attendees (as bench/ws/idle.mjs).
      SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: '0',
      SWITCHYARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '0',
      SWITCHYARD_CONNECTION_OPENS_PER_SECOND: '0',
      // Attendees of a public event watch anonymously; the default 30 s deadline would close
      // them in the middle of a run.
      SWITCHYARD_AUTH_DEADLINE_SECONDS: '0',
      // A bench's own settings, as JSON in the second argument (chat-fanout.mjs: the chat's
      // per-user message rate, which one organiser posting back to back would exceed).
      ...(process.argv[3] ? JSON.parse(process.argv[3]) : {}),
    },
  });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
  // The organiser: a user of a seed organisation, made with the identity service as the
  // integration tests do; everything else is created over /ws by the driver, as a client would.
  const username = 'bench-organiser';
  const password = 'bench-organiser-correct-horse-battery';
  const seedOrganisation = await gateway.identity.createOrganisation('Bench Seed', 'bench');
  await gateway.identity.addUser({ organisation: seedOrganisation, username, password, groups: [], by: 'bench' });
  ready({ port: gateway.port, username, password, dataDir });
  process.once('SIGTERM', () => {
    gateway.stop().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
} else {
  console.error('usage: node bench/ws/live-servers.mjs switchyard | uws-static <response file> | socketio <push file>');
  process.exit(2);
}
