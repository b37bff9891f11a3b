// The servers of bench/ws/poll-answers.mjs (issue 10), each run as its own (pinned) child:
//
//   node bench/ws/poll-servers.mjs switchyard '<json {users, env}>'   the real gateway from dist/, data in a tmp dir
//   node bench/ws/poll-servers.mjs socketio '<json {pushMs}>'         Socket.IO 4.8: a naive in-memory poll
//
// Each listens on 127.0.0.1, port 0, prints one JSON line {"port", "native", "pid", ...} on
// stdout once it accepts connections, and exits on SIGTERM.
//
// switchyard: as bench/ws/live-servers.mjs `switchyard` (connection limits and the sign-in
// deadline off), plus `users` attendees made with the identity service (scrypt, 4 at a time:
// the gateway's maxConcurrentPasswordHashes) and one access token each, in the ready line with
// the organiser's username and password. Everything else is created over /ws by the driver.
//
// socketio: what a naive in-memory poll server does for the same traffic. Users name
// themselves in the handshake (`auth: {name}`: no tokens, it is the baseline of the work, not
// of security). `join` (acked) puts the socket in the room `poll`; `answer {id, question,
// answer}` (acked) refuses a second answer of a name to a question (409), counts it in a Map
// and acks 201; a question's results `{id, question, closed, responses, answers:[{id, count}]}`
// go to the room as `consumer_poll_answer`, at most one per question per `pushMs`: the first
// answer after a quiet spell at once, later ones coalesced into one push at last + pushMs, as
// the gateway's PollPushes (src/modules/polls/processors.ts) does. Nothing is written anywhere.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import uWS from 'uWebSockets.js';

const kind = process.argv[2];
const options = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const native = /\[native code\]/.test(Function.prototype.toString.call(uWS.App));

function ready(extra = {}) {
  process.stdout.write(`${JSON.stringify({ native, pid: process.pid, ...extra })}\n`);
}

/** Runs `work(index)` for 0..count-1, at most `width` at once. */
async function pooled(count, width, work) {
  const results = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await work(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
  return results;
}

if (kind === 'socketio') {
  const { Server } = await import('socket.io');
  const pushMs = options.pushMs ?? 100;
  /** Answers given, as `${name}\n${question}`. */
  const answered = new Set();
  /** Per question: {counts: Map<answer id, count>, responses}. */
  const questions = new Map();
  const lastPushedAt = new Map();
  const due = new Set();
  let pushes = 0;
  const httpServer = createServer((request, response) => {
    if (request.url !== '/stats') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pushes, answers: answered.size }));
  });
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  const push = (item, question) => {
    due.delete(`${item}\n${question}`);
    lastPushedAt.set(question, performance.now());
    const state = questions.get(question);
    const answers = [...state.counts].map(([id, count]) => ({ id, count }));
    pushes += 1;
    io.to('poll').emit('consumer_poll_answer', { id: item, question, closed: false, responses: state.responses, answers });
  };
  io.on('connection', (socket) => {
    const name = String(socket.handshake.auth?.name ?? '');
    socket.on('join', (room, ack) => {
      socket.join(String(room));
      if (typeof ack === 'function') ack({ status: 200 });
    });
    socket.on('answer', (data, ack) => {
      if (typeof ack !== 'function') return;
      const { id, question, answer } = data ?? {};
      if (!name) return ack({ status: 401 });
      if (typeof question !== 'string' || typeof answer !== 'string') return ack({ status: 400 });
      const key = `${name}\n${question}`;
      if (answered.has(key)) return ack({ status: 409 });
      answered.add(key);
      let state = questions.get(question);
      if (!state) {
        // Four answers "0".."3", as the driver's poll: zeros included, in the answers' order.
        state = { counts: new Map([['0', 0], ['1', 0], ['2', 0], ['3', 0]]), responses: 0 };
        questions.set(question, state);
      }
      state.counts.set(answer, (state.counts.get(answer) ?? 0) + 1);
      state.responses += 1;
      ack({ status: 201, response: { item: id, question, answers: [answer], answered_at: new Date().toISOString() } });
      const dueKey = `${id}\n${question}`;
      if (due.has(dueKey)) return;
      due.add(dueKey);
      const last = lastPushedAt.get(question);
      const wait = last === undefined ? 0 : Math.max(0, last + pushMs - performance.now());
      setTimeout(() => push(id, question), wait);
    });
  });
  httpServer.listen(0, '127.0.0.1', () => ready({ port: httpServer.address().port }));
  process.once('SIGTERM', () => process.exit(0));
} else if (kind === 'switchyard') {
  const { loadConfig } = await import('../../dist/app/config.js');
  const { Gateway } = await import('../../dist/app/gateway.js');
  const { createLogger } = await import('../../dist/edge/logger.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-polls-'));
  const config = loadConfig({
    flags: { port: '0', host: '127.0.0.1', data: dataDir, 'log-level': 'silent' },
    env: {
      // Every bench socket comes from 127.0.0.1: the per-address storm limits are for one
      // abusive address, not for a bench standing in for many clients (as live-servers.mjs).
      SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: '0',
      SWITCHYARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '0',
      SWITCHYARD_CONNECTION_OPENS_PER_SECOND: '0',
      // The observer watches anonymously; the default 30 s deadline would close it mid-run.
      SWITCHYARD_AUTH_DEADLINE_SECONDS: '0',
      // The driver's own settings (poll-answers.mjs: pollMaxQuestions when the warm-up's
      // questions and the measured ones exceed 200).
      ...(options.env ?? {}),
    },
  });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
  // The organiser and the attendees: users of a seed organisation, made with the identity
  // service as the integration tests do (bench/ws/live-servers.mjs).
  const username = 'bench-organiser';
  const password = 'bench-organiser-correct-horse-battery';
  const seedOrganisation = await gateway.identity.createOrganisation('Bench Seed', 'bench');
  await gateway.identity.addUser({ organisation: seedOrganisation, username, password, groups: [], by: 'bench' });
  const started = performance.now();
  const users = await pooled(options.users ?? 100, 4, async (index) => {
    const name = `attendee${String(index).padStart(5, '0')}`;
    const userId = await gateway.identity.addUser({ organisation: seedOrganisation, username: name, password: `${name}-correct-horse-battery`, groups: [], by: 'bench' });
    const { token } = await gateway.identity.tokens.issue('access', { subject: userId, ttlSeconds: 86_400, now: Date.now() });
    return { name, userId, token };
  });
  ready({ port: gateway.port, username, password, users, usersMs: performance.now() - started, dataDir });
  process.once('SIGTERM', () => {
    gateway.stop().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
} else {
  console.error("usage: node bench/ws/poll-servers.mjs switchyard '<json {users, env}>' | socketio '<json {pushMs}>'");
  process.exit(2);
}
