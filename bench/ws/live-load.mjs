// Load generator of bench/ws/live-events.mjs (issue 9), run as a pinned child:
//
//   node bench/ws/live-load.mjs '<json options>'
//
// mode `get` (part A): `clients` raw WebSocket connections each send one request frame and,
// on each answer, the next (closed loop, one in flight per connection), for a warm-up and then a
// window of `durationMs`. Every request carries the same `id`, so every answer of a server is
// the same bytes: each is checked by length, every VERIFY_EVERY-th byte for byte against the
// answer the driver captured.
//
// mode `fanout` (part B): `attendees` sockets join the event's audience or its chat item (see
// SCENARIOS; Switchyard: on /ws, ws library clients; Socket.IO: socket.io-client 4.x,
// websocket transport, `join` acked), then an organiser socket in this same process changes an
// item's name (or posts a message) `updates` times, one at a time: update i+1 goes out only once every attendee has
// the push of update i (or CAP_MS passed) and the organiser has its answer. Per update:
// t0 = the organiser's send, t_first / t_last = the first / last attendee's receipt of a push
// holding the new name; fan-out = t_last - t_first, total = t_last - t0.
//
// Attendees find the name with a substring search and never parse the push (one attendee per
// update does, to check it): a JSON.parse of a 20 KB push per attendee would cost the load
// core more than the server spends sending it, and the load would be what is measured. For
// the same reason the Socket.IO attendees get a decoder that hands the push packet on as its
// raw text; socket.io-client does the rest (handshake, heartbeats, acks) as usual.
//
// Prints one JSON line with the figures and CPU samples of the window, or {"error"}.

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { Histogram, sampleCpu } from '../lib/system.mjs';

const options = JSON.parse(process.argv[2]);
const BATCH = 200; // sockets opened at once: a burst of thousands would test the SYN backlog
const VERIFY_EVERY = 64;
const CAP_MS = 5000; // an update not delivered to everyone by then counts its missing pushes
const GIVE_UP_AFTER = 5; // consecutive incomplete updates: the server is not keeping up; stop
/**
 * What part B fans out. `itinerary` (bench/ws/live-events.mjs): attendees follow the event with
 * `consumer_event_get {id}`, the organiser renames an item with `admin_item_update`, the push is
 * `consumer_itinerary_update`. `chat` (bench/ws/chat-fanout.mjs): attendees join the chat item
 * with `consumer_chat_get {id}`, the organiser posts with `consumer_chat_send {id, text}`, the push
 * is `consumer_chat_receive`. The update's unique name is the item's new name or the message text.
 */
const SCENARIOS = {
  itinerary: {
    push: 'consumer_itinerary_update',
    join: ({ eventId }) => ({ event: 'consumer_event_get', data: { id: eventId } }),
    send: (itemId, name) => ({ event: 'admin_item_update', data: { id: itemId, data: { name } } }),
    sent: 200,
    holds: (data, itemId, name) => data?.event === options.eventId && data?.itinerary?.items?.find((candidate) => candidate.id === itemId)?.name === name,
  },
  chat: {
    push: 'consumer_chat_receive',
    join: ({ chatItemId }) => ({ event: 'consumer_chat_get', data: { id: chatItemId } }),
    send: (_itemId, name) => ({ event: 'consumer_chat_send', data: { id: options.chatItemId, text: name } }),
    sent: 201,
    holds: (data, _itemId, name) => JSON.stringify(data).includes(JSON.stringify(name)),
  },
};
const scenario = SCENARIOS[options.scenario ?? 'itinerary'];
if (!scenario) throw new Error(`unknown scenario ${options.scenario}`);
const PUSH = scenario.push;

const fail = (message) => {
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(1);
};
process.on('uncaughtException', (error) => fail(error.stack ?? String(error)));
process.on('unhandledRejection', (error) => fail(error?.stack ?? String(error)));

/** A ws client as the existing load scripts open them: no deflate (the gateway has none), no UTF-8 check on receipt. */
function openWs(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 256 * 1024 * 1024 });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
  });
}

/** Opens `count` things BATCH at a time, each batch awaited. */
async function inBatches(count, open) {
  const all = [];
  for (let index = 0; index < count; index += BATCH) {
    all.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - index) }, (_, offset) => open(index + offset)))));
  }
  return all;
}

/** The first frame on `socket` for which `match(parsed)` holds; for small setup answers only. */
function nextJson(socket, match, what, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (socket.off('message', onMessage), reject(new Error(`no ${what} within ${timeoutMs} ms`))), timeoutMs);
    const onMessage = (data) => {
      const frame = JSON.parse(data.toString());
      if (!match(frame)) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(frame);
    };
    socket.on('message', onMessage);
  });
}

// ---------------------------------------------------------------- part A: closed-loop get

// Raw net.Sockets, as bench/ws/load.mjs: an 800 KB answer through the ws library costs the
// load core a second copy (ws assembles each message) on top of the kernel's, and the
// baseline's rate would be the load's. Frames are parsed only as far as their headers; the
// payload is never copied, only compared in place when it is verified.
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function maskedFrame(text) {
  const payload = Buffer.from(text);
  const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([header, MASK, payload.map((byte, index) => byte ^ MASK[index & 3])]);
}

/** Connects and upgrades on /ws; resolves with the socket and whatever followed the 101's headers. */
function openRaw(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let seen = Buffer.alloc(0);
    const onData = (chunk) => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const status = seen.subarray(0, seen.indexOf('\r\n')).toString();
      if (!status.includes(' 101 ')) return reject(new Error(`upgrade refused: ${status}`));
      resolve({ socket, rest: seen.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () =>
      socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
  });
}

/** Payload length and header size of a server (unmasked) frame header in `h[0..n)`, or null if incomplete. */
function frameHeader(h, n) {
  if (n < 2) return null;
  const short = h[1] & 0x7f;
  if (short < 126) return { size: 2, length: short };
  if (short === 126) return n < 4 ? null : { size: 4, length: h.readUInt16BE(2) };
  return n < 10 ? null : { size: 10, length: h.readUInt32BE(2) * 2 ** 32 + h.readUInt32BE(6) };
}

async function getLoop() {
  const { port, serverPid, clients, warmupMs, durationMs, request, responseFile, welcome } = options;
  const expected = readFileSync(responseFile);
  const requestFrame = maskedFrame(request);
  const histogram = new Histogram(10_000);
  let measuring = false;
  let running = true;
  let answered = 0;
  let bytes = 0;
  let mismatches = 0;
  let firstMismatch = null;
  const connections = await inBatches(clients, () => openRaw(port));
  for (const { socket, rest } of connections) {
    // The gateway greets every socket with `welcome` first: it is skipped, not an answer.
    let skip = welcome ? 1 : 0;
    let sentAt = 0;
    let frames = 0;
    const header = Buffer.alloc(14);
    let headerBytes = 0;
    let left = -1; // payload bytes still to come of the current frame; -1 while in a header
    let length = 0;
    let opcode = 0;
    let verify = false;
    let wrong = false;
    const send = () => {
      sentAt = performance.now();
      socket.write(requestFrame);
    };
    const frameDone = () => {
      const now = performance.now();
      left = -1;
      if (opcode >= 8) return; // a control frame (a ping): no answer
      if (skip > 0) return void (skip -= 1, send());
      if (wrong || opcode !== 1 || length !== expected.length) {
        mismatches += 1;
        firstMismatch ??= `opcode ${opcode}, ${length} B${wrong ? ', bytes differ' : ''}`;
      }
      if (measuring) {
        histogram.recordMs(now - sentAt);
        answered += 1;
        bytes += length;
      }
      if (running) send();
    };
    const onData = (chunk) => {
      let at = 0;
      while (at < chunk.length) {
        if (left < 0) {
          header[headerBytes++] = chunk[at++];
          const parsed = frameHeader(header, headerBytes);
          if (!parsed || headerBytes < parsed.size) continue;
          [opcode, length, left, headerBytes] = [header[0] & 0x0f, parsed.length, parsed.length, 0];
          verify = opcode === 1 && length === expected.length && frames++ % VERIFY_EVERY === 0;
          wrong = false;
          if (left === 0) frameDone();
          continue;
        }
        const take = Math.min(left, chunk.length - at);
        const offset = length - left;
        if (verify && chunk.compare(expected, offset, offset + take, at, at + take) !== 0) wrong = true;
        at += take;
        left -= take;
        if (left === 0) frameDone();
      }
    };
    socket.on('data', onData);
    socket.on('close', () => running && fail('a get connection closed'));
    if (rest.length > 0) onData(rest);
    if (!welcome) send();
  }
  await sleep(warmupMs);
  const before = sampleCpu([serverPid, process.pid]);
  measuring = true;
  await sleep(durationMs);
  measuring = false;
  const after = sampleCpu([serverPid, process.pid]);
  running = false;
  process.stdout.write(
    `${JSON.stringify({
      answered,
      bytes,
      seconds: (after.at - before.at) / 1000,
      p50: histogram.percentileMs(0.5),
      p99: histogram.percentileMs(0.99),
      max: histogram.max,
      responseBytes: expected.length,
      mismatches,
      firstMismatch,
      cpu: { before, after },
    })}\n`,
  );
  for (const { socket } of connections) socket.destroy();
}

// ---------------------------------------------------------------- part B: push fan-out

/**
 * The current update, shared by every attendee's handler: its name (as text and bytes), times
 * and how many attendees have it. `seen[attendee]` is the last update an attendee counted, so
 * a second push holding the same name is not counted twice.
 */
const update = { index: -1, name: '', nameBytes: Buffer.alloc(0), t0: 0, first: 0, last: 0, received: 0, done: null };
let pushBytes = 0;
let capturedPush = null;
let badPushes = 0;
let firstBadPush = null;

function arrived(attendee, seen, now) {
  if (seen[attendee] === update.index + 1) return;
  seen[attendee] = update.index + 1;
  if (update.received === 0) update.first = now;
  update.last = now;
  update.received += 1;
  if (update.received === options.attendees) update.done?.();
}

/** Attendee 0 parses each push it gets: the name must be on the updated item, the push about the event. */
function check(text, event, itemId) {
  const frame = JSON.parse(text);
  const data = Array.isArray(frame) ? frame[1] : frame.data;
  const name = Array.isArray(frame) ? frame[0] : frame.event;
  if (name !== PUSH || !scenario.holds(data, itemId, update.name)) {
    badPushes += 1;
    firstBadPush ??= text.slice(0, 300);
  }
  if (capturedPush === null && name === PUSH) capturedPush = data;
}

async function switchyardAudience() {
  const { port, eventId, attendees, username, password, itemIds } = options;
  const url = `ws://127.0.0.1:${port}/ws`;
  const seen = new Uint32Array(attendees);
  const sockets = await inBatches(attendees, async (attendee) => {
    const socket = await openWs(url);
    const join = scenario.join(options);
    socket.send(JSON.stringify({ ...join, id: 1 }));
    const answer = await nextJson(socket, (frame) => frame.id === 1, `${join.event} answer`);
    if (answer.data?.status !== 200) throw new Error(`${join.event} refused: ${JSON.stringify(answer).slice(0, 300)}`);
    socket.on('message', (data) => {
      if (data.indexOf(update.nameBytes) === -1) return;
      const now = performance.now();
      if (attendee === 0) {
        pushBytes = data.length;
        check(data.toString(), eventId, itemIds[update.index % itemIds.length]);
      }
      arrived(attendee, seen, now);
    });
    socket.on('close', (code) => update.done !== 'stopped' && fail(`attendee ${attendee} closed (${code})`));
    return socket;
  });
  const organiser = await openWs(url);
  const loggedIn = nextJson(organiser, (frame) => frame.id === 1, 'login answer', 120_000);
  organiser.send(JSON.stringify({ event: 'login', data: { username, password }, id: 1 }));
  const login = await loggedIn;
  if (login.event === 'error' || login.data?.code) throw new Error(`login refused: ${JSON.stringify(login).slice(0, 300)}`);
  let nextId = 2;
  return {
    send(itemId, name) {
      const id = nextId++;
      const command = scenario.send(itemId, name);
      const answered = nextJson(organiser, (frame) => frame.id === id && frame.data?.status !== 202, `${command.event} result`, CAP_MS * 2);
      organiser.send(JSON.stringify({ ...command, id }));
      return answered.then((frame) => {
        if (frame.data?.status !== scenario.sent && frame.data?.status !== 200) throw new Error(`${command.event} failed: ${JSON.stringify(frame).slice(0, 300)}`);
      });
    },
    close: () => [organiser, ...sockets],
  };
}

async function socketIoAudience() {
  const { io } = await import('socket.io-client');
  const parser = await import('socket.io-parser');
  const { port, eventId, attendees, itemIds } = options;
  // The push packet as socket.io-parser receives it (Engine.IO's "4" already stripped).
  const prefix = `${parser.PacketType.EVENT}["${PUSH}",`;
  class RawPushDecoder extends parser.Decoder {
    add(chunk) {
      if (typeof chunk === 'string' && chunk.startsWith(prefix)) {
        this.emitReserved('decoded', { type: parser.PacketType.EVENT, nsp: '/', data: [PUSH, chunk] });
      } else super.add(chunk);
    }
  }
  const clientOptions = {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 60_000,
    parser: { protocol: parser.protocol, Encoder: parser.Encoder, Decoder: RawPushDecoder },
  };
  const url = `http://127.0.0.1:${port}`;
  const connectOne = () =>
    new Promise((resolve, reject) => {
      const socket = io(url, clientOptions);
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  const seen = new Uint32Array(attendees);
  const sockets = await inBatches(attendees, async (attendee) => {
    const socket = await connectOne();
    const answer = await socket.timeout(60_000).emitWithAck('join', 'event');
    if (answer?.status !== 200) throw new Error(`join refused: ${JSON.stringify(answer)}`);
    socket.on(PUSH, (text) => {
      if (text.indexOf(update.name) === -1) return;
      const now = performance.now();
      if (attendee === 0) {
        pushBytes = Buffer.byteLength(text) + 1; // + Engine.IO's "4": the frame on the wire
        check(text.slice(1), eventId, itemIds[update.index % itemIds.length]);
      }
      arrived(attendee, seen, now);
    });
    socket.on('disconnect', (reason) => update.done !== 'stopped' && fail(`attendee ${attendee} disconnected (${reason})`));
    return socket;
  });
  const organiser = await connectOne();
  return {
    send(itemId, name, seq) {
      return organiser
        .timeout(CAP_MS * 2)
        .emitWithAck(options.scenario === 'chat' ? 'chat' : 'update', { item: itemId, name, seq })
        .then((answer) => {
          if (answer?.status !== 200 && answer?.status !== 201) throw new Error(`update failed: ${JSON.stringify(answer)}`);
        });
    },
    close: () => [organiser, ...sockets],
  };
}

async function fanOut() {
  const { server, serverPid, attendees, updates, warmupUpdates, itemIds, tag } = options;
  const setupStarted = performance.now();
  const organiser = server === 'socketio' ? await socketIoAudience() : await switchyardAudience();
  const setupMs = performance.now() - setupStarted;
  const totals = [];
  const fanouts = [];
  const firsts = [];
  let missing = 0;
  let incompleteInARow = 0;
  let before = null;
  let measuredFrom = 0;
  for (let index = 0; index < warmupUpdates + updates; index++) {
    if (index === warmupUpdates) {
      before = sampleCpu([serverPid, process.pid]);
      measuredFrom = performance.now();
    }
    // Same length every time (the push's size stays put); unique, so a stale push never matches.
    update.index = index;
    update.name = `Live ${tag} ${String(index).padStart(6, '0')}`;
    update.nameBytes = Buffer.from(update.name);
    update.received = 0;
    const everyone = new Promise((resolve) => (update.done = resolve));
    const itemId = itemIds[index % itemIds.length];
    update.t0 = performance.now();
    const answered = organiser.send(itemId, update.name, index + 1);
    let timer;
    const capped = new Promise((resolve) => (timer = setTimeout(resolve, CAP_MS)));
    await Promise.race([everyone, capped]);
    clearTimeout(timer);
    await answered;
    const complete = update.received === attendees;
    incompleteInARow = complete ? 0 : incompleteInARow + 1;
    if (index >= warmupUpdates) {
      missing += attendees - update.received;
      if (update.received > 0) {
        totals.push(update.last - update.t0);
        fanouts.push(update.last - update.first);
        firsts.push(update.first - update.t0);
      }
    }
    if (incompleteInARow >= GIVE_UP_AFTER) fail(`${GIVE_UP_AFTER} updates in a row did not reach every attendee within ${CAP_MS} ms (last: ${update.received} of ${attendees})`);
  }
  const elapsedMs = performance.now() - measuredFrom;
  const after = sampleCpu([serverPid, process.pid]);
  update.done = 'stopped';
  process.stdout.write(
    `${JSON.stringify({ setupMs, elapsedMs, totals, fanouts, firsts, missing, pushBytes, badPushes, firstBadPush, capturedPush, cpu: { before, after } })}\n`,
  );
  for (const socket of organiser.close()) (socket.terminate ?? socket.disconnect).call(socket);
}

if (options.mode === 'get') await getLoop();
else if (options.mode === 'fanout') await fanOut();
else fail(`unknown mode ${options.mode}`);
process.exit(0);
