#!/usr/bin/env node
// Chat fan-out (issue 10): one message posted in a public chat item reaches every attendee who
// joined it, Switchyard against Socket.IO 4.8 broadcasting the same push in the same run
// (DESIGN.md rule 9).
//
//   npm run build && node bench/ws/chat-fanout.mjs   (npm run bench:chat)
//   node bench/ws/chat-fanout.mjs [--attendees 10000] [--messages 100] [--warmup-messages 5]
//        [--server-core 0] [--load-core 1] [--json]
//
// The gateway (bench/ws/live-servers.mjs switchyard, connection limits off, the chat's per-user
// rate raised for the one organiser who posts back to back) runs pinned to --server-core; this
// process seeds it over /ws (login, organisation, public event, itinerary, one `chat` item,
// moderation `trust`; not measured). Then, in a child pinned to --load-core
// (bench/ws/live-load.mjs, mode fanout, scenario chat): A attendees join the chat with
// `consumer_chat_get {id}` (anonymous: a public event's chat is readable), and the organiser posts
// `consumer_chat_send {id, text}` M times, one at a time; every push is timed at every attendee.
// Baseline: Socket.IO 4.8 with a room of the same number of socket.io-client attendees; the
// organiser emits `chat` {name}, the handler puts the text into the gateway's captured push and
// does `io.to('event').emit('consumer_chat_receive', payload)`: no validation, no log.
// Prints a markdown block for bench/RESULTS.md (or, with --json, the figures as JSON); progress
// goes to stderr. Targets are reported, never asserted.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertBuilt, fmt, machineInfo, revision, ticksPerSecond, uptimeLine, watchdog } from '../lib/system.mjs';
import { evaluateFanOut, fileDescriptorLimit, pinnedChildren, pushHistogram, seedClient, sendLoopFromHistogram, socketIoSendLoops } from '../lib/live.mjs';

const DEFAULTS = { attendees: 10_000, messages: 100, 'warmup-messages': 5, 'server-core': 0, 'load-core': 1 };
const { values } = parseArgs({
  options: {
    ...Object.fromEntries(Object.entries(DEFAULTS).map(([name, value]) => [name, { type: 'string', default: String(value) }])),
    json: { type: 'boolean', default: false },
  },
});
const S = Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name.replace(/-(\w)/g, (_, letter) => letter.toUpperCase()), Number(values[name])]));
for (const [name, value] of Object.entries(S)) if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number`);
/** Validity, as shares of one core over the window (as bench/ws/live-events.mjs part B). */
const VALID = { loadMax: 0.85, otherMax: 0.1, stealMax: 0.05 };
/** Issue 10's target: at least twice Socket.IO's deliveries per second. */
const TARGET_DELIVERY_RATIO = 2;
const PUSH = 'consumer_chat_receive';
/** The organiser posts back to back: the per-user chat rate (a flood guard) would refuse it. */
const GATEWAY_ENV = { SWITCHYARD_CHAT_MESSAGES_PER_SECOND: '10000', SWITCHYARD_CHAT_MESSAGE_BURST: '10000' };
const log = (line) => console.error(`[chat-fanout] ${line}`);

assertBuilt();
const { limit: fdLimit, hard: fdHard } = fileDescriptorLimit(S.attendees + 258, S.attendees, log);
// Seeding, two loads (connects at >= 100/s, messages capped at 5 s each).
watchdog(120 + 2 * (60 + S.attendees / 100 + (S.messages + S.warmupMessages) * 0.5));
const { startServer, runLoad } = pinnedChildren({ fdLimit, serverCore: S.serverCore, loadCore: S.loadCore });


async function seed(port, username, password) {
  const started = performance.now();
  const client = await seedClient(port);
  await client.ask('login', { username, password });
  const organisation = (await client.ask('admin_organisation_create', { data: { name: 'Chat Bench Org', website: 'https://bench.example' } }, 201)).data.response.id;
  const day = Date.UTC(2026, 5, 1);
  const iso = (ms) => new Date(ms).toISOString();
  const eventId = (await client.ask('admin_event_create', { data: { organisation, name: 'Chat Bench Summit', start_date: iso(day), end_date: iso(day + 86_400_000), public: true } }, 201)).data.response.id;
  const itinerary = (await client.ask('admin_itinerary_create', { data: { event: eventId, name: 'Day 1', start_date: iso(day + 8 * 3600_000), end_date: iso(day + 18 * 3600_000) } }, 201)).data.response.id;
  const item = { itinerary, type: 'chat', name: 'Main stage chat', order: 0, start_date: iso(day + 8 * 3600_000), end_date: iso(day + 18 * 3600_000), configuration: { moderation: 'trust', mode: 'group' } };
  const chatItemId = (await client.ask('admin_item_create', { data: item }, 201)).data.response.id;
  client.close();
  return { eventId, chatItemId, seedMs: performance.now() - started };
}

const startedAt = new Date();
const loadBefore = uptimeLine();
const scratch = mkdtempSync(join(tmpdir(), 'switchyard-chat-bench-'));
const tag = Math.random().toString(36).slice(2, 8);
const results = [];
let seeding;
try {
  const gateway = await startServer('switchyard', JSON.stringify(GATEWAY_ENV));
  log(`gateway on port ${gateway.port} (pid ${gateway.pid}); seeding`);
  let fanOptions;
  try {
    seeding = await seed(gateway.port, gateway.username, gateway.password);
    fanOptions = { mode: 'fanout', scenario: 'chat', attendees: S.attendees, updates: S.messages, warmupUpdates: S.warmupMessages, eventId: seeding.eventId, chatItemId: seeding.chatItemId, itemIds: [seeding.chatItemId], tag };
    log(`Switchyard: ${S.attendees} attendees, ${S.messages} messages`);
    const before = await pushHistogram(gateway.port, PUSH);
    const report = await runLoad({ ...fanOptions, server: 'switchyard', port: gateway.port, serverPid: gateway.pid, username: gateway.username, password: gateway.password });
    report.sendLoop = sendLoopFromHistogram(before, await pushHistogram(gateway.port, PUSH));
    if (!report.capturedPush) throw new Error('no push captured from the gateway');
    writeFileSync(join(scratch, 'push.json'), JSON.stringify(report.capturedPush));
    results.push(evaluateFanOut('Switchyard', report, VALID));
  } finally {
    await gateway.stop();
  }
  const sio = await startServer('socketio', join(scratch, 'push.json'));
  log(`Socket.IO 4.8: ${S.attendees} attendees`);
  try {
    const report = await runLoad({ ...fanOptions, server: 'socketio', port: sio.port, serverPid: sio.pid });
    report.sendLoop = await socketIoSendLoops(sio.port);
    results.push(evaluateFanOut('Socket.IO 4.8', report, VALID));
  } finally {
    await sio.stop();
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const machine = machineInfo();
const loadAfter = uptimeLine();
const [sy, sio] = results;
/** Deliveries per second while messages go one at a time: every attendee's copy, over the time from the post to the last receipt. */
for (const row of results) row.deliveriesPerSecond = S.attendees / (row.total.p50 / 1000);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
const ratios = { deliveries: ratio(sy?.deliveriesPerSecond, sio?.deliveriesPerSecond), totalP99: ratio(sy?.total.p99, sio?.total.p99), serverMsPerMessage: ratio(sy?.serverMsPerUpdate, sio?.serverMsPerUpdate) };
const command = `node bench/ws/chat-fanout.mjs ${process.argv.slice(2).join(' ')}`.trim();
if (values.json) {
  console.log(JSON.stringify({ startedAt, command, settings: S, machine, revision: revision(), loadBefore, loadAfter, seedMs: seeding?.seedMs, results, ratios }, null, 2));
  process.exit(0);
}
const yesNo = (row) => (row.valid ? 'yes' : `no: ${row.problems.join('; ')}`);
const out = [];
out.push(`## Chat fan-out (issue 10) — bench:chat, ${startedAt.toISOString()}`);
out.push('', `- machine: ${machine.nproc} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}; code ${revision()}; fd limit ${fdLimit} (hard ${fdHard})`);
out.push(`- command: \`${command}\` (\`npm run bench:chat\` builds, then runs this with the defaults)`);
out.push(
  `- setup: server \`taskset -c ${S.serverCore}\`, load generator \`taskset -c ${S.loadCore}\` (ws 8 attendees without deflate; Socket.IO attendees: socket.io-client 4.8, websocket transport); ` +
    `the gateway with its default configuration but the per-address connection limits, the sign-in deadline and the chat's per-user rate off; loopback; one public event, one chat item (moderation trust)`,
);
out.push(`- load before: \`${loadBefore}\``, `- load after: \`${loadAfter}\``);
out.push('', `### One message to ${fmt.int(S.attendees)} attendees, ${S.messages} messages (after ${S.warmupMessages} unmeasured), one at a time`);
out.push('', '| server | attendees | deliveries/s (p50) | total p50 ms | total p99 ms | fan-out p50 ms | fan-out p99 ms | first p50 ms | push B | server ms/message | load ms/message | server CPU | load CPU | other CPU | valid |');
out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
for (const r of results) {
  out.push(
    `| ${r.label} | ${fmt.int(S.attendees)} | ${fmt.int(r.deliveriesPerSecond)} | ${fmt.ms(r.total.p50)} | ${fmt.ms(r.total.p99)} | ${fmt.ms(r.fanout.p50)} | ${fmt.ms(r.fanout.p99)} | ` +
      `${fmt.ms(r.first.p50)} | ${fmt.int(r.pushBytes)} | ${r.serverMsPerUpdate.toFixed(1)} | ${r.loadMsPerUpdate.toFixed(1)} | ${fmt.pct(r.serverCpu)} | ${fmt.pct(r.loadCpu)} | ${fmt.pct(r.otherCpu)} | ${yesNo(r)} |`,
  );
}
const loops = results.filter((r) => r.sendLoop);
if (loops.length > 0) {
  out.push('', '| server | send loop mean ms | send loop p50 ms | send loop p99 ms | pushes |', '|---|--:|--:|--:|--:|');
  for (const r of loops) {
    const bound = (value) => (r.sendLoop.exact ? fmt.ms(value) : `≤ ${fmt.ms(value)}`);
    out.push(`| ${r.label} | ${fmt.ms(r.sendLoop.meanMs)} | ${bound(r.sendLoop.p50Ms)} | ${bound(r.sendLoop.p99Ms)} | ${fmt.int(r.sendLoop.pushes)} |`);
  }
}
out.push(
  '', '- per message: total = last attendee\'s receipt − the organiser\'s post; fan-out = last − first receipt; deliveries/s = attendees ÷ total p50. ' +
    'Switchyard: `consumer_chat_send` validated, rate-checked, committed to the log, pushed from the log to the chat\'s audience (encoded once per wire format); ' +
    'send loop: the `switchyard_push_fanout_seconds` histogram (quantiles as bucket bounds) and Socket.IO\'s `io.to().emit()` timed around the call',
);
if (sy && sio) {
  out.push(
    `- Switchyard / Socket.IO: deliveries/s **${ratios.deliveries.toFixed(2)}** (target ≥ ${TARGET_DELIVERY_RATIO}: ${ratios.deliveries >= TARGET_DELIVERY_RATIO ? 'met' : 'missed'}), ` +
      `total p99 ${ratios.totalP99.toFixed(2)}, server CPU per message ${ratios.serverMsPerMessage.toFixed(2)}`,
  );
}
for (const r of results) {
  if (r.loadBound) out.push(`- **${r.label}: the load generator was the bottleneck** (${fmt.pct(r.loadCpu)} of its core, ${r.loadMsPerUpdate.toFixed(1)} ms per message): receipt times bound the figures`);
}
out.push(
  '', `- valid when: load ≤ ${fmt.pct(VALID.loadMax)} of its core and its CPU per message < 80 % of the fan-out p50 (CPU comes in ${1000 / ticksPerSecond()} ms ticks), every push received and right, ` +
    `other processes ≤ ${fmt.pct(VALID.otherMax)}, steal ≤ ${fmt.pct(VALID.stealMax)}`,
);
console.log(out.join('\n'));
process.exit(0);
