// Relay load generator of bench/cluster/cluster.mjs, run as a pinned child:
//
//   node bench/cluster/relay-load.mjs '<json options>'
//
// The approach of bench/ws/relay-load.mjs (raw net.Sockets, the HTTP upgrade by hand, client
// frames pre-encoded and pre-masked, server frames parsed only as far as their length), cut
// to Switchyard JSON in a closed loop, with each side of a pair on a gateway node of its
// own: `placement[pair] = [ownerNode, joinerNode]`, indexes into `ports`.
//
// Setup per pair (a on its node, b on its node): upgrade on /ws, `welcome`, `auth-request`
// with an app token from POST /app of that node; a creates room `<roomPrefix>-<pair>`, b asks
// to join, a approves, b gets `room-join-accept`. Then a probe: one ICE relay each way, which
// must arrive within 5 s (a cross-node relay the gateway refuses shows up here, as the
// `error` frame, before any measuring).
//
// Closed loop, per phase (`ice` 200 B, `sdp` 4 KB): each connection keeps `depth` relays in
// flight to its partner; every relay read releases one back. Latency is one way (sender's
// write to the partner's read, both here), FIFO per direction. The first relay of a phase on
// each connection and every SAMPLE_EVERY-th are decoded and compared with what was sent;
// every other must have the verified one's exact size.
//
// Prints one JSON line per phase (counts, percentiles, CPU samples of `pids` and of itself),
// then {"done":true}; {"error"} and exit 1 when the run breaks.

import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram, sampleCpu } from '../lib/system.mjs';
import { PONG_FRAME, readFrame } from '../lib/ws-frames.mjs';

/** readFrame's out-parameter, shared by every connection of this process (one frame is read at a time). */
const frame = { opcode: 0, start: 0, end: 0 };

const { ports, placement, pids, depth, warmupMs, durationMs, phases, appPassword, roomPrefix } = JSON.parse(process.argv[2]);

const SEQ_SPACE = 64;
const SAMPLE_EVERY = 499;
const RING = 16384;
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const EVENT_OUT = { ice: 'relay-ice-candidate', sdp: 'relay-session-description' };
const EVENT_IN = { ice: 'ice-candidate', sdp: 'session-description' };
const FIELD = { ice: 'ice_candidate', sdp: 'session_description' };

/** An ICE candidate as browsers send it, about 200 B of JSON (bench/ws/relay-load.mjs's). */
function iceBody(seq) {
  const port = 40000 + seq;
  return {
    candidate: `candidate:3285374012 1 udp 1677729535 203.0.113.77 ${port} typ srflx raddr 192.168.1.23 rport ${port} generation 0 ufrag Kz3v network-id 1 network-cost 10`,
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: 'Kz3v',
  };
}

/** An SDP offer of about 4 KB: a fixed-width version line and CRLF attribute lines. */
function sdpBody(seq) {
  const lines = ['v=0', `o=- 4611731400430051336 ${String(1000 + seq)} IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=group:BUNDLE 0 1'];
  for (let index = 0; lines.join('\r\n').length < 4000; index++) {
    lines.push(`a=rtcp-fb:${96 + (index % 12)} ${['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli'][index % 5]}`);
  }
  return { type: 'offer', sdp: `${lines.join('\r\n')}\r\n` };
}

const BODY = { ice: iceBody, sdp: sdpBody };

function maskedFrame(payload) {
  const header = payload.length < 126 ? 2 : payload.length < 65536 ? 4 : 10;
  const frame = Buffer.alloc(header + 4 + payload.length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = 0x80 | payload.length;
  else if (header === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  MASK.copy(frame, header);
  for (let index = 0; index < payload.length; index++) frame[header + 4 + index] = payload[index] ^ MASK[index & 3];
  return frame;
}

const relayPayload = (from, to, kind, seq) => Buffer.from(JSON.stringify({ event: EVENT_OUT[kind], data: { room: from.room, to: to.peerId, [FIELD[kind]]: BODY[kind](seq) } }));
const expectedRelay = (receiver, kind, seq) => ({ event: EVENT_IN[kind], data: { room: receiver.partner.room, peer_id: receiver.partner.peerId, [FIELD[kind]]: BODY[kind](seq) } });

/** Decoded frame against the expectation; the generic path may add `payload: null`. */
function sameRelay(got, expected) {
  if (got?.event !== expected.event || typeof got.data !== 'object' || got.data === null) return false;
  const { payload, ...rest } = got.data;
  return (payload === undefined || payload === null) && isDeepStrictEqual(rest, expected.data);
}

const readBuffer = Buffer.allocUnsafe(256 * 1024);
const histogram = new Histogram(2000);
let phase = null;
let measureFrom = Infinity;
let measureTo = -Infinity;
let releasing = false;
let stopping = false;
let received = 0;
let checked = 0;
let mismatches = [];

function fail(message) {
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(1);
}

class Connection {
  constructor(pair, side, node) {
    Object.assign(this, { pair, side, node, port: ports[node], room: `${roomPrefix}-${pair}`, partner: null, peerId: null });
    this.upgraded = false;
    this.relaying = false;
    this.pending = null;
    this.inbox = [];
    this.waiter = null;
    this.tables = {};
    this.sendTimes = new Float64Array(RING);
    this.sendHead = this.sendTail = this.inFlight = this.nextSeq = this.expectSeq = this.receivedInPhase = 0;
    this.expectSize = -1;
  }

  open() {
    return new Promise((resolve, reject) => {
      this.resolveUpgrade = resolve;
      this.socket = connect({ host: '127.0.0.1', port: this.port, noDelay: true, onread: { buffer: readBuffer, callback: (size, buffer) => this.onData(buffer.subarray(0, size)) } });
      this.socket.on('error', reject);
      this.socket.on('close', () => stopping || fail(`connection ${this.side}-${this.pair} closed by node ${this.node}`));
      this.socket.on('connect', () =>
        this.socket.write(
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
    });
  }

  next(predicate, what, timeoutMs = 10_000) {
    const index = this.inbox.findIndex(predicate);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.side}-${this.pair} (node ${this.node}): no ${what} within ${timeoutMs / 1000} s; got ${JSON.stringify(this.inbox).slice(0, 300)}`)), timeoutMs);
      this.waiter = { predicate, resolve: (message) => (clearTimeout(timer), resolve(message)) };
    });
  }

  write(message) {
    this.socket.write(maskedFrame(Buffer.from(JSON.stringify(message))));
  }

  send(count, at) {
    for (let index = 0; index < count; index++) {
      this.sendTimes[this.sendHead] = at;
      this.sendHead = (this.sendHead + 1) & (RING - 1);
    }
    this.inFlight += count;
    if (this.inFlight > RING) fail(`more than ${RING} relays in flight on one connection`);
    const { table, offsets } = this.tables[phase.body];
    let remaining = count;
    let seq = this.nextSeq;
    const chunks = [];
    while (remaining > 0) {
      const take = Math.min(remaining, SEQ_SPACE - seq);
      chunks.push(table.subarray(offsets[seq], offsets[seq + take]));
      remaining -= take;
      seq = (seq + take) % SEQ_SPACE;
    }
    this.nextSeq = seq;
    this.socket.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  }

  onData(chunk) {
    const buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    if (!this.upgraded) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return void (this.pending = Buffer.from(buffer));
      const head = buffer.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) return fail(`upgrade refused by node ${this.node}: ${head.split('\r\n')[0]}`);
      this.upgraded = true;
      offset = end + 4;
      this.resolveUpgrade();
    }
    const now = performance.now();
    let relays = 0;
    const length = buffer.length;
    while (readFrame(buffer, offset, frame)) {
      const { opcode, start, end } = frame;
      offset = end;
      if (opcode === 0x1 || opcode === 0x2) {
        if (this.relaying) {
          this.onRelay(buffer, start, offset, now);
          relays += 1;
        } else {
          const message = JSON.parse(buffer.subarray(start, offset).toString('utf8'));
          if (this.waiter?.predicate(message)) {
            const { resolve } = this.waiter;
            this.waiter = null;
            resolve(message);
          } else this.inbox.push(message);
        }
      } else if (opcode === 0x8) {
        if (!stopping) return fail(`connection ${this.side}-${this.pair} got a close frame from node ${this.node}`);
      } else if (opcode === 0x9) {
        this.socket.write(PONG_FRAME);
      }
    }
    this.pending = offset < length ? Buffer.from(buffer.subarray(offset)) : null;
    if (relays > 0 && releasing) this.send(relays, now);
  }

  onRelay(buffer, start, end, now) {
    const sender = this.partner;
    const sentAt = sender.sendTimes[sender.sendTail];
    sender.sendTail = (sender.sendTail + 1) & (RING - 1);
    sender.inFlight -= 1;
    const seq = this.expectSeq;
    this.expectSeq = seq + 1 === SEQ_SPACE ? 0 : seq + 1;
    received += 1;
    if (sentAt >= measureFrom && sentAt < measureTo) histogram.recordMs(now - sentAt);
    const size = end - start;
    const verify = this.receivedInPhase % SAMPLE_EVERY === 0;
    this.receivedInPhase += 1;
    if (verify || size !== this.expectSize) {
      checked += 1;
      let got;
      try {
        got = JSON.parse(buffer.subarray(start, end).toString('utf8'));
      } catch (error) {
        got = { undecodable: String(error) };
      }
      if (sameRelay(got, expectedRelay(this, phase.body, seq))) this.expectSize = size;
      else if (mismatches.length < 5) mismatches.push({ phase: phase.body, receiver: `${this.side}-${this.pair}`, seq, size, got: JSON.stringify(got).slice(0, 300) });
      else mismatches.push(null);
    }
  }
}

const sample = () => sampleCpu([...pids, process.pid]);

// ---------------------------------------------------------------- setup

const setupStarted = performance.now();
const setupWatchdog = setTimeout(() => fail('setup not done within 90 s'), 90_000);
const tokens = [];
for (const port of ports) {
  const response = await fetch(`http://127.0.0.1:${port}/app`, { method: 'POST', body: JSON.stringify({ app: 'bench-cluster', password: appPassword }) });
  const token = (await response.json().catch(() => null))?.response?.token;
  if (typeof token !== 'string') fail(`POST /app on port ${port} gave no token: ${response.status}`);
  tokens.push(token);
}

async function openPeer(connection) {
  await connection.open();
  connection.peerId = (await connection.next((message) => message.event === 'welcome', 'welcome')).data.peer_id;
  connection.write({ event: 'auth-request', data: tokens[connection.node], id: 1 });
  const accepted = await connection.next((message) => message.id === 1, 'auth-accept');
  if (accepted.event !== 'auth-accept') throw new Error(`auth-request refused: ${JSON.stringify(accepted)}`);
}

async function meet(a, b) {
  a.write({ event: 'room-create-request', data: { room: a.room }, id: 2 });
  const created = await a.next((message) => message.id === 2, 'room-create-accept');
  if (created.event !== 'room-create-accept') throw new Error(`room-create-request refused: ${JSON.stringify(created)}`);
  b.write({ event: 'room-join-request', data: { room: a.room } });
  const request = await a.next((message) => message.event === 'room-join-request' && message.data?.peer_id === b.peerId, 'room-join-request');
  a.write({ event: 'room-join-accept', data: { room: a.room, peer_id: request.data.peer_id } });
  const accepted = await b.next((message) => message.event === 'room-join-accept' || message.event === 'room-join-reject', 'room-join-accept');
  if (accepted.event !== 'room-join-accept') throw new Error(`join refused: ${JSON.stringify(accepted)}`);
  await a.next((message) => message.event === 'room-user-join', 'room-user-join');
}

/** One ICE relay each way, before the frames are counted: a refused relay is named here. */
async function probe(a, b) {
  for (const [from, to] of [[a, b], [b, a]]) {
    from.write({ event: EVENT_OUT.ice, data: { room: from.room, to: to.peerId, [FIELD.ice]: iceBody(0) } });
    const got = await Promise.race([
      to.next((message) => message.event === EVENT_IN.ice, 'probe relay', 5000),
      from.next((message) => message.event === 'error', 'error').then((error) => Promise.reject(new Error(`relay node ${from.node} -> node ${to.node} refused: ${JSON.stringify(error.data)}`))),
    ]);
    if (!sameRelay(got, expectedRelay(to, 'ice', 0))) throw new Error(`probe relay arrived wrong: ${JSON.stringify(got).slice(0, 300)}`);
    from.waiter = null;
  }
}

const pool = [];
const pairList = placement.map(([ownerNode, joinerNode], pair) => {
  const a = new Connection(pair, 'a', ownerNode);
  const b = new Connection(pair, 'b', joinerNode);
  a.partner = b;
  b.partner = a;
  pool.push(a, b);
  return [a, b];
});
try {
  for (let index = 0; index < pairList.length; index += 8) {
    await Promise.all(pairList.slice(index, index + 8).map(async ([a, b]) => (await openPeer(a), await openPeer(b), await meet(a, b), await probe(a, b))));
  }
} catch (error) {
  fail(`setup: ${error.message}`);
}
for (const connection of pool) {
  if (connection.inbox.length > 0) fail(`unexpected setup messages on ${connection.side}-${connection.pair}: ${JSON.stringify(connection.inbox).slice(0, 300)}`);
  connection.relaying = true;
  for (const kind of phases) {
    const frames = Array.from({ length: SEQ_SPACE }, (_, seq) => maskedFrame(relayPayload(connection, connection.partner, kind, seq)));
    const offsets = new Uint32Array(SEQ_SPACE + 1);
    frames.forEach((frame, index) => (offsets[index + 1] = offsets[index] + frame.length));
    connection.tables[kind] = { table: Buffer.concat(frames), offsets };
  }
}
clearTimeout(setupWatchdog);
const setupMs = performance.now() - setupStarted;

// ---------------------------------------------------------------- phases

async function drain(seconds) {
  const deadline = performance.now() + seconds * 1000;
  const inFlight = () => pool.reduce((sum, connection) => sum + connection.inFlight, 0);
  while (inFlight() !== 0) {
    if (performance.now() > deadline) return inFlight();
    await sleep(5);
  }
  return 0;
}

for (const kind of phases) {
  phase = { body: kind };
  measureFrom = Infinity;
  measureTo = -Infinity;
  for (const connection of pool) {
    connection.sendHead = connection.sendTail = connection.inFlight = connection.nextSeq = connection.expectSeq = connection.receivedInPhase = 0;
    connection.expectSize = -1;
  }
  histogram.reset();
  checked = 0;
  mismatches = [];
  releasing = true;
  const start = performance.now();
  for (const connection of pool) connection.send(depth, start);
  await sleep(warmupMs);
  const receivedBefore = received;
  const before = sample();
  measureFrom = performance.now();
  measureTo = Infinity;
  await sleep(durationMs);
  const after = sample();
  measureTo = performance.now();
  const receivedInWindow = received - receivedBefore;
  releasing = false;
  const undelivered = await drain(10);
  if (undelivered > 0) fail(`phase ${kind}: ${undelivered} relays still in flight 10 s after the window`);
  const payloadBytes = relayPayload(pool[0], pool[1], kind, 0).length;
  process.stdout.write(
    `${JSON.stringify({
      phase: kind,
      received: receivedInWindow,
      seconds: (after.at - before.at) / 1000,
      p50: histogram.percentileMs(0.5),
      p99: histogram.percentileMs(0.99),
      max: histogram.max,
      checked,
      mismatchCount: mismatches.length,
      mismatches: mismatches.filter(Boolean),
      payloadBytes,
      setupMs,
      cpu: { before, after },
    })}\n`,
  );
}
stopping = true;
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
for (const connection of pool) connection.socket.destroy();
process.exit(0);
