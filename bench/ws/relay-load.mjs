// Relay load generator for bench/ws/relay.mjs, run as a pinned child:
//
//   node bench/ws/relay-load.mjs '<json options>'
//
// Modelled on bench/ws/load.mjs: raw net.Sockets, the HTTP upgrade by hand, client frames
// pre-encoded and pre-masked once per connection (fixed mask key), server frames parsed
// only as far as their length. What differs is the traffic: clients come in pairs, and each
// sends to its partner through the server.
//
// Setup, per pair of connections (a, b):
// - switchyard: both upgrade on /ws (JSON or `switchyard.v1.msgpack`; codec `mixed`: a
//   MessagePack, b JSON, so every relay crosses codecs), wait for `welcome`
//   (their peer_id), authenticate with `auth-request` and an app token from POST /app;
//   a creates room `bench-<pair>`, b asks to join, a approves, b gets `room-join-accept`;
// - socketio: Engine.IO v4 by hand on /socket.io/?EIO=4&transport=websocket: read the
//   `0{...}` open packet, send `40`, wait for `40{"sid"}` (the socket id relays address);
// - uws: upgrade on /ws?pair=<pair>; the bare relay pairs the two sockets itself.
//
// Closed loop (phases `ice` and `sdp`): each connection starts with `depth` relays in
// flight to its partner; every relay a connection receives releases one new relay back to
// the sender, and all the relays released by one read go out in one write. A pair thus
// keeps 2 x depth relays circulating. Latency is one way (sender's write to partner's
// read), both ends being in this process; a direction's relays arrive in the order they
// were sent (one TCP stream in, one out, a single-threaded server), so it is measured FIFO
// from a ring of send times per sender.
//
// Open loop (phase `open`): relays are sent on a fixed schedule (`rate` per second over all
// connections, round robin), whatever the server does, and each is timed from its intended
// send time, so a stalled server or a late generator timer counts against the latency
// (no coordinated omission). The generator's own lateness is reported as `sendLag`.
//
// Correctness while measuring: the first relay each connection receives in a phase and
// every SAMPLE_EVERY-th after it are decoded in full and compared with what the partner
// sent (event name, room, peer_id of the partner, body deep-equal, sequence in order);
// every other relay must have the exact byte size of the verified one, which an `error`
// frame or a re-encoded body would not.
//
// Prints one JSON line per phase (counts, percentiles, CPU samples of the window), then
// {"done":true}.

import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram, sampleCpu } from '../lib/system.mjs';
import { PONG_FRAME, readFrame } from '../lib/ws-frames.mjs';

/** readFrame's out-parameter, shared by every connection of this process (one frame is read at a time). */
const frame = { opcode: 0, start: 0, end: 0 };

const options = JSON.parse(process.argv[2]);
const {
  port,
  serverPid,
  server, // 'uws' | 'socketio' | 'switchyard'
  codec, // 'json' | 'msgpack' | 'mixed' (msgpack, mixed: switchyard only; mixed: side a MessagePack, side b JSON)
  pairs,
  depth,
  warmupMs,
  durationMs,
  phases, // e.g. [{ kind: 'ice' }, { kind: 'sdp' }, { kind: 'open', body: 'ice', rate: 20000 }]
  appPassword,
} = options;

/** Distinct frames per connection and phase: the body carries the sequence number modulo SEQ_SPACE. */
const SEQ_SPACE = 64;
const SAMPLE_EVERY = 499;
/** Send-time ring per connection: in flight at once is at most 2 x depth (closed loop) or the open-loop backlog. */
const RING = 16384;
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const EVENT_OUT = { ice: 'relay-ice-candidate', sdp: 'relay-session-description' };
const EVENT_IN = { ice: 'ice-candidate', sdp: 'session-description' };
const FIELD = { ice: 'ice_candidate', sdp: 'session_description' };

// ---------------------------------------------------------------- bodies

/** An ICE candidate as browsers send it (RTCIceCandidate.toJSON()), about 200 bytes of JSON. */
function iceBody(seq) {
  const port = 40000 + seq; // fixed width: every frame of a phase has the same size
  return {
    candidate: `candidate:3285374012 1 udp 1677729535 203.0.113.77 ${port} typ srflx raddr 192.168.1.23 rport ${port} generation 0 ufrag Kz3v network-id 1 network-cost 10`,
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: 'Kz3v',
  };
}

/** A Chrome-style audio+video offer, CRLF line ends, about 4 KB; the session version carries `seq`. */
function sdpBody(seq) {
  const fingerprint = 'sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3D:4D:A6:2C:91:FE:53:CF:7A:2A:43:0B';
  const transport = ['a=ice-ufrag:Kz3v', 'a=ice-pwd:4ZcD7cwDpWuUGwVbgh3zMlTC', 'a=ice-options:trickle', `a=fingerprint:${fingerprint}`, 'a=setup:actpass'];
  const lines = [
    'v=0',
    `o=- 4611731400430051336 ${String(1000 + seq)} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 2b6f3b6e-7cb4-4b3c-9d2f-5b0f3f9a6f11',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    ...transport,
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendrecv',
    'a=msid:2b6f3b6e-7cb4-4b3c-9d2f-5b0f3f9a6f11 6c1e8f0a-3a9e-4f43-8d8b-0c9f1f0f2a41',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:3735928559 cname:Yq3nB0cD8hJ2kL4m',
    'a=ssrc:3735928559 msid:2b6f3b6e-7cb4-4b3c-9d2f-5b0f3f9a6f11 6c1e8f0a-3a9e-4f43-8d8b-0c9f1f0f2a41',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 98 99',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    ...transport,
    'a=mid:1',
    'a=extmap:14 urn:ietf:params:rtp-hdrext:toffset',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:13 urn:3gpp:video-orientation',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
    'a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type',
    'a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing',
    'a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
    'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
    'a=sendrecv',
    'a=msid:2b6f3b6e-7cb4-4b3c-9d2f-5b0f3f9a6f11 9d4b2c7e-1f5a-4e0b-a3c6-7e8f9a0b1c2d',
    'a=rtcp-mux',
    'a=rtcp-rsize',
  ];
  const codecs = [
    [96, 'VP8/90000', 97, null],
    [102, 'H264/90000', 103, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f'],
    [104, 'H264/90000', 105, 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f'],
    [106, 'H264/90000', 107, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'],
    [98, 'VP9/90000', 99, 'profile-id=0'],
  ];
  for (const [payloadType, name, rtx, fmtp] of codecs) {
    lines.push(`a=rtpmap:${payloadType} ${name}`);
    for (const feedback of ['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli']) lines.push(`a=rtcp-fb:${payloadType} ${feedback}`);
    if (fmtp) lines.push(`a=fmtp:${payloadType} ${fmtp}`);
    lines.push(`a=rtpmap:${rtx} rtx/90000`, `a=fmtp:${rtx} apt=${payloadType}`);
  }
  lines.push(
    'a=ssrc-group:FID 1129165632 2871513209',
    'a=ssrc:1129165632 cname:Yq3nB0cD8hJ2kL4m',
    'a=ssrc:1129165632 msid:2b6f3b6e-7cb4-4b3c-9d2f-5b0f3f9a6f11 9d4b2c7e-1f5a-4e0b-a3c6-7e8f9a0b1c2d',
    'a=ssrc:2871513209 cname:Yq3nB0cD8hJ2kL4m',
    'a=ssrc:2871513209 msid:2b6f3b6e-7cb4-4b3c-9d2f-5b0f3f9a6f11 9d4b2c7e-1f5a-4e0b-a3c6-7e8f9a0b1c2d',
  );
  return { type: 'offer', sdp: `${lines.join('\r\n')}\r\n` };
}

const BODY = { ice: iceBody, sdp: sdpBody };

// ---------------------------------------------------------------- frames

/** A client frame: FIN + text/binary opcode, MASK bit, length, the fixed mask, the masked payload. */
function maskedFrame(payload, binary) {
  const header = payload.length < 126 ? 2 : payload.length < 65536 ? 4 : 10;
  const frame = Buffer.alloc(header + 4 + payload.length);
  frame[0] = 0x80 | (binary ? 0x2 : 0x1);
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

/** Whether `connection` speaks MessagePack: every one of a msgpack run, side a of a mixed one. */
const packs = (connection) => server === 'switchyard' && (codec === 'msgpack' || (codec === 'mixed' && connection.side === 'a'));

/** A control or setup message in this connection's protocol, as one masked frame. */
function encodeMessage(connection, message) {
  if (server === 'socketio') return maskedFrame(Buffer.from(message), false);
  if (packs(connection)) return maskedFrame(Buffer.from(msgpackEncode(message)), true);
  return maskedFrame(Buffer.from(JSON.stringify(message)), false);
}

/** The relay `from` sends to `to` (its partner): the wire payload, before masking. */
function relayPayload(from, to, kind, seq) {
  const data = { room: from.room, to: to.peerId, [FIELD[kind]]: BODY[kind](seq) };
  if (server === 'socketio') return Buffer.from(`42${JSON.stringify([EVENT_OUT[kind], data])}`);
  const frame = { event: EVENT_OUT[kind], data };
  return packs(from) ? Buffer.from(msgpackEncode(frame)) : Buffer.from(JSON.stringify(frame));
}

/** What `receiver` must get for its partner's relay number `seq`, decoded. */
function expectedRelay(receiver, kind, seq) {
  const sender = receiver.partner;
  const body = BODY[kind](seq);
  if (server === 'uws') return { event: EVENT_OUT[kind], data: { room: sender.room, to: receiver.peerId, [FIELD[kind]]: body } };
  return { event: EVENT_IN[kind], data: { room: sender.room, peer_id: sender.peerId, [FIELD[kind]]: body } };
}

function decodeServerPayload(payload, binary) {
  if (server === 'socketio') {
    const text = payload.toString('utf8');
    if (!text.startsWith('42')) return { engineIo: text };
    const [event, data] = JSON.parse(text.slice(2));
    return { event, data };
  }
  return binary ? msgpackDecode(payload) : JSON.parse(payload.toString('utf8'));
}

/** Decoded frame against the expectation; Switchyard's generic path may add `payload: null`. */
function sameRelay(got, expected) {
  if (got?.event !== expected.event || typeof got.data !== 'object' || got.data === null) return false;
  const { payload, ...rest } = got.data;
  return (payload === undefined || payload === null) && isDeepStrictEqual(rest, expected.data);
}

// ---------------------------------------------------------------- connections

/** One read buffer for all sockets: reads are handled synchronously, one at a time. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const histogram = new Histogram(2000);
const sendLag = new Histogram(2000);
let phase = null; // { kind, body, closed }
/**
 * Latency is recorded for the relays *sent* in [measureFrom, measureTo), whenever they
 * arrive (the drain after a window waits for them): the slowest relays of a window count
 * even when they land after it.
 */
let measureFrom = Infinity;
let measureTo = -Infinity;
let releasing = false;
let stopping = false;
let received = 0;
let checked = 0;
let mismatches = [];
let bytesReceived = 0;

function fail(message) {
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(1);
}

class Connection {
  constructor(pair, side) {
    this.pair = pair;
    this.side = side;
    this.room = `bench-${pair}`;
    this.partner = null;
    this.peerId = server === 'uws' ? `${side}-${pair}` : null;
    this.upgraded = false;
    this.relaying = false;
    this.pending = null; // bytes of an incomplete frame (or of the HTTP response)
    this.inbox = []; // decoded setup messages not yet taken
    this.waiter = null;
    // Relay state of the current phase.
    this.tables = {};
    this.sendTimes = new Float64Array(RING);
    this.sendHead = 0;
    this.sendTail = 0;
    this.inFlight = 0; // sent by this connection, not yet read by the partner
    this.nextSeq = 0;
    this.expectSeq = 0;
    this.receivedInPhase = 0;
    this.expectSize = -1;
  }

  open() {
    return new Promise((resolve, reject) => {
      this.resolveUpgrade = resolve;
      this.socket = connect({
        host: '127.0.0.1',
        port,
        noDelay: true,
        onread: { buffer: readBuffer, callback: (size, buffer) => this.onData(buffer.subarray(0, size)) },
      });
      this.socket.on('error', reject);
      this.socket.on('close', () => {
        if (!stopping) fail(`connection ${this.side}-${this.pair} closed by the server`);
      });
      this.socket.on('connect', () => {
        const path = server === 'uws' ? `/ws?pair=${this.pair}` : server === 'socketio' ? '/socket.io/?EIO=4&transport=websocket' : '/ws';
        this.socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
            (packs(this) ? 'Sec-WebSocket-Protocol: switchyard.v1.msgpack\r\n' : '') +
            '\r\n',
        );
      });
    });
  }

  /** The next setup message matching `predicate` (taken from the inbox, or awaited). */
  next(predicate, what) {
    const index = this.inbox.findIndex(predicate);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.side}-${this.pair}: no ${what} within 10 s; inbox ${JSON.stringify(this.inbox).slice(0, 300)}`)), 10_000);
      this.waiter = { predicate, resolve: (message) => (clearTimeout(timer), resolve(message)) };
    });
  }

  write(message) {
    this.socket.write(encodeMessage(this, message));
  }

  /** Sends `count` relays with consecutive sequence numbers to the partner, in one write. */
  send(count, now) {
    this.push(count, now);
    this.writeRelays(count);
  }

  push(count, at) {
    for (let index = 0; index < count; index++) {
      this.sendTimes[this.sendHead] = at;
      this.sendHead = (this.sendHead + 1) & (RING - 1);
    }
    this.inFlight += count;
    if (this.inFlight > RING) fail(`more than ${RING} relays in flight on one connection: the server fell behind`);
  }

  writeRelays(count) {
    const { table, offsets } = this.tables[phase.body];
    const first = this.nextSeq;
    let remaining = count;
    let at = first;
    const chunks = [];
    while (remaining > 0) {
      const take = Math.min(remaining, SEQ_SPACE - at);
      chunks.push(table.subarray(offsets[at], offsets[at + take]));
      remaining -= take;
      at = (at + take) % SEQ_SPACE;
    }
    this.nextSeq = at;
    this.socket.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  }

  onData(chunk) {
    let buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    if (!this.upgraded) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) {
        this.pending = Buffer.from(buffer);
        return;
      }
      const head = buffer.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) return fail(`upgrade refused: ${head.split('\r\n')[0]}`);
      if (packs(this) && !/\r\nsec-websocket-protocol: *switchyard\.v1\.msgpack/i.test(head)) {
        return fail('subprotocol switchyard.v1.msgpack not accepted');
      }
      this.upgraded = true;
      offset = end + 4;
      this.resolveUpgrade();
    }
    const now = performance.now();
    let relays = 0;
    const length = buffer.length;
    while (readFrame(buffer, offset, frame)) {
      const { opcode, start, end } = frame;
      const size = end - start;
      offset = end;
      if (opcode === 0x1 || opcode === 0x2) {
        // Engine.IO heartbeat: the server's `2` wants a `3` back, whatever else is going on.
        if (server === 'socketio' && size === 1 && buffer[start] === 0x32) {
          this.socket.write(PONG);
          continue;
        }
        if (this.relaying) {
          this.onRelay(buffer, start, offset, opcode === 0x2, now);
          relays += 1;
        } else {
          this.onSetupMessage(decodeServerPayload(buffer.subarray(start, offset), opcode === 0x2));
        }
      } else if (opcode === 0x8) {
        if (!stopping) return fail(`connection ${this.side}-${this.pair} got a close frame`);
      } else if (opcode === 0x9) {
        // Server ping: answer with a masked pong (empty payload; uWS pings carry none).
        this.socket.write(PONG_FRAME);
      }
    }
    this.pending = offset < length ? Buffer.from(buffer.subarray(offset)) : null;
    // Closed loop: each relay read releases one back to the partner (who sent it).
    if (relays > 0 && releasing) this.send(relays, now);
  }

  onSetupMessage(message) {
    if (this.waiter?.predicate(message)) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve(message);
    } else {
      this.inbox.push(message);
    }
  }

  onRelay(buffer, start, end, binary, now) {
    const sender = this.partner;
    const sentAt = sender.sendTimes[sender.sendTail];
    sender.sendTail = (sender.sendTail + 1) & (RING - 1);
    sender.inFlight -= 1;
    const seq = this.expectSeq;
    this.expectSeq = seq + 1 === SEQ_SPACE ? 0 : seq + 1;
    received += 1;
    bytesReceived += end - start;
    if (sentAt >= measureFrom && sentAt < measureTo) histogram.recordMs(now - sentAt);
    const size = end - start;
    const verify = this.receivedInPhase % SAMPLE_EVERY === 0;
    this.receivedInPhase += 1;
    if (verify || size !== this.expectSize) {
      checked += 1;
      let got;
      try {
        got = decodeServerPayload(buffer.subarray(start, end), binary);
      } catch (error) {
        got = { undecodable: String(error), text: buffer.subarray(start, Math.min(end, start + 200)).toString('utf8') };
      }
      const expected = expectedRelay(this, phase.body, seq);
      if (sameRelay(got, expected)) {
        this.expectSize = size;
      } else if (mismatches.length < 5) {
        mismatches.push({ phase: phase.name, receiver: `${this.side}-${this.pair}`, seq, size, expectedSize: this.expectSize, got: JSON.stringify(got).slice(0, 300) });
      } else {
        mismatches.push(null);
      }
    }
  }
}

const PONG = maskedFrame(Buffer.from('3'), false);

/** sampleCpu, plus the moment on the monotonic clock. */
function sample() {
  const taken = sampleCpu([serverPid, process.pid]);
  taken.monotonicMicros = Number(process.hrtime.bigint() / 1000n);
  return taken;
}

// ---------------------------------------------------------------- setup

const setupStarted = performance.now();
const watchdogTimer = setTimeout(() => fail('setup not done within 60 s'), 60_000);

let appToken = null;
if (server === 'switchyard') {
  const response = await fetch(`http://127.0.0.1:${port}/app`, { method: 'POST', body: JSON.stringify({ app: 'bench-relay', password: appPassword }) });
  const body = await response.json();
  appToken = body?.response?.token;
  if (typeof appToken !== 'string') fail(`POST /app gave no token: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
}

async function openPeer(connection) {
  await connection.open();
  if (server === 'switchyard') {
    const welcome = await connection.next((message) => message.event === 'welcome', 'welcome');
    connection.peerId = welcome.data.peer_id;
    connection.write({ event: 'auth-request', data: appToken, id: 1 });
    const accepted = await connection.next((message) => message.id === 1, 'auth-accept');
    if (accepted.event !== 'auth-accept') throw new Error(`auth-request refused: ${JSON.stringify(accepted)}`);
  } else if (server === 'socketio') {
    const open = await connection.next((message) => message.engineIo?.startsWith('0'), 'Engine.IO open packet');
    JSON.parse(open.engineIo.slice(1)); // must be the open packet's JSON
    connection.socket.write(maskedFrame(Buffer.from('40'), false));
    const connected = await connection.next((message) => message.engineIo?.startsWith('40'), 'Socket.IO CONNECT');
    connection.peerId = JSON.parse(connected.engineIo.slice(2)).sid;
  }
}

async function meet(a, b) {
  if (server !== 'switchyard') return;
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

const pool = [];
const pairList = [];
for (let pair = 0; pair < pairs; pair++) {
  const a = new Connection(pair, 'a');
  const b = new Connection(pair, 'b');
  a.partner = b;
  b.partner = a;
  pool.push(a, b);
  pairList.push([a, b]);
}
try {
  // A few pairs at a time: a burst of hundreds of upgrades would test the accept queue.
  for (let index = 0; index < pairList.length; index += 8) {
    await Promise.all(
      pairList.slice(index, index + 8).map(async ([a, b]) => {
        await openPeer(a);
        await openPeer(b);
        await meet(a, b);
      }),
    );
  }
} catch (error) {
  fail(`setup: ${error.message}`);
}
for (const connection of pool) {
  if (connection.inbox.length > 0) fail(`unexpected setup messages on ${connection.side}-${connection.pair}: ${JSON.stringify(connection.inbox).slice(0, 300)}`);
  connection.relaying = true;
}

// Frame tables, per connection and body kind: SEQ_SPACE relays back to back, so n
// consecutive relays are one zero-copy subarray (a wrap costs one concat).
const kinds = [...new Set(phases.map((entry) => entry.body ?? entry.kind))];
const frameBytes = {};
for (const connection of pool) {
  for (const kind of kinds) {
    const frames = [];
    for (let seq = 0; seq < SEQ_SPACE; seq++) {
      const payload = relayPayload(connection, connection.partner, kind, seq);
      frames.push(maskedFrame(payload, packs(connection)));
    }
    const offsets = new Uint32Array(SEQ_SPACE + 1);
    for (let index = 0; index < SEQ_SPACE; index++) offsets[index + 1] = offsets[index] + frames[index].length;
    connection.tables[kind] = { table: Buffer.concat(frames), offsets };
    frameBytes[kind] ??= { sentPayload: relayPayload(connection, connection.partner, kind, 0).length, bodyJson: JSON.stringify(BODY[kind](0)).length };
  }
}
clearTimeout(watchdogTimer);
const setupMs = performance.now() - setupStarted;

// ---------------------------------------------------------------- phases

function resetPhase(entry) {
  measureFrom = Infinity;
  measureTo = -Infinity;
  phase = { name: entry.kind === 'open' ? `open-${entry.body}` : entry.kind, body: entry.body ?? entry.kind };
  for (const connection of pool) {
    connection.sendHead = connection.sendTail = connection.inFlight = 0;
    connection.nextSeq = connection.expectSeq = 0;
    connection.receivedInPhase = 0;
    connection.expectSize = -1;
  }
  histogram.reset();
  sendLag.reset();
  checked = 0;
  mismatches = [];
}

/** Waits until every relay sent has arrived; returns how many had not by `seconds`. */
async function drain(seconds) {
  const deadline = performance.now() + seconds * 1000;
  const inFlight = () => pool.reduce((sum, connection) => sum + connection.inFlight, 0);
  while (inFlight() !== 0) {
    if (performance.now() > deadline) return inFlight();
    await sleep(5);
  }
  return 0;
}

function report(extra, before, after, receivedInWindow, bytesInWindow) {
  process.stdout.write(
    `${JSON.stringify({
      phase: phase.name,
      body: phase.body,
      received: receivedInWindow,
      bytesReceived: bytesInWindow,
      seconds: (after.at - before.at) / 1000,
      p50: histogram.percentileMs(0.5),
      p99: histogram.percentileMs(0.99),
      max: histogram.max,
      checked,
      mismatchCount: mismatches.length,
      mismatches: mismatches.filter(Boolean),
      frameBytes: frameBytes[phase.body],
      setupMs,
      cpu: { before, after },
      // The window on CLOCK_MONOTONIC in µs, the clock of V8's profile timestamps, so a
      // --cpu-prof of the server can be cut to the window.
      windowMicros: [before.monotonicMicros, after.monotonicMicros],
      ...extra,
    })}\n`,
  );
}

async function closedLoop(entry) {
  resetPhase(entry);
  releasing = true;
  const start = performance.now();
  for (const connection of pool) connection.send(depth, start);
  await sleep(warmupMs);
  const receivedBefore = received;
  const bytesBefore = bytesReceived;
  const before = sample();
  measureFrom = performance.now();
  measureTo = Infinity;
  await sleep(durationMs);
  const after = sample();
  measureTo = performance.now();
  const receivedInWindow = received - receivedBefore;
  const bytesInWindow = bytesReceived - bytesBefore;
  releasing = false;
  const undelivered = await drain(10);
  if (undelivered > 0) fail(`phase ${phase.name}: ${undelivered} relays still in flight 10 s after the window`);
  report({ depth }, before, after, receivedInWindow, bytesInWindow);
}

async function openLoop(entry) {
  resetPhase(entry);
  const { rate } = entry;
  const interval = 1000 / rate;
  const started = performance.now();
  let sent = 0;
  let receivedBefore = received;
  let bytesBefore = bytesReceived;
  let before = null;
  let after = null;
  const touched = new Set();
  const counts = new Map();
  const warmupEnd = started + warmupMs;
  const windowEnd = warmupEnd + durationMs;
  // The window, by intended send time: its relays are timed whenever they arrive.
  measureFrom = warmupEnd;
  measureTo = windowEnd;
  let sentInWindow = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (before === null && now >= warmupEnd) {
        receivedBefore = received;
        bytesBefore = bytesReceived;
        before = sample();
      }
      if (now >= windowEnd) {
        after = sample();
        return resolve();
      }
      // Every relay whose intended time has come goes out now, stamped with that time.
      const due = Math.floor((now - started) / interval);
      for (; sent < due; sent++) {
        const connection = pool[sent % pool.length];
        const intended = started + sent * interval;
        connection.push(1, intended);
        if (intended >= measureFrom && intended < measureTo) {
          sendLag.recordMs(now - intended);
          sentInWindow += 1;
        }
        counts.set(connection, (counts.get(connection) ?? 0) + 1);
        touched.add(connection);
      }
      for (const connection of touched) connection.writeRelays(counts.get(connection));
      touched.clear();
      counts.clear();
      setTimeout(tick, 1);
    };
    tick();
  });
  const receivedInWindow = received - receivedBefore;
  const bytesInWindow = bytesReceived - bytesBefore;
  // A server that fell behind may still owe some; they are reported, not waited for forever.
  const undelivered = await drain(20);
  report({ rate, sentInWindow, undelivered, timed: histogram.count, sendLagP50: sendLag.percentileMs(0.5), sendLagP99: sendLag.percentileMs(0.99) }, before, after, receivedInWindow, bytesInWindow);
}

for (const entry of phases) {
  if (entry.kind === 'open') await openLoop(entry);
  else await closedLoop(entry);
}
stopping = true;
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
for (const connection of pool) connection.socket.destroy();
process.exit(0);
