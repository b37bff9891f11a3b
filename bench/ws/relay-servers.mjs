// The servers of bench/ws/relay.mjs, each run as its own (pinned) child process:
//
//   node bench/ws/relay-servers.mjs uws          bare uWebSockets.js relay: the baseline
//   node bench/ws/relay-servers.mjs uws-scan     the same, plus the least a validating JSON relay
//                                                does: Switchyard's scan (dist/protocol/json-scan.js)
//                                                and one copy of each frame before it is sent
//   node bench/ws/relay-servers.mjs socketio     Socket.IO 4.8 relay (websocket transport only)
//   node bench/ws/relay-servers.mjs switchyard <app password>
//                                                the real gateway from dist/, data in a tmp dir
//
// Each listens on 127.0.0.1, port 0, prints one JSON line {"port", "native", "pid"} on
// stdout once it accepts connections, and exits on SIGTERM (normally, so that a
// `--cpu-prof` given to node is written).
//
// The relay servers do the least a relay of their kind does:
// - bare uWS pairs the two sockets that upgraded with the same `?pair=N` and forwards each
//   message, byte for byte, to the partner (no decode: the floor for any relay on uWS);
// - Socket.IO decodes the event, looks the addressee up by `to` (a socket id) and emits
//   `ice-candidate` / `session-description` {room, peer_id, body} to it, the usual
//   signalling server of a Socket.IO application.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import uWS from 'uWebSockets.js';

const kind = process.argv[2];
const native = /\[native code\]/.test(Function.prototype.toString.call(uWS.App));

function ready(port) {
  process.stdout.write(`${JSON.stringify({ port, native, pid: process.pid })}\n`);
}

if (kind === 'uws' || kind === 'uws-scan') {
  // Same socket options as src/edge/uws.ts, so the baseline differs only by the work
  // Switchyard does per frame.
  const maxFrameBytes = 64 * 1024;
  const forward = kind === 'uws' ? (partner, message, isBinary) => partner.send(message, isBinary) : await scanningForward();
  /** pair id -> the first socket of the pair, until its partner arrives. */
  const waiting = new Map();
  const app = uWS.App().ws('/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: maxFrameBytes * 4,
    maxBackpressure: 1024 * 1024 + maxFrameBytes * 4,
    closeOnBackpressureLimit: 0,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const pair = new URLSearchParams(req.getQuery()).get('pair') ?? '';
      res.upgrade(
        { pair, partner: null },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      const data = ws.getUserData();
      const first = waiting.get(data.pair);
      if (first) {
        waiting.delete(data.pair);
        data.partner = first;
        first.getUserData().partner = ws;
      } else {
        waiting.set(data.pair, ws);
      }
    },
    message: (ws, message, isBinary) => {
      const partner = ws.getUserData().partner;
      if (partner !== null) forward(partner, message, isBinary);
    },
    close: (ws) => {
      const data = ws.getUserData();
      if (data.partner !== null) data.partner.getUserData().partner = null;
      if (waiting.get(data.pair) === ws) waiting.delete(data.pair);
    },
  });
  app.listen('127.0.0.1', 0, (listenSocket) => {
    if (!listenSocket) {
      console.error('bare uWS relay: cannot listen');
      process.exit(1);
    }
    ready(uWS.us_socket_local_port(listenSocket));
  });
  process.once('SIGTERM', () => process.exit(0));
} else if (kind === 'socketio') {
  const { Server } = await import('socket.io');
  const httpServer = createServer();
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  const sockets = io.of('/').sockets;
  const relayTo = (socket, event, field) => (data) => {
    const target = data && typeof data.to === 'string' ? sockets.get(data.to) : undefined;
    if (target) target.emit(event, { room: data.room, peer_id: socket.id, [field]: data[field] });
  };
  io.on('connection', (socket) => {
    socket.on('relay-ice-candidate', relayTo(socket, 'ice-candidate', 'ice_candidate'));
    socket.on('relay-session-description', relayTo(socket, 'session-description', 'session_description'));
  });
  httpServer.listen(0, '127.0.0.1', () => ready(httpServer.address().port));
  process.once('SIGTERM', () => process.exit(0));
} else if (kind === 'switchyard') {
  const { loadConfig } = await import('../../dist/app/config.js');
  const { Gateway } = await import('../../dist/app/gateway.js');
  const { createLogger } = await import('../../dist/edge/logger.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-relay-'));
  // The per-connection relay budgets (20 SDP/s, 200 ICE/s by default) protect a real
  // deployment from a flooding peer; the benchmark measures the relay itself, so they are
  // raised out of the way. Everything else is the default configuration.
  const config = loadConfig({
    flags: { port: '0', host: '127.0.0.1', data: dataDir, 'log-level': 'silent' },
    env: {
      SWITCHYARD_APP_PASSWORD: process.argv[3],
      SWITCHYARD_RELAY_SDP_PER_SECOND: '1000000',
      SWITCHYARD_RELAY_ICE_PER_SECOND: '1000000',
      SWITCHYARD_RATE_LIMIT_STRIKES: '100000',
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
  console.error('usage: node bench/ws/relay-servers.mjs uws|uws-scan|socketio|switchyard');
  process.exit(2);
}

/**
 * uws-scan's forward: the floor of a relay that validates what it forwards. Each text frame
 * goes through the same WebAssembly scan as Switchyard's relay (copied into the module's
 * memory, grammar and strings checked, envelope and data members found), then is copied once,
 * as Switchyard splices the frame it sends, and sent; no routing, budget or membership check.
 * A frame the scan refuses is dropped.
 */
async function scanningForward() {
  const { KeySet, scanFrame } = await import('../../dist/protocol/json-scan.js');
  const envelopeKeys = new KeySet(['event', 'data', 'id']);
  const dataKeys = new KeySet(['room', 'to', 'session_description', 'ice_candidate', 'payload', 'auth']);
  let out = Buffer.allocUnsafe(64 * 1024);
  return (partner, message, isBinary) => {
    const bytes = Buffer.from(message);
    if (!isBinary && scanFrame(bytes, 32, envelopeKeys, 1, dataKeys)?.data === undefined) return;
    if (out.length < bytes.length) out = Buffer.allocUnsafe(bytes.length);
    bytes.copy(out);
    partner.send(out.subarray(0, bytes.length), isBinary);
  };
}

