// Load generator of bench/ws/poll-answers.mjs (issue 10), run as a pinned child:
//
//   node bench/ws/poll-load.mjs '<json options>'
//
// Opens one socket per user (Switchyard: on /ws, `authorize {method:"oauth2", token}`, then the
// poll's join `consumer_poll_get {id}`; Socket.IO: socket.io-client 4.x, websocket transport,
// `auth: {name}`, `join` acked, answers with emitWithAck) and one observer socket that only joins
// and reads the results pushes (`consumer_poll_answer` without `id`). Then, open loop: answer k
// is due at start + k / rate and goes out at that time, whatever is still unanswered, on the
// socket of its user: a thread sleeping to each due time (Atomics.wait) wakes the main one,
// which sends every answer due by its own clock, as bench/micro/append.mjs latencyRun does
// (there the schedule is polled with setImmediate, which here would keep the load's core at
// 100 % and its CPU would say nothing of its work). Its latency is from the intended time to
// its result (the 201 frame with its id, or the ack): a server that falls behind is charged for
// the queue it builds (no coordinated omission).
//
// Order of the answers: answer j of a window (warm-up or measured) is user u = j mod U, round
// r = floor(j / U), question (r + u) mod Qw of that window's Qw questions; each (user,
// question) pair once, every user once per round and, when U >= Qw, every question once per
// round: results of every question change all the time (the most pushes the coalescing lets
// through). The warm-up (the first `warmup` answers, not recorded) uses its own questions.
//
// The observer credits a push of `responses: n` for question q to the first n answers sent to
// q (answers commit in about the order they are sent; an answer refused shifts it by one): the
// time from an answer's intended send to the first push that counts it. At the end, the last
// push of every measured question must count every answer accepted for it.
//
// Users' sockets get every push too: they are LeanSockets (below; Socket.IO: socket.io-client
// on Engine.IO's websocket transport over a LeanSocket) that drop a push unparsed as its frame
// is read (Switchyard: a frame without "status"; Socket.IO: a packet starting
// `42["consumer_poll_answer",`), so the load's core goes to the answers it times, not to
// decoding 100,000 pushes a second. The observers use the stock clients (ws; socket.io-client)
// and parse every push.
//
// Prints one JSON line with the figures and CPU samples of the window, or {"error"}.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { Histogram, sampleCpu } from '../lib/system.mjs';

const options = JSON.parse(process.argv[2]);
const { server, port, serverPid, itemId, rate, warmup, measured, questionIds, warmupQuestionIds } = options;
/** [{name, token?}], from a file: a few hundred tokens would pass the kernel's bound on one argument. */
const users = JSON.parse(readFileSync(options.usersFile, 'utf8'));
const BATCH = 32; // sockets set up at once: under the gateway's 64 sign-ins in flight per address
const SETTLE_MS = 10_000; // an answer without a result this long after the last send counts as an error
const FINAL_PUSH_MS = 1000; // how long the last results pushes get after the last answer
const ID_BASE = 100; // frame ids of answers: ID_BASE + k (setup frames use 1 and 2)
const RESULTS = 'consumer_poll_answer';

const fail = (message) => {
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(1);
};
process.on('uncaughtException', (error) => fail(error.stack ?? String(error)));
process.on('unhandledRejection', (error) => fail(error?.stack ?? String(error)));

const U = users.length;
const total = warmup + measured;
/** (user, question) of answer k. */
function pairOf(k) {
  const windowIds = k < warmup ? warmupQuestionIds : questionIds;
  const j = k < warmup ? k : k - warmup;
  const user = j % U;
  const round = Math.floor(j / U);
  const question = windowIds[(round + user) % windowIds.length];
  return { user, question, answer: String((user + round) % 4) };
}
if (measured > U * questionIds.length || warmup > U * warmupQuestionIds.length) fail('more answers than (user, question) pairs');

// ---------------------------------------------------------------- figures, shared by both servers

const latency = new Histogram(60_000);
const pushLatency = new Histogram(60_000);
let start = 0;
let measuring = false;
let settled = 0;
let answered = 0; // measured answers accepted (201)
let errors = 0;
let firstError = null;
let lastSettledAt = 0;
let wake = () => {};
const accepted = new Map(); // measured question -> answers accepted
const intendedAt = (k) => start + (k * 1000) / rate;

function settle(k, ok, what) {
  const now = performance.now();
  settled += 1;
  lastSettledAt = now;
  if (k >= warmup) {
    if (ok) {
      answered += 1;
      latency.recordMs(now - intendedAt(k));
      const { question } = pairOf(k);
      accepted.set(question, (accepted.get(question) ?? 0) + 1);
    } else {
      errors += 1;
      firstError ??= what;
    }
  } else if (!ok) {
    // A warm-up refusal is a broken setup: counted all the same, and named as such.
    errors += 1;
    firstError ??= `warm-up: ${what}`;
  }
  if (settled === total) wake();
}

// The observer: pushes in the window, per question, and the credit of each push to answers.
const sentTo = new Map(); // question -> answer indexes k in send order
const credited = new Map(); // question -> how many of them a push has counted
const lastResponses = new Map(); // question -> responses of its newest push
const pushesByQuestion = new Map(); // measured questions only: the warm-up's last pushes come late
const measuredQuestions = new Set(questionIds);
let pushesInWindow = 0;
let pushesTotal = 0;
let badPushes = 0;
let firstBadPush = null;

function observed(data) {
  const now = performance.now();
  pushesTotal += 1;
  const { question, responses, answers, closed } = data ?? {};
  if (data?.id !== itemId || typeof question !== 'string' || !Number.isInteger(responses) || !Array.isArray(answers) || closed !== false
      || answers.reduce((sum, answer) => sum + answer.count, 0) !== responses) {
    badPushes += 1;
    firstBadPush ??= JSON.stringify(data).slice(0, 300);
    return;
  }
  if (measuring && measuredQuestions.has(question)) {
    pushesInWindow += 1;
    pushesByQuestion.set(question, (pushesByQuestion.get(question) ?? 0) + 1);
  }
  if (responses < (lastResponses.get(question) ?? 0)) {
    badPushes += 1;
    firstBadPush ??= `results went back: ${JSON.stringify(data).slice(0, 300)}`;
  }
  lastResponses.set(question, responses);
  const sent = sentTo.get(question);
  if (!sent) return;
  let done = credited.get(question) ?? 0;
  while (done < responses && done < sent.length) {
    const k = sent[done++];
    if (k >= warmup) pushLatency.recordMs(now - intendedAt(k));
  }
  credited.set(question, done);
}

// ---------------------------------------------------------------- the users' WebSocket

/**
 * A lean WebSocket client for the users' sockets, which get every push: raw TCP read into a
 * buffer of its own, frames parsed in place, and a message `drop` says is a push is never
 * copied or decoded. With the ws library
 * each of ~100,000 pushes a second (1,000 pushes to 101 sockets) costs a Buffer, an event and a
 * string, and the load's core is pegged before the server's. The API is the part of ws's that
 * this file and Engine.IO's websocket transport use: on('open'|'message'|'close'|'error') and
 * onopen/onmessage({data})/onclose/onerror, send, close, terminate. Client frames are masked
 * with a zero key (RFC 6455 asks for a mask, any key will do), so a send is one copy.
 */
class LeanSocket extends EventEmitter {
  constructor(url, { drop } = {}) {
    super();
    const target = new URL(url);
    this.drop = drop;
    this.readyState = 0;
    this.binaryType = 'nodebuffer';
    this.pending = null;
    this.fragments = null;
    this.closeCode = 1006;
    // `onread`: each read lands in this socket's own buffer and comes straight here, without a
    // Buffer per read or the stream machinery of 'data' events (net.connect's documented option).
    this.socket = connect({
      port: Number(target.port),
      host: target.hostname,
      onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: (bytes, buffer) => void this.received(buffer.subarray(0, bytes)) },
    });
    this.socket.setNoDelay(true);
    this.socket.once('connect', () => {
      const key = randomBytes(16).toString('base64');
      this.socket.write(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('error', (error) => {
      this.onerror?.(error);
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
    this.socket.on('close', () => {
      this.readyState = 3;
      this.onclose?.({ code: this.closeCode });
      this.emit('close', this.closeCode);
    });
  }

  received(chunk) {
    const buffer = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let at = 0;
    if (this.readyState === 0) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return void (this.pending = Buffer.from(buffer));
      const status = buffer.toString('latin1', 0, buffer.indexOf('\r\n'));
      if (!status.startsWith('HTTP/1.1 101 ')) {
        this.socket.destroy(new Error(`upgrade refused: ${status}`));
        return;
      }
      this.readyState = 1;
      at = end + 4;
      this.onopen?.();
      this.emit('open');
    }
    while (buffer.length - at >= 2) {
      const first = buffer[at];
      let length = buffer[at + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buffer.length - at < 4) break;
        length = buffer.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (buffer.length - at < 10) break;
        length = buffer.readUInt32BE(at + 2) * 2 ** 32 + buffer.readUInt32BE(at + 6);
        header = 10;
      }
      if (buffer.length - at < header + length) break;
      const start = at + header;
      at = start + length;
      this.frame((first & 0x80) !== 0, first & 0x0f, buffer, start, at);
    }
    // A copy: the read buffer is reused by the next read.
    if (at < buffer.length) this.pending = Buffer.from(buffer.subarray(at));
  }

  frame(fin, opcode, buffer, start, end) {
    if (opcode === 0 || !fin) {
      if (opcode !== 0) this.fragments = { opcode, parts: [] };
      this.fragments.parts.push(Buffer.from(buffer.subarray(start, end)));
      if (!fin) return;
      const whole = Buffer.concat(this.fragments.parts);
      const first = this.fragments.opcode;
      this.fragments = null;
      this.message(first, whole, 0, whole.length);
    } else if (opcode === 1 || opcode === 2) {
      this.message(opcode, buffer, start, end);
    } else if (opcode === 8) {
      this.closeCode = end - start >= 2 ? buffer.readUInt16BE(start) : 1005;
      if (this.readyState === 1) this.write(0x88, buffer.subarray(start, Math.min(end, start + 2)));
      this.readyState = 2;
      this.socket.end();
    } else if (opcode === 9) {
      this.write(0x8a, buffer.subarray(start, end));
    }
  }

  message(opcode, buffer, start, end) {
    if (this.drop?.(buffer, start, end)) return;
    const data = opcode === 1 ? buffer.toString('utf8', start, end) : Buffer.from(buffer.subarray(start, end));
    this.onmessage?.({ data });
    this.emit('message', data);
  }

  write(firstByte, payload) {
    const length = payload.length;
    const header = length < 126 ? 6 : length < 65536 ? 8 : 14;
    const frame = Buffer.allocUnsafe(header + length);
    frame[0] = firstByte;
    if (length < 126) frame[1] = 0x80 | length;
    else if (length < 65536) (frame[1] = 0x80 | 126), frame.writeUInt16BE(length, 2);
    else (frame[1] = 0x80 | 127), frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2), frame.writeUInt32BE(length >>> 0, 6);
    frame.writeUInt32BE(0, header - 4); // the mask key: zero
    payload.copy(frame, header);
    this.socket.write(frame);
  }

  send(data) {
    if (this.readyState !== 1) throw new Error('LeanSocket is not open');
    this.write(typeof data === 'string' ? 0x81 : 0x82, typeof data === 'string' ? Buffer.from(data) : Buffer.from(data));
  }

  close() {
    if (this.readyState === 1) {
      this.write(0x88, Buffer.from([0x03, 0xe8]));
      this.readyState = 2;
    }
    this.socket.end();
  }

  terminate() {
    this.socket.destroy();
  }
}

function openLean(url, drop) {
  return new Promise((resolve, reject) => {
    const socket = new LeanSocket(url, { drop });
    socket.once('open', () => (socket.off('error', reject), resolve(socket)));
    socket.once('error', reject);
  });
}

// ---------------------------------------------------------------- Switchyard: /ws (users LeanSockets, the observer ws)

function openWs(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
  });
}

/** The first frame on `socket` with this id (setup only). */
function answerTo(socket, id, what, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (socket.off('message', onMessage), reject(new Error(`no ${what} answer within ${timeoutMs} ms`))), timeoutMs);
    const onMessage = (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.id !== id || frame.data?.status === 202) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(frame);
    };
    socket.on('message', onMessage);
  });
}

async function inBatches(count, open) {
  const all = [];
  for (let index = 0; index < count; index += BATCH) {
    all.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - index) }, (_, offset) => open(index + offset)))));
  }
  return all;
}

const STATUS = Buffer.from('"status"');
let stopping = false;
let receipts = 0;

async function switchyardSockets() {
  const url = `ws://127.0.0.1:${port}/ws`;
  const join = async (socket, what) => {
    socket.send(JSON.stringify({ event: 'consumer_poll_get', data: { id: itemId }, id: 2 }));
    const answer = await answerTo(socket, 2, `${what} consumer_poll_get`);
    if (answer.data?.status !== 200) throw new Error(`${what}: consumer_poll_get refused: ${JSON.stringify(answer).slice(0, 300)}`);
    return answer;
  };
  // Pushes carry no status: dropped unparsed. Receipts (202) and results (201 or refusals) are parsed.
  const dropPush = (buffer, start, end) => buffer.subarray(start, end).indexOf(STATUS) === -1;
  const sockets = await inBatches(U, async (index) => {
    const socket = await openLean(url);
    socket.send(JSON.stringify({ event: 'authorize', data: { method: 'oauth2', token: users[index].token }, id: 1 }));
    const authorized = await answerTo(socket, 1, `user ${index} authorize`);
    if (authorized.event !== 'authorized') throw new Error(`user ${index}: authorize refused: ${JSON.stringify(authorized).slice(0, 300)}`);
    await join(socket, `user ${index}`);
    // From now on: the sign-in and join answers have no status either.
    socket.drop = dropPush;
    socket.on('message', (data) => {
      const frame = JSON.parse(data);
      if (typeof frame.id !== 'number' || frame.id < ID_BASE) return;
      const status = frame.data?.status;
      if (status === 202) return void (receipts += 1);
      settle(frame.id - ID_BASE, status === 201, JSON.stringify(frame).slice(0, 300));
    });
    socket.on('close', (code) => !stopping && fail(`user ${index}'s socket closed (${code})`));
    return socket;
  });
  const observer = await openWs(url);
  await join(observer, 'observer');
  observer.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.event === RESULTS && frame.id === undefined) observed(frame.data);
  });
  observer.on('close', (code) => !stopping && fail(`observer closed (${code})`));
  return {
    send(k, user, question, answer) {
      sockets[user].send(JSON.stringify({ event: 'consumer_poll_answer', data: { id: itemId, question, answer }, id: ID_BASE + k }));
    },
    close: () => [observer, ...sockets].forEach((socket) => socket.terminate()),
  };
}

// ---------------------------------------------------------------- Socket.IO: socket.io-client 4.x (users on LeanSockets)

async function socketIoSockets() {
  const { io } = await import('socket.io-client');
  const { NodeWebSocket } = await import('engine.io-client');
  // A results push as Engine.IO receives it: "4" (message) + "2" (EVENT) + the name.
  const pushPrefix = Buffer.from(`42["${RESULTS}",`);
  const dropPush = (buffer, start, end) => end - start > pushPrefix.length && buffer.compare(pushPrefix, 0, pushPrefix.length, start, start + pushPrefix.length) === 0;
  /** Engine.IO's websocket transport on a LeanSocket: the users drop each push before Engine.IO decodes it. */
  class LeanTransport extends NodeWebSocket {
    createSocket(uri) {
      return new LeanSocket(uri, { drop: dropPush });
    }
    doWrite(_packet, data) {
      this.ws.send(data);
    }
  }
  const url = `http://127.0.0.1:${port}`;
  const connectOne = (auth, transport = 'websocket') =>
    new Promise((resolve, reject) => {
      const socket = io(url, {
        transports: [transport],
        forceNew: true,
        reconnection: false,
        timeout: 60_000,
        auth,
      });
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  const sockets = await inBatches(U, async (index) => {
    const socket = await connectOne({ name: users[index].name }, LeanTransport);
    const answer = await socket.timeout(60_000).emitWithAck('join', 'poll');
    if (answer?.status !== 200) throw new Error(`join refused: ${JSON.stringify(answer)}`);
    socket.on('disconnect', (reason) => !stopping && fail(`user ${index} disconnected (${reason})`));
    return socket;
  });
  const observer = await connectOne({ name: 'observer' });
  await observer.timeout(60_000).emitWithAck('join', 'poll');
  observer.on(RESULTS, observed);
  observer.on('disconnect', (reason) => !stopping && fail(`observer disconnected (${reason})`));
  return {
    send(k, user, question, answer) {
      sockets[user]
        .timeout(SETTLE_MS * 2)
        .emitWithAck('answer', { id: itemId, question, answer })
        .then(
          (ack) => settle(k, ack?.status === 201, JSON.stringify(ack).slice(0, 300)),
          (error) => settle(k, false, String(error?.message ?? error)),
        );
    },
    close: () => [observer, ...sockets].forEach((socket) => socket.disconnect()),
  };
}

// ---------------------------------------------------------------- the schedule

const setupStarted = performance.now();
const client = server === 'socketio' ? await socketIoSockets() : await switchyardSockets();
const setupMs = performance.now() - setupStarted;
await new Promise((resolve) => setTimeout(resolve, 200));

let sent = 0;
let target = 0; // answers the timer thread says are due
let before;
let measuredFrom = 0;
const sendLag = new Histogram(60_000); // how late the load sent each measured answer: its own lag, charged to the server
const allSettled = new Promise((resolve) => (wake = resolve));
start = performance.now() + 50;
/** Sends every answer whose time has come; polls on (setImmediate) while the timer thread is ahead of this clock. */
function tick() {
  const now = performance.now();
  const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
  while (sent < due) {
    const k = sent;
    if (k === warmup) {
      measuring = true;
      measuredFrom = intendedAt(k);
      before = sampleCpu([serverPid, process.pid]);
    }
    const lag = now - intendedAt(k);
    if (k >= warmup) sendLag.recordMs(lag);
    const { user, question, answer } = pairOf(k);
    let list = sentTo.get(question);
    if (!list) sentTo.set(question, (list = []));
    list.push(k);
    client.send(k, user, question, answer);
    sent += 1;
  }
  if (sent < Math.min(target, total)) setImmediate(tick);
  else if (sent === total) sendsDone();
}
let sendsDone;
const allSent = new Promise((resolve) => (sendsDone = resolve));
// The schedule's clock: a thread that sleeps (Atomics.wait, a futex with a sub-millisecond
// timeout) until each answer is due and wakes this one. Polling the schedule here with
// setImmediate, as latencyRun does, would keep this core at 100 % and the load's CPU would say
// nothing of its work; a timer here could not hit a 1 ms period.
const timer = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
   const { startAbs, rate, total } = workerData;
   const start = startAbs - performance.timeOrigin;
   const cell = new Int32Array(new SharedArrayBuffer(4));
   for (let k = 0; k < total; k++) {
     const wait = start + (k * 1000) / rate + 0.02 - performance.now();
     if (wait > 0) Atomics.wait(cell, 0, 0, wait);
     parentPort.postMessage(k + 1);
   }`,
  { eval: true, workerData: { startAbs: performance.timeOrigin + start, rate, total } },
);
timer.on('message', (due) => {
  if (due <= target) return;
  target = due;
  tick();
});
timer.on('error', (error) => fail(`schedule thread: ${error.stack ?? error}`));
await allSent;
const lastSentAt = performance.now();
let settleTimer;
await Promise.race([allSettled, new Promise((resolve) => (settleTimer = setTimeout(resolve, SETTLE_MS)))]);
clearTimeout(settleTimer);
const after = sampleCpu([serverPid, process.pid]);
measuring = false;
const unanswered = total - settled;
if (unanswered > 0) {
  errors += unanswered;
  firstError ??= `${unanswered} answers without a result ${SETTLE_MS} ms after the last send`;
}
const windowEnd = settled === total ? lastSettledAt : performance.now();
// The last results pushes: the coalescing holds one per question for up to pollResultsPushMs.
await new Promise((resolve) => setTimeout(resolve, FINAL_PUSH_MS));
let staleQuestions = 0;
let firstStale = null;
for (const question of questionIds) {
  const expected = accepted.get(question) ?? 0;
  if (expected === 0) continue;
  const got = lastResponses.get(question) ?? 0;
  if (got !== expected) {
    staleQuestions += 1;
    firstStale ??= `question ${question}: last push counts ${got}, ${expected} answers accepted`;
  }
}
const questionsAnswered = [...accepted.keys()].length;
const perQuestion = [...pushesByQuestion.values()].sort((a, b) => a - b);
stopping = true;
process.stdout.write(
  `${JSON.stringify({
    setupMs,
    sockets: U + 1,
    offered: rate,
    warmup,
    measured,
    answered,
    errors,
    firstError,
    receipts,
    seconds: (windowEnd - measuredFrom) / 1000,
    sendSeconds: (lastSentAt - measuredFrom) / 1000,
    sendLag: { p50: sendLag.percentileMs(0.5), p99: sendLag.percentileMs(0.99), max: sendLag.max },
    p50: latency.percentileMs(0.5),
    p99: latency.percentileMs(0.99),
    p999: latency.percentileMs(0.999),
    max: latency.max,
    push: { p50: pushLatency.percentileMs(0.5), p99: pushLatency.percentileMs(0.99), max: pushLatency.max, credited: pushLatency.count },
    pushesInWindow,
    pushesTotal,
    questionsAnswered,
    pushesPerQuestion: { min: perQuestion[0] ?? 0, median: perQuestion[Math.floor(perQuestion.length / 2)] ?? 0, max: perQuestion.at(-1) ?? 0 },
    badPushes,
    firstBadPush,
    staleQuestions,
    firstStale,
    cpu: { before, after },
  })}\n`,
);
client.close();
process.exit(0);
