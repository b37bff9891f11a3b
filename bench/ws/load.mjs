// Closed-loop WebSocket load generator for bench/ws/ping.mjs, run as a pinned child:
//
//   node bench/ws/load.mjs '<json options>'
//
// The `ws` client cannot keep up with uWS, so this speaks the protocol on raw net.Sockets:
// the HTTP upgrade by hand, client frames pre-encoded and pre-masked once at start (the
// mask key is fixed; RFC 6455 wants it unpredictable, which matters against proxies, not
// against a server), server frames parsed only as far as their length. Each of N
// connections keeps K frames in flight: every reply read releases one new frame, and all
// the frames released by one read go out in one write.
//
// Replies on a connection come back in order (the ping handler answers synchronously), so
// latency is measured FIFO: the send time of each in-flight frame sits in a ring, the
// oldest matching the next reply. Every SAMPLE_EVERY-th reply is decoded in full and
// checked (event name and id), so a server that answers wrongly cannot score.
//
// Prints one JSON line with counts, latency percentiles and the CPU samples of the window.

import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Histogram, sampleCpu } from '../lib/system.mjs';
import { PONG_FRAME, readFrame } from '../lib/ws-frames.mjs';

/** readFrame's out-parameter, shared by every connection of this process (one frame is read at a time). */
const frame = { opcode: 0, start: 0, end: 0 };

const options = JSON.parse(process.argv[2]);
const {
  port,
  serverPid,
  connections,
  depth,
  warmupMs,
  durationMs,
  codec, // 'json' | 'msgpack'
  subprotocol, // header value or null
  expectWelcome,
  replyEvent, // 'pong' (Switchyard) or 'ping' (echo)
} = options;

const ID_SPACE = 8192;
const SAMPLE_EVERY = 997;
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/**
 * Frames for ids 1..ID_SPACE back to back in one buffer: n consecutive ids are one
 * zero-copy subarray, so a write of n frames costs no encoding and no copy.
 */
function buildFrameTable() {
  const frames = [];
  for (let id = 1; id <= ID_SPACE; id++) {
    const payload = codec === 'json' ? Buffer.from(JSON.stringify({ event: 'ping', id })) : Buffer.from(msgpackEncode({ event: 'ping', id }));
    if (payload.length > 125) throw new Error('ping frame unexpectedly large');
    const frame = Buffer.alloc(6 + payload.length);
    frame[0] = 0x80 | (codec === 'json' ? 0x1 : 0x2); // FIN + text/binary
    frame[1] = 0x80 | payload.length; // MASK bit + length
    MASK.copy(frame, 2);
    for (let index = 0; index < payload.length; index++) frame[6 + index] = payload[index] ^ MASK[index & 3];
    frames.push(frame);
  }
  const offsets = new Uint32Array(ID_SPACE + 1);
  for (let index = 0; index < ID_SPACE; index++) offsets[index + 1] = offsets[index] + frames[index].length;
  return { table: Buffer.concat(frames), offsets };
}

const { table, offsets } = buildFrameTable();
/** One read buffer for all sockets: reads are handled synchronously, one at a time. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const histogram = new Histogram(2000);
let measuring = false;
let stopping = false;
let replies = 0;
let checked = 0;
let mismatches = [];
let started = 0;

function decodePayload(payload) {
  return codec === 'json' || payload.length === 0 || payload[0] === 0x7b ? JSON.parse(payload.toString('utf8')) : msgpackDecode(payload);
}

class Connection {
  constructor(index) {
    this.index = index;
    this.upgraded = false;
    this.welcomed = !expectWelcome;
    this.pending = null; // bytes of an incomplete frame (or of the HTTP response)
    this.nextId = 1; // id of the next frame to send, 1..ID_SPACE
    this.expectId = 1; // id the next reply must carry
    this.sendTimes = new Float64Array(depth);
    this.sendHead = 0;
    this.sendTail = 0;
    this.replies = 0;
  }

  open() {
    return new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      // `onread` hands every read to us in one reused buffer: no Buffer per read, no stream
      // machinery, which is most of what a Node client costs per read. onData copies what
      // it keeps (an incomplete frame) before returning.
      this.socket = connect({
        host: '127.0.0.1',
        port,
        noDelay: true,
        onread: { buffer: readBuffer, callback: (size, buffer) => this.onData(buffer.subarray(0, size)) },
      });
      this.socket.on('error', reject);
      this.socket.on('close', () => {
        if (!stopping) fail(`connection ${this.index} closed by the server`);
      });
      this.socket.on('connect', () => {
        const key = randomBytes(16).toString('base64');
        this.socket.write(
          'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            (subprotocol ? `Sec-WebSocket-Protocol: ${subprotocol}\r\n` : '') +
            '\r\n',
        );
      });
    });
  }

  /** Sends `count` frames with consecutive ids: one write, usually of one table slice. */
  send(count, now) {
    for (let index = 0; index < count; index++) {
      this.sendTimes[this.sendHead] = now;
      this.sendHead = this.sendHead + 1 === depth ? 0 : this.sendHead + 1;
    }
    const first = this.nextId;
    const last = first + count - 1;
    if (last <= ID_SPACE) {
      this.socket.write(table.subarray(offsets[first - 1], offsets[last]));
      this.nextId = last === ID_SPACE ? 1 : last + 1;
    } else {
      const wrapped = last - ID_SPACE;
      this.socket.write(Buffer.concat([table.subarray(offsets[first - 1], offsets[ID_SPACE]), table.subarray(0, offsets[wrapped])]));
      this.nextId = wrapped + 1;
    }
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
      if (subprotocol && !/\r\nsec-websocket-protocol: *switchyard/i.test(head)) return fail('subprotocol not accepted');
      this.upgraded = true;
      offset = end + 4;
      if (this.welcomed) this.resolveReady();
    }
    const now = performance.now();
    let answered = 0;
    const length = buffer.length;
    while (readFrame(buffer, offset, frame)) {
      const { opcode, start, end } = frame;
      offset = end;
      if (opcode === 0x1 || opcode === 0x2) {
        if (!this.welcomed) {
          const welcome = decodePayload(buffer.subarray(start, offset));
          if (welcome.event !== 'welcome') return fail(`expected welcome first, got ${JSON.stringify(welcome)}`);
          this.welcomed = true;
          this.resolveReady();
          continue;
        }
        this.onReply(buffer, start, offset, now);
        answered += 1;
      } else if (opcode === 0x8) {
        if (!stopping) return fail(`connection ${this.index} got a close frame`);
      } else if (opcode === 0x9) {
        // Server ping: answer with a masked pong of the same (here always empty) payload.
        this.socket.write(PONG_FRAME);
      }
    }
    this.pending = offset < length ? Buffer.from(buffer.subarray(offset)) : null;
    if (answered > 0 && !stopping) this.send(answered, now);
  }

  onReply(buffer, start, end, now) {
    const sentAt = this.sendTimes[this.sendTail];
    this.sendTail = this.sendTail + 1 === depth ? 0 : this.sendTail + 1;
    const id = this.expectId;
    this.expectId = id === ID_SPACE ? 1 : id + 1;
    this.replies += 1;
    replies += 1;
    if (measuring) histogram.recordMs(now - sentAt);
    if (this.replies % SAMPLE_EVERY === 1) {
      checked += 1;
      const frame = decodePayload(buffer.subarray(start, end));
      if (frame.event !== replyEvent || frame.id !== id) {
        if (mismatches.length < 5) mismatches.push({ expected: { event: replyEvent, id }, got: frame });
      }
    }
  }
}

function fail(message) {
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(1);
}

const timeout = setTimeout(() => fail('connections not ready within 15 s'), 15_000);
const pool = Array.from({ length: connections }, (_, index) => new Connection(index));
// Open in small groups: a burst of hundreds of upgrades would test the accept queue, not ping.
for (let index = 0; index < pool.length; index += 16) {
  await Promise.all(pool.slice(index, index + 16).map((connection) => connection.open()));
}
clearTimeout(timeout);

started = performance.now();
for (const connection of pool) connection.send(depth, started);

await new Promise((resolve) => setTimeout(resolve, warmupMs));
histogram.reset();
const repliesBefore = replies;
const before = sampleCpu([serverPid, process.pid]);
measuring = true;
await new Promise((resolve) => setTimeout(resolve, durationMs));
const after = sampleCpu([serverPid, process.pid]);
const repliesAfter = replies;
measuring = false;
stopping = true;

process.stdout.write(
  `${JSON.stringify({
    replies: repliesAfter - repliesBefore,
    seconds: (after.at - before.at) / 1000,
    p50: histogram.percentileMs(0.5),
    p99: histogram.percentileMs(0.99),
    max: histogram.max,
    checked,
    mismatches,
    cpu: { before, after },
  })}\n`,
);
for (const connection of pool) connection.socket.destroy();
process.exit(0);
