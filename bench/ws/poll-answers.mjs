#!/usr/bin/env node
// Poll answers (issue 10): "1,000 poll answers per second with results pushed live; target:
// poll answers p99 under 50 ms at 1,000/s". Switchyard against a naive Socket.IO 4.8 poll
// server in the same run (DESIGN.md rule 9).
//
//   npm run build && node bench/ws/poll-answers.mjs
//   node bench/ws/poll-answers.mjs [--users 100] [--questions 100] [--rate 1000] [--seconds 10]
//        [--server-core 0] [--load-core 1] [--json]
//
// The gateway (bench/ws/poll-servers.mjs switchyard: connection limits and the sign-in deadline
// off, U attendee users with an access token each) runs pinned to --server-core; this process
// seeds it over /ws (login, organisation, public event, itinerary, one `poll` item with Q
// configured questions of 4 answers, show_responses; every question opened with
// `client_poll_add`, plus the warm-up's questions given whole; not measured). Then, in a child
// pinned to --load-core (bench/ws/poll-load.mjs): U sockets `authorize` with their token and
// join the poll (`consumer_poll_get`; they drop each push unparsed), one observer socket joins
// anonymously; answers
// (`consumer_poll_answer {id, question, answer}`) go out open loop at --rate per second on a
// fixed schedule, each a (user, question) pair not answered before, for a 1 s warm-up (on
// questions of its own, not recorded) and then --seconds (rate × seconds ≤ U × Q answers).
// Latency: from an answer's intended send time to its result (201). Every joined socket gets
// the results pushes (`consumer_poll_answer` without id: at most one per question per 100 ms);
// the observer counts them and times each answer to the first push that counts it.
// Baseline: Socket.IO 4.8 doing what a naive in-memory poll does (bench/ws/poll-servers.mjs
// socketio): an acked `answer` event, duplicates refused, counts in a Map, one results broadcast
// per question per 100 ms to a room of everyone; no tokens, no log, no read model.
// There is no per-user answer rate in the gateway (src/modules/polls/config.ts has none;
// src/app/config.ts's per-user limits are for logins), so nothing else is raised, except
// pollMaxQuestions when the warm-up's and the measured questions exceed its 200.
// Prints a markdown block for bench/RESULTS.md (or, with --json, the figures as JSON); progress
// goes to stderr. The target is reported, never asserted.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileDescriptorLimit, machineChecks, pinnedChildren, seedClient } from '../lib/live.mjs';
import { assertBuilt, fmt, machineInfo, revision, uptimeLine, watchdog } from '../lib/system.mjs';

const DEFAULTS = { users: 100, questions: 100, rate: 1000, seconds: 10, 'server-core': 0, 'load-core': 1 };
const { values } = parseArgs({
  options: {
    ...Object.fromEntries(Object.entries(DEFAULTS).map(([name, value]) => [name, { type: 'string', default: String(value) }])),
    json: { type: 'boolean', default: false },
  },
});
const S = Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name.replace(/-(\w)/g, (_, letter) => letter.toUpperCase()), Number(values[name])]));
for (const [name, value] of Object.entries(S)) if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number`);
for (const name of ['users', 'questions', 'rate', 'seconds']) if (S[name] < 1) throw new Error(`--${name} must be at least 1`);
/**
 * Validity, as shares of one core over the window (as bench/ws/live-events.mjs part B), and the
 * load's own lag: answers go out late while it reads a burst of pushes, and latencies count from
 * the intended time (the lag is charged to the server), so a send lag p99 over a tenth of the
 * larger of the target's p99 and the run's own would shape the figure.
 */
const VALID = { loadMax: 0.85, otherMax: 0.1, stealMax: 0.05, sendLagShare: 0.1 };
/** Issue 10's target. */
const TARGET = { p99Ms: 50, rate: 1000 };
const WARMUP_SECONDS = 1;
/** The item schema's bound on a poll configuration's questions (src/protocol/topics/itineraries.ts). */
const MAX_CONFIGURED_QUESTIONS = 100;
const RESULTS_PUSH_MS = 100; // the gateway's default pollResultsPushMs, and the baseline's
const log = (line) => console.error(`[poll-answers] ${line}`);

const measured = S.rate * S.seconds;
const warmup = S.rate * WARMUP_SECONDS;
if (S.questions > MAX_CONFIGURED_QUESTIONS) {
  console.error(`--questions is at most ${MAX_CONFIGURED_QUESTIONS} (a poll configuration's questions)`);
  process.exit(2);
}
if (measured > S.users * S.questions) {
  console.error(`--rate × --seconds (${measured}) answers need as many (user, question) pairs: --users × --questions is ${S.users * S.questions}`);
  process.exit(2);
}
/** The warm-up's own questions, given whole to client_poll_add: every user answers each once. */
const warmupQuestions = Math.ceil(warmup / S.users);
const questionIds = Array.from({ length: S.questions }, (_, index) => String(index));
const warmupQuestionIds = Array.from({ length: warmupQuestions }, (_, index) => `warmup-${index}`);
const openQuestions = S.questions + warmupQuestions;
const GATEWAY_ENV = openQuestions > 200 ? { SWITCHYARD_POLL_MAX_QUESTIONS: String(openQuestions) } : {};

assertBuilt();
const { limit: fdLimit, hard: fdHard } = fileDescriptorLimit(S.users + 258, S.users + 1, log);
// Users (scrypt, 4 at a time), seeding, two loads (warm-up, window, 10 s settle cap, setup).
watchdog(180 + S.users * 0.8 + openQuestions * 0.2 + 2 * (60 + WARMUP_SECONDS + S.seconds + S.users / 20));
const { startServer, runLoad } = pinnedChildren({ fdLimit, serverCore: S.serverCore, loadCore: S.loadCore, serverScript: 'bench/ws/poll-servers.mjs', loadScript: 'bench/ws/poll-load.mjs' });


const answersOf = (index) => ['Yes', 'No', 'Maybe', 'Pass'].map((text, order) => ({ text: `${text} (${index})`, order }));

async function seed(port, username, password) {
  const started = performance.now();
  const client = await seedClient(port);
  const login = await client.ask('login', { username, password });
  if (login.event !== 'authorized') throw new Error(`login answered ${JSON.stringify(login).slice(0, 300)}`);
  const organisation = (await client.ask('admin_organisation_create', { data: { name: 'Poll Bench Org', website: 'https://bench.example' } }, 201)).data.response.id;
  const day = Date.UTC(2026, 5, 1);
  const iso = (ms) => new Date(ms).toISOString();
  const eventId = (await client.ask('admin_event_create', { data: { organisation, name: 'Poll Bench Summit', start_date: iso(day), end_date: iso(day + 86_400_000), public: true } }, 201)).data.response.id;
  const itinerary = (await client.ask('admin_itinerary_create', { data: { event: eventId, name: 'Day 1', start_date: iso(day + 8 * 3600_000), end_date: iso(day + 18 * 3600_000) } }, 201)).data.response.id;
  const questions = questionIds.map((_, index) => ({ question: `Bench question ${index}?`, answers: answersOf(index), order: index }));
  const item = {
    itinerary, type: 'poll', name: 'Main stage poll', order: 0, start_date: iso(day + 8 * 3600_000), end_date: iso(day + 18 * 3600_000),
    configuration: { mode: 'poll', show_responses: true, questions },
  };
  const pollItemId = (await client.ask('admin_item_create', { data: item }, 201)).data.response.id;
  // One open question per command; all stay open through the run.
  for (const id of questionIds) await client.ask('client_poll_add', { id: pollItemId, question: id }, 201);
  for (const [index, id] of warmupQuestionIds.entries()) {
    await client.ask('client_poll_add', { id: pollItemId, question: { id, question: `Warm-up question ${index}?`, answers: answersOf(index).map(({ text }) => ({ text })) } }, 201);
  }
  client.close();
  return { eventId, pollItemId, seedMs: performance.now() - started };
}

function evaluate(label, report) {
  const { shares, serverCpu, loadCpu, problems } = machineChecks(report, 'latencies are partly the load generator\'s', VALID);
  if (report.badPushes > 0) problems.push(`${report.badPushes} wrong results pushes, first: ${report.firstBadPush}`);
  if (report.staleQuestions > 0) problems.push(`${report.staleQuestions} questions whose last push missed answers, first: ${report.firstStale}`);
  const lagBound = VALID.sendLagShare * Math.max(TARGET.p99Ms, report.p99);
  if (report.sendLag.p99 > lagBound) problems.push(`the load's send lag p99 ${fmt.ms(report.sendLag.p99)} ms > ${fmt.ms(lagBound)} ms`);
  const { cpu, ...figures } = report;
  return {
    label, ...figures, serverCpu, loadCpu, otherCpu: shares.other, irq: shares.irq, steal: shares.steal,
    achieved: report.answered / report.seconds,
    pushesPerSecond: report.pushesInWindow / report.seconds,
    serverMsPerAnswer: (serverCpu * shares.seconds * 1000) / report.measured,
    valid: problems.length === 0, problems,
  };
}

const startedAt = new Date();
const loadBefore = uptimeLine();
const results = [];
let seeding;
let usersMs;
const loadOptions = { rate: S.rate, warmup, measured, questionIds, warmupQuestionIds };
// The users' names and tokens go to the load in a file: the kernel bounds one argument to 128 KiB.
const scratch = mkdtempSync(join(tmpdir(), 'switchyard-poll-bench-'));
const usersFile = join(scratch, 'users.json');
try {
  const gateway = await startServer('switchyard', JSON.stringify({ users: S.users, env: GATEWAY_ENV }));
  usersMs = gateway.usersMs;
  log(`gateway on port ${gateway.port} (pid ${gateway.pid}), ${S.users} users in ${fmt.int(usersMs)} ms; seeding ${openQuestions} questions`);
  try {
    seeding = await seed(gateway.port, gateway.username, gateway.password);
    log(`seeded in ${fmt.int(seeding.seedMs)} ms; Switchyard: ${fmt.int(S.rate)} answers/s for ${WARMUP_SECONDS} + ${S.seconds} s`);
    writeFileSync(usersFile, JSON.stringify(gateway.users.map(({ name, token }) => ({ name, token }))));
    const report = await runLoad({ ...loadOptions, server: 'switchyard', port: gateway.port, serverPid: gateway.pid, itemId: seeding.pollItemId, usersFile });
    results.push(evaluate('Switchyard', report));
    log(`Switchyard: p99 ${fmt.ms(report.p99)} ms, ${report.errors} errors`);
  } finally {
    await gateway.stop();
  }
  const sio = await startServer('socketio', JSON.stringify({ pushMs: RESULTS_PUSH_MS }));
  log(`Socket.IO 4.8 on port ${sio.port}: ${fmt.int(S.rate)} answers/s for ${WARMUP_SECONDS} + ${S.seconds} s`);
  try {
    // Same names, no tokens: the baseline's users say who they are in the handshake.
    writeFileSync(usersFile, JSON.stringify(gateway.users.map(({ name }) => ({ name }))));
    const report = await runLoad({ ...loadOptions, server: 'socketio', port: sio.port, serverPid: sio.pid, itemId: seeding.pollItemId, usersFile });
    results.push(evaluate('Socket.IO 4.8', report));
    log(`Socket.IO: p99 ${fmt.ms(report.p99)} ms, ${report.errors} errors`);
  } finally {
    await sio.stop();
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const machine = machineInfo();
const loadAfter = uptimeLine();
const [sy, baseline] = results;
const met = sy.p99 <= TARGET.p99Ms && sy.errors === 0 && S.rate >= TARGET.rate;
const command = `node bench/ws/poll-answers.mjs ${process.argv.slice(2).join(' ')}`.trim();
if (values.json) {
  console.log(JSON.stringify({ startedAt, command, settings: S, warmup, warmupQuestions, machine, revision: revision(), loadBefore, loadAfter, usersMs, seedMs: seeding?.seedMs, results, target: { ...TARGET, met } }, null, 2));
  process.exit(0);
}
const yesNo = (row) => (row.valid ? 'yes' : `no: ${row.problems.join('; ')}`);
const out = [];
out.push(`## Poll answers (issue 10) — bench:polls, ${startedAt.toISOString()}`);
out.push('', `- machine: ${machine.nproc} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}; code ${revision()}; fd limit ${fdLimit} (hard ${fdHard})`);
out.push(`- command: \`${command}\``);
out.push(
  `- setup: server \`taskset -c ${S.serverCore}\`, load generator \`taskset -c ${S.loadCore}\` (users: a lean raw-TCP WebSocket client that drops each push unparsed, under socket.io-client 4.8's websocket transport for Socket.IO; observers: ws 8 and stock socket.io-client 4.8, parsing every push); loopback; ` +
    `the gateway with its default configuration but the per-address connection limits and the sign-in deadline off` +
    `${GATEWAY_ENV.SWITCHYARD_POLL_MAX_QUESTIONS ? ` and pollMaxQuestions ${GATEWAY_ENV.SWITCHYARD_POLL_MAX_QUESTIONS}` : ''}; ` +
    `one public event, one \`poll\` item (mode poll, show_responses) with ${S.questions} questions of 4 answers, all open; ` +
    `${fmt.int(S.users)} signed-in users (\`authorize\` oauth2 access tokens) and 1 anonymous observer, all joined (\`consumer_poll_get\`), so every results push goes to ${fmt.int(S.users + 1)} sockets`,
);
out.push(
  `- load: open loop, ${fmt.int(S.rate)} \`consumer_poll_answer\`/s on a fixed schedule, ${WARMUP_SECONDS} s warm-up (${fmt.int(warmup)} answers on ${warmupQuestions} questions of its own, not recorded) then ${S.seconds} s (${fmt.int(measured)} answers); ` +
    `answer j: user j mod ${S.users}, question (⌊j / ${S.users}⌋ + user) mod ${S.questions}: each (user, question) once, every question's results changing all the time; ` +
    `latency from the intended send time to the 201 result (the ack for Socket.IO), so a server falling behind is charged its queue`,
);
out.push(`- load before: \`${loadBefore}\``, `- load after: \`${loadAfter}\``);
out.push('', `### ${fmt.int(S.rate)} answers/s from ${fmt.int(S.users)} users on ${S.questions} open questions, results pushed live`);
out.push('', '| server | rate offered | answered/s | errors | p50 ms | p99 ms | p99.9 ms | max ms | results pushes/s | server CPU | load CPU | other CPU | valid |');
out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
for (const r of results) {
  out.push(
    `| ${r.label} | ${fmt.int(r.offered)} | ${fmt.int(r.achieved)} | ${fmt.int(r.errors)} | ${fmt.ms(r.p50)} | ${fmt.ms(r.p99)} | ${fmt.ms(r.p999)} | ${fmt.ms(r.max)} | ` +
      `${fmt.int(r.pushesPerSecond)} | ${fmt.pct(r.serverCpu)} | ${fmt.pct(r.loadCpu)} | ${fmt.pct(r.otherCpu)} | ${yesNo(r)} |`,
  );
}
out.push('', '| server | answer → first push counting it p50 ms | p99 ms | max ms | pushes per question (min / median / max) | frames pushed/s (× sockets) | server CPU ms per answer | load send lag p50 / p99 / max ms | irq / steal |', '|---|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const r of results) {
  out.push(
    `| ${r.label} | ${fmt.ms(r.push.p50)} | ${fmt.ms(r.push.p99)} | ${fmt.ms(r.push.max)} | ${r.pushesPerQuestion.min} / ${r.pushesPerQuestion.median} / ${r.pushesPerQuestion.max} | ` +
      `${fmt.int(r.pushesPerSecond * r.sockets)} | ${fmt.ms(r.serverMsPerAnswer)} | ${fmt.ms(r.sendLag.p50)} / ${fmt.ms(r.sendLag.p99)} / ${fmt.ms(r.sendLag.max)} | ${fmt.pct(r.irq)} / ${fmt.pct(r.steal)} |`,
  );
}
out.push(
  '', `- Switchyard: \`consumer_poll_answer\` validated, decided on the user's answers stream against the open question, committed to the SQLite log with its read-model rows (receipt 202 after the commit, then the 201), ` +
    `results pushed from the log, coalesced to one per question per ${RESULTS_PUSH_MS} ms, encoded once per wire format. Socket.IO: a Set, a Map and a timer, in memory`,
  `- results pushes/s: pushes the observer received in the window (each also went to every user); answer → first push: the observer credits a push of \`responses: n\` to the first n answers sent to its question ` +
    `(up to ${RESULTS_PUSH_MS} ms of it is the coalescing); every measured question's last push was checked to count every answer accepted for it`,
);
for (const r of results) {
  if (r.achieved < 0.98 * r.offered) {
    out.push(`- **${r.label} did not keep up**: ${fmt.int(r.achieved)} of ${fmt.int(r.offered)} answers/s offered, server at ${fmt.pct(r.serverCpu)} of its core; its latencies are mostly the queue that built up (open loop)`);
  }
}
for (const r of results) if (r.errors > 0) out.push(`- **${r.label}: ${fmt.int(r.errors)} errors** (refusals or answers without a result), first: \`${r.firstError}\``);
if (baseline && sy) out.push(`- Switchyard / Socket.IO: p99 ${fmt.ratio(sy.p99 / baseline.p99)}, server CPU per answer ${fmt.ratio(sy.serverMsPerAnswer / baseline.serverMsPerAnswer)}`);
out.push(
  `- **target** (issue 10): Switchyard poll answers p99 ≤ ${TARGET.p99Ms} ms at ${fmt.int(TARGET.rate)}/s with 0 errors: ` +
    `${S.rate < TARGET.rate ? `not measured (offered ${fmt.int(S.rate)}/s)` : met ? `**met**` : '**missed**'} (p99 ${fmt.ms(sy.p99)} ms, ${fmt.int(sy.errors)} errors${sy.valid ? '' : '; the run is not valid'})`,
  '', `- valid when: load ≤ ${fmt.pct(VALID.loadMax)} of its core and its send lag p99 ≤ ${fmt.pct(VALID.sendLagShare)} of the larger of ${TARGET.p99Ms} ms and the run's p99 (the lag is in the latencies: they are upper bounds), every push right and the last of each question complete, ` +
    `other processes ≤ ${fmt.pct(VALID.otherMax)} of a core, steal ≤ ${fmt.pct(VALID.stealMax)}; the server near its budget is not required (a latency run at a fixed rate)`,
);
console.log(out.join('\n'));
process.exit(0);
