// One load shard of bench/ws/reconnect.mjs, run as a child pinned to the load core:
//
//   node bench/ws/reconnect-load.mjs '<json options>'
//
// It starts its own cutting TCP proxy (bench/lib/reconnect-proxy.mjs) towards the server, then
// opens `clients` clients through it, in pairs that share a room:
// - kind `switchyard`: the real SDK (`@switchyard/client`, packages/client/dist, with the SDK's
//   default reconnect, heartbeat and handshake settings), each signed in with its own user
//   access token (`auth.getToken`: the SDK's own `authorize {method:"oauth2"}`, again after
//   any fresh session); the pair's first client creates a room, the second asks to join, the
//   first accepts. A resume must bring that membership back;
// - kind `socketio`: socket.io-client 4.8 (websocket transport), both joining the pair's room
//   on a Socket.IO 4.8 server with `connectionStateRecovery`; the server's broadcast to the room
//   when it is full gives each client the packet offset a recovery needs.
//
// Then it obeys JSON lines on stdin, answering each with one JSON line on stdout:
//   {"op":"cut"}       reset every connection through the proxy at once and wait until every
//                      client is back (SDK: `resumed`; Socket.IO: `connect` with
//                      `socket.recovered`), failed for good, or `capMs` passed
//   {"op":"arm"}       start recording for a gateway restart the orchestrator performs (SDK:
//                      until `restarted`, signed in again unless `auth-failed` came first)
//   {"op":"upstream","port":P}  send new connections to port P from now on (a restarted gateway)
//   {"op":"wait"}      wait for the armed phase to finish (or `capMs`)
//   {"op":"verify"}    each pair's first client relays an ICE candidate to the second through
//                      the room: delivered only if both sessions are back in the room
//   {"op":"exit"}
// Times are epoch milliseconds with sub-millisecond resolution (performance.timeOrigin + now),
// so the orchestrator can set them against moments of other processes (a cut, a SIGTERM).

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { startCutProxy } from '../lib/reconnect-proxy.mjs';

const options = JSON.parse(process.argv[2]);
/** Clients opened at once during setup (unmeasured): a burst of thousands would test the SYN backlog, not the session setup. */
const BATCH = 200;
const now = () => performance.timeOrigin + performance.now();

const fail = (message) => {
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(1);
};
process.on('uncaughtException', (error) => fail(error.stack ?? String(error)));
process.on('unhandledRejection', (error) => fail(error?.stack ?? String(error)));
const reply = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const bump = (counts, key) => (counts[key] = (counts[key] ?? 0) + 1);

/**
 * What happens to every client in the phase being measured: when it was done and how, its
 * reconnect attempts, and counts of what it was told on the way (close codes, restart
 * reasons, sign-in failures, connect errors).
 */
class Phase {
  constructor(name, count) {
    this.name = name;
    this.startedAt = now();
    this.doneAt = new Float64Array(count).fill(NaN);
    this.outcome = new Array(count).fill(undefined);
    this.attempts = new Uint16Array(count);
    this.authFailed = new Uint8Array(count);
    this.done = 0;
    this.counts = { closes: {}, restartReasons: {}, authFailures: {}, connectErrors: {}, socketErrors: {}, pushes: {}, missed: 0, restartedRooms: 0 };
    /** Set by the fleet: what a client that is not done is doing (its state), for the report. */
    this.describe = () => undefined;
    this.finished = new Promise((resolve) => (this.resolve = resolve));
    if (count === 0) this.resolve();
  }

  finish(index, outcome) {
    if (this.outcome[index] !== undefined) return;
    this.outcome[index] = outcome;
    this.doneAt[index] = now();
    this.done += 1;
    if (this.done === this.doneAt.length) this.resolve();
  }

  /** Waits for every client or the cap; the figures as plain JSON. */
  async report(capMs) {
    let timer;
    await Promise.race([this.finished, new Promise((resolve) => (timer = setTimeout(resolve, capMs)))]);
    clearTimeout(timer);
    const outcomes = {};
    const stuck = [];
    this.outcome.forEach((outcome, index) => {
      bump(outcomes, outcome ?? 'not done');
      if (outcome === undefined && stuck.length < 10) stuck.push({ index, attempts: this.attempts[index], ...this.describe(index) });
    });
    return {
      phase: this.name, startedAt: this.startedAt, endedAt: now(), clients: this.doneAt.length,
      doneAt: [...this.doneAt].map((at, index) => (this.outcome[index] === this.success ? at : null)),
      attempts: [...this.attempts], outcomes, stuck, ...this.counts,
    };
  }
}

/**
 * `ws` as the SDK's WebSocket class, without permessage-deflate (the gateway offers none; the
 * offer only costs the load). Its errors are counted by message: the SDK reports a refused
 * upgrade (`Unexpected server response: 429`) or a dropped connection only as a 1006 close.
 */
class BenchWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { perMessageDeflate: false });
    this.on('error', (error) => phase && bump(phase.counts.socketErrors, error.message));
  }
}
/** The last few socket errors of each client, for the report on clients that did not come back. */
const lastErrors = new Map();
const webSocketFor = (index) =>
  class extends BenchWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      const openedAt = now();
      this.on('error', (error) => {
        const list = lastErrors.get(index) ?? [];
        list.push(`${error.message} after ${Math.round(now() - openedAt)} ms at +${Math.round(now() - (phase?.startedAt ?? 0))} ms`);
        lastErrors.set(index, list.slice(-3));
      });
    }
  };

/** Opens `count` things BATCH at a time, each batch awaited. */
async function inBatches(count, open) {
  const all = [];
  for (let index = 0; index < count; index += BATCH) {
    all.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - index) }, (_, offset) => open(index + offset)))));
  }
  return all;
}

const roomOf = (pair) => `rc-${options.tag}-${options.shard}-${pair}`;
let phase;

// ---------------------------------------------------------------- the SDK

async function switchyardFleet(proxyPort) {
  const { SwitchyardClient } = await import('../../packages/client/dist/index.js');
  const tokens = JSON.parse(readFileSync(options.tokensFile, 'utf8')).slice(options.tokenOffset, options.tokenOffset + options.clients);
  if (tokens.length !== options.clients) throw new Error(`only ${tokens.length} tokens for ${options.clients} clients`);
  const url = `ws://127.0.0.1:${proxyPort}/ws`;
  const setupAuthFailures = {};
  const clients = await inBatches(options.clients, async (index) => {
    const client = new SwitchyardClient({ url, WebSocket: webSocketFor(index), auth: { getToken: () => tokens[index] }, onError: (error) => fail(`SDK handler: ${error?.stack ?? error}`) });
    client.on('connecting', ({ attempt }) => attempt > 0 && phase && (phase.attempts[index] += 1));
    // What the app is handed while the storm lasts: a resume replays pushes it missed, and
    // should hand it nothing it already had.
    client.onAny((event) => phase && bump(phase.counts.pushes, event));
    client.on('closed', ({ code, reason, willReconnect }) => {
      if (!phase) return;
      bump(phase.counts.closes, reason ? `${code} ${reason}` : String(code));
      if (!willReconnect) phase.finish(index, `closed for good (${code})`);
    });
    client.on('auth-failed', ({ code }) => {
      if (!phase) return void bump(setupAuthFailures, code);
      phase.authFailed[index] = 1;
      bump(phase.counts.authFailures, code);
    });
    client.on('resumed', ({ missed }) => {
      if (!phase) return;
      phase.counts.missed += missed;
      phase.finish(index, 'resumed');
    });
    client.on('restarted', ({ reason, rooms }) => {
      if (!phase) return;
      bump(phase.counts.restartReasons, reason);
      phase.counts.restartedRooms += rooms.length;
      if (phase.name === 'cut') phase.finish(index, `resume failed: ${reason}`);
      else phase.finish(index, phase.authFailed[index] ? 'restarted, sign-in refused' : 'restarted, signed in');
    });
    await client.connect();
    return client;
  });
  if (Object.keys(setupAuthFailures).length > 0) throw new Error(`sign-in refused during setup: ${JSON.stringify(setupAuthFailures)}`);
  // Pairs: the first creates the room and accepts the second's join request.
  await inBatches(options.clients / 2, async (pair) => {
    const [owner, joiner] = [clients[2 * pair], clients[2 * pair + 1]];
    const room = roomOf(pair);
    await owner.requestAny('room-create-request', { room });
    owner.on('room-join-request', (data) => {
      if (data.room === room) owner.requestAny('room-join-accept', { room, peer_id: data.peer_id }).catch((error) => fail(`accept: ${error.message}`));
    });
    const answer = await joiner.requestAny('room-join-request', { room }, { timeoutMs: 60_000 });
    if (answer.event !== 'room-join-accept') throw new Error(`join answered ${answer.event}`);
  });
  return {
    describe: (index) => ({ state: clients[index].state, resumable: clients[index].resumable, errors: lastErrors.get(index) }),
    success: { cut: 'resumed', restart: 'restarted, signed in' },
    /** The owner's relay reaches the joiner only if both sessions are in the room again. */
    async verify() {
      let delivered = 0;
      const refused = {};
      await inBatches(options.clients / 2, async (pair) => {
        const [owner, joiner] = [clients[2 * pair], clients[2 * pair + 1]];
        const room = roomOf(pair);
        const arrived = new Promise((resolve) => {
          const timer = setTimeout(() => (off(), resolve(false)), 10_000);
          const off = joiner.on('ice-candidate', (data) => data.room === room && (clearTimeout(timer), off(), resolve(true)));
        });
        const ice_candidate = { candidate: `candidate:${pair} 1 udp 2122260223 10.0.0.1 5000 typ host`, sdpMid: '0', sdpMLineIndex: 0 };
        try {
          await owner.requestAny('relay-ice-candidate', { room, to: joiner.peerId, ice_candidate });
        } catch (error) {
          bump(refused, error.code ?? String(error));
        }
        if (await arrived) delivered += 1;
      });
      return { pairs: options.clients / 2, delivered, refused };
    },
  };
}

// ---------------------------------------------------------------- the Socket.IO baseline

async function socketIoFleet(proxyPort) {
  const { io } = await import('socket.io-client');
  const url = `http://127.0.0.1:${proxyPort}`;
  const clientOptions = { transports: ['websocket'], forceNew: true, ...options.socketIoBackoff };
  const joined = [];
  const clients = await inBatches(options.clients, async (index) => {
    const socket = io(url, clientOptions);
    await new Promise((resolve, reject) => (socket.once('connect', resolve), socket.once('connect_error', reject)));
    // The room's broadcast once both members are in: the packet whose offset a recovery names.
    joined[index] = new Promise((resolve) => socket.once('room-user-join', resolve));
    socket.io.on('reconnect_attempt', () => phase && (phase.attempts[index] += 1));
    socket.io.on('reconnect_failed', () => phase?.finish(index, 'gave up reconnecting'));
    socket.on('connect_error', (error) => phase && bump(phase.counts.connectErrors, error.message));
    socket.on('disconnect', (reason) => phase && bump(phase.counts.closes, reason));
    socket.on('connect', () => phase?.finish(index, socket.recovered ? 'recovered' : 'reconnected, not recovered'));
    return socket;
  });
  await inBatches(options.clients, async (index) => {
    const answer = await clients[index].timeout(60_000).emitWithAck('join', roomOf(Math.floor(index / 2)));
    if (answer?.status !== 200) throw new Error(`join refused: ${JSON.stringify(answer)}`);
  });
  await Promise.all(joined);
  return {
    describe: (index) => ({ connected: clients[index].connected, active: clients[index].active }),
    success: { cut: 'recovered' },
    async verify() {
      let delivered = 0;
      await inBatches(options.clients / 2, async (pair) => {
        const [owner, joiner] = [clients[2 * pair], clients[2 * pair + 1]];
        const room = roomOf(pair);
        const arrived = new Promise((resolve) => {
          const timer = setTimeout(() => (joiner.off('ice-candidate', listener), resolve(false)), 10_000);
          const listener = (data) => data.room === room && (clearTimeout(timer), joiner.off('ice-candidate', listener), resolve(true));
          joiner.on('ice-candidate', listener);
        });
        owner.emit('relay', { room, ice_candidate: { candidate: `candidate:${pair}`, sdpMid: '0', sdpMLineIndex: 0 } });
        if (await arrived) delivered += 1;
      });
      return { pairs: options.clients / 2, delivered, refused: {} };
    },
  };
}

// ---------------------------------------------------------------- commands

const proxy = await startCutProxy(options.serverPort);
const setupStarted = performance.now();
const fleet = options.kind === 'socketio' ? await socketIoFleet(proxy.port) : await switchyardFleet(proxy.port);
reply({ ready: true, pid: process.pid, proxyPort: proxy.port, connections: proxy.size, setupMs: performance.now() - setupStarted });

const startPhase = (name) => {
  phase = new Phase(name, options.clients);
  phase.success = fleet.success[name];
  phase.describe = fleet.describe;
  proxy.resetCounts();
};

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.op === 'cut') {
    startPhase('cut');
    const cutAt = now();
    const cut = proxy.cut();
    const sweepMs = now() - cutAt;
    reply({ ...(await phase.report(command.capMs)), cutAt, cut, sweepMs, proxy: proxy.counts() });
    phase = undefined;
  } else if (command.op === 'arm') {
    startPhase('restart');
    reply({ armed: true });
  } else if (command.op === 'upstream') {
    proxy.retarget(command.port);
    reply({ upstream: command.port });
  } else if (command.op === 'wait') {
    reply({ ...(await phase.report(command.capMs)), proxy: proxy.counts() });
    phase = undefined;
  } else if (command.op === 'verify') {
    reply(await fleet.verify());
  } else if (command.op === 'exit') {
    // The sockets die with the process; the gateway ends whatever sessions are left at its shutdown.
    process.exit(0);
  } else fail(`unknown op ${command.op}`);
}
