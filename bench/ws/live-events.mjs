#!/usr/bin/env node
// Live events (issue 9): `consumer_itinerary_get` of a 50 x 40 event and the push fan-out of
// `consumer_itinerary_update`, Switchyard against a baseline in the same run (DESIGN.md rule 9).
//
//   npm run build && node bench/ws/live-events.mjs   (npm run bench:live)
//   node bench/ws/live-events.mjs [--clients 50] [--seconds 10] [--warmup 2] [--attendees 5000]
//        [--updates 200] [--warmup-updates 5] [--itineraries 50] [--items 40] [--only a|b] [--json]
//
// The gateway (bench/ws/live-servers.mjs switchyard, limits on connections off) runs pinned to
// --server-core; this process seeds it over /ws as an organiser would (login, organisation,
// public event, itineraries, items; not measured). Then, each load in a child pinned to
// --load-core (bench/ws/live-load.mjs):
//   A. N ws connections send `consumer_itinerary_get {event}` in a closed loop; baseline: bare
//      uWS answering every frame with the gateway's answer bytes (captured once);
//   B. C attendees join the event's audience, an organiser renames an item U times, one update
//      at a time; every push is timed at every attendee; baseline: Socket.IO 4.8 broadcasting
//      the same push (captured from the gateway) to a room of C socket.io-client attendees.
// Prints a markdown block for bench/RESULTS.md (or, with --json, the figures as JSON); progress
// goes to stderr. Targets are reported, never asserted.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { assertBuilt, fmt, machineInfo, revision, ticksPerSecond, uptimeLine, watchdog } from '../lib/system.mjs';
import { evaluateFanOut, fileDescriptorLimit, machineChecks, pct, pinnedChildren, pushHistogram, sendLoopFromHistogram, socketIoSendLoops } from '../lib/live.mjs';

// Numeric options and their defaults (issue 9's sizes); cores as taskset takes them.
const DEFAULTS = { clients: 50, seconds: 10, warmup: 2, attendees: 5000, updates: 200, 'warmup-updates': 5, itineraries: 50, items: 40, 'server-core': 0, 'load-core': 1 };
const { values } = parseArgs({
  options: {
    ...Object.fromEntries(Object.entries(DEFAULTS).map(([name, value]) => [name, { type: 'string', default: String(value) }])),
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const S = Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name.replace(/-(\w)/g, (_, letter) => letter.toUpperCase()), Number(values[name])]));
for (const [name, value] of Object.entries(S)) if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number`);
const parts = values.only ? [values.only] : ['a', 'b'];
if (!parts.every((part) => part === 'a' || part === 'b')) throw new Error('--only takes a or b');
/** Validity, as shares of one core over the window (as bench/ws/relay.mjs). */
const VALID = { serverMin: 0.9, loadMax: 0.85, otherMax: 0.1, stealMax: 0.05 };
/** Issue 9's targets for the push: every attendee within 100 ms p99 at 5,000, fan-out no slower than Socket.IO's. */
const TARGET = { totalP99Ms: 100, atAttendees: 5000 };
const log = (line) => console.error(`[live-events] ${line}`);

assertBuilt();

const { limit: fdLimit, hard: fdHard } = fileDescriptorLimit(Math.max(S.clients, parts.includes('b') ? S.attendees + 2 : 0) + 256, S.attendees + S.clients, log);
// Seeding (~1 min at worst), two gateway loads and two baselines, connects at >= 100/s, updates capped at 5 s each.
watchdog(120 + 2 * (S.warmup + S.seconds + 30) + 2 * (30 + S.attendees / 100 + (S.updates + S.warmupUpdates) * 0.5));

const { startServer, runLoad } = pinnedChildren({ fdLimit, serverCore: S.serverCore, loadCore: S.loadCore });

// ---------------------------------------------------------------- seeding

/** A native /ws client for the seeding: frames by id, the Extream command's result (not its receipt). */
async function seedClient(port) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
  const pending = new Map();
  socket.on('message', (data) => {
    const text = data.toString();
    const frame = JSON.parse(text);
    const waiter = frame.id === undefined ? undefined : pending.get(frame.id);
    if (!waiter || frame.data?.status === 202) return; // a push, or the receipt before the result
    pending.delete(frame.id);
    waiter({ frame, text });
  });
  let nextId = 1;
  const ask = (event, data, expect) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, ({ frame, text }) => {
        if (expect !== undefined && frame.data?.status !== expect) reject(new Error(`${event} answered ${text.slice(0, 400)}`));
        else resolve({ frame, text });
      });
      socket.send(JSON.stringify({ event, data, id }));
    });
  return { ask, close: () => socket.close() };
}

const HOUR = 3600_000;
const DAY_ONE = Date.UTC(2026, 5, 1); // the event's first day; itinerary d is day d
const iso = (ms) => new Date(ms).toISOString();
/** A realistic mix: every item type of PROTOCOL.md section 8 with a configuration of its kind. */
const ITEM_KINDS = [
  ['rtmp', { mode: 'live', broadcast: 'rtmp://ingest.example.com/live/main' }],
  ['chat', { moderation: 'post-moderate', threads: true, mode: 'group', moderators: ['moderator-1'] }],
  ['poll', { mode: 'poll', show_responses: true, questions: [{ question: 'How was this session?', order: 0, answers: [{ text: 'Great', order: 0 }, { text: 'Fine', order: 1 }, { text: 'Not for me', order: 2 }] }] }],
  ['video', { mode: 'vod', url: 'https://cdn.example.com/vod/keynote/index.m3u8' }],
  ['webrtc', { mode: 'group', max_participants: 12 }],
  ['html', { html: '<h2>Welcome</h2><p>Sessions start on the hour; <a href="https://example.com/map">venue map</a>.</p>' }],
  ['forum', { moderation: 'trust', threads: true }],
  ['zoom', { mode: 'instant', meeting_number: '84512367890', join_url: 'https://zoom.example.com/j/84512367890' }],
  ['presentation', { slides: 42 }],
  ['chat', { moderation: 'trust', mode: 'group' }],
];

async function seed(port, username, password) {
  const started = performance.now();
  const client = await seedClient(port);
  await client.ask('login', { username, password });
  const organisation = (await client.ask('admin_organisation_create', { data: { name: 'Live Bench Org', website: 'https://bench.example' } }, 201)).frame.data.response.id;
  const event = { organisation, name: 'Live Bench Summit', start_date: iso(DAY_ONE), end_date: iso(DAY_ONE + S.itineraries * 24 * HOUR), public: true };
  const eventId = (await client.ask('admin_event_create', { data: event }, 201)).frame.data.response.id;
  const itineraryIds = await Promise.all(
    Array.from({ length: S.itineraries }, async (_, day) => {
      const start = DAY_ONE + day * 24 * HOUR + 8 * HOUR;
      const data = { event: eventId, name: `Day ${day + 1}`, description: `Programme of day ${day + 1}`, start_date: iso(start), end_date: iso(start + 10 * HOUR) };
      return (await client.ask('admin_itinerary_create', { data }, 201)).frame.data.response.id;
    }),
  );
  // Items one itinerary at a time, its items all in flight: the gateway's group commit joins them.
  const itemIdsOfFirst = [];
  for (const [day, itinerary] of itineraryIds.entries()) {
    const slot = (10 * HOUR) / S.items;
    await Promise.all(
      Array.from({ length: S.items }, async (_, index) => {
        const [type, configuration] = ITEM_KINDS[index % ITEM_KINDS.length];
        const start = DAY_ONE + day * 24 * HOUR + 8 * HOUR + index * slot;
        const data = { itinerary, type, name: `Session ${String(index + 1).padStart(2, '0')}: ${type}`, description: `A ${type} session`, order: index, start_date: iso(start), end_date: iso(start + slot), configuration };
        const id = (await client.ask('admin_item_create', { data }, 201)).frame.data.response.id;
        if (day === 0) itemIdsOfFirst[index] = id;
      }),
    );
  }
  client.close();
  // Captured on a fresh anonymous socket, as the load's, with its first id (1), as the load's requests.
  const attendee = await seedClient(port);
  const { frame, text } = await attendee.ask('consumer_itinerary_get', { event: eventId }, 200);
  attendee.close();
  const counted = frame.data.response.reduce((sum, itinerary) => sum + (itinerary.items?.length ?? 0), 0);
  if (frame.data.response.length !== S.itineraries || counted !== S.itineraries * S.items) throw new Error(`consumer_itinerary_get returned ${frame.data.response.length} itineraries, ${counted} items`);
  return { eventId, itemIds: itemIdsOfFirst, seedMs: performance.now() - started, getAnswer: text };
}

// ---------------------------------------------------------------- the run

const tag = Math.random().toString(36).slice(2, 8);
const startedAt = new Date();
const loadBefore = uptimeLine();
const scratch = mkdtempSync(join(tmpdir(), 'switchyard-live-bench-'));
const results = { a: [], b: [] };
let seeding;

function evaluateGet(label, report) {
  const { shares, serverCpu, loadCpu, problems } = machineChecks(report, 'the load, not the server, set the rate', VALID);
  if (serverCpu < VALID.serverMin) problems.push(`server CPU ${fmt.pct(serverCpu)} < ${fmt.pct(VALID.serverMin)}`);
  if (report.mismatches > 0) problems.push(`${report.mismatches} wrong answers, first: ${JSON.stringify(report.firstMismatch)}`);
  if (report.answered === 0) problems.push('no answer in the window');
  const { cpu, firstMismatch, ...figures } = report;
  return {
    label, ...figures, serverCpu, loadCpu, otherCpu: shares.other, irq: shares.irq, steal: shares.steal,
    perSecond: report.answered / report.seconds,
    megabytesPerSecond: report.bytes / report.seconds / 1e6,
    serverMicrosPerRequest: (serverCpu * report.seconds * 1e6) / report.answered,
    valid: problems.length === 0, problems,
  };
}

try {
  const gateway = await startServer('switchyard');
  log(`gateway on port ${gateway.port} (pid ${gateway.pid}); seeding ${S.itineraries} x ${S.items} items`);
  let getOptions;
  let fanOptions;
  try {
    seeding = await seed(gateway.port, gateway.username, gateway.password);
    seeding.getBytes = Buffer.byteLength(seeding.getAnswer);
    log(`seeded in ${(seeding.seedMs / 1000).toFixed(1)} s; itinerary_get answer ${fmt.int(seeding.getBytes)} B`);
    writeFileSync(join(scratch, 'get.json'), seeding.getAnswer);
    // Every request the same, `id` included: every answer is then the same bytes (checked).
    const request = JSON.stringify({ event: 'consumer_itinerary_get', data: { event: seeding.eventId }, id: 1 });
    getOptions = { mode: 'get', clients: S.clients, warmupMs: S.warmup * 1000, durationMs: S.seconds * 1000, responseFile: join(scratch, 'get.json'), request };
    fanOptions = { mode: 'fanout', attendees: S.attendees, updates: S.updates, warmupUpdates: S.warmupUpdates, eventId: seeding.eventId, itemIds: seeding.itemIds, tag };
    if (parts.includes('a')) {
      log(`A: Switchyard consumer_itinerary_get, ${S.clients} clients, ${S.seconds} s`);
      results.a.push(evaluateGet('Switchyard', await runLoad({ ...getOptions, port: gateway.port, serverPid: gateway.pid, welcome: true })));
    }
    if (parts.includes('b')) {
      log(`B: Switchyard fan-out to ${S.attendees} attendees, ${S.updates} updates`);
      const { username, password } = gateway;
      const before = await pushHistogram(gateway.port, 'consumer_itinerary_update');
      const report = await runLoad({ ...fanOptions, server: 'switchyard', port: gateway.port, serverPid: gateway.pid, username, password });
      report.sendLoop = sendLoopFromHistogram(before, await pushHistogram(gateway.port, 'consumer_itinerary_update'));
      if (!report.capturedPush) throw new Error('no push captured from the gateway');
      writeFileSync(join(scratch, 'push.json'), JSON.stringify(report.capturedPush));
      results.b.push(evaluateFanOut('Switchyard', report, VALID));
    }
  } finally {
    await gateway.stop();
  }
  if (parts.includes('a')) {
    const uws = await startServer('uws-static', join(scratch, 'get.json'));
    log('A: bare uWS static answer');
    try {
      results.a.push(evaluateGet('bare uWS, static answer', await runLoad({ ...getOptions, port: uws.port, serverPid: uws.pid })));
    } finally {
      await uws.stop();
    }
  }
  if (parts.includes('b')) {
    const sio = await startServer('socketio', join(scratch, 'push.json'));
    log(`B: Socket.IO 4.8 fan-out to ${S.attendees} attendees`);
    try {
      const report = await runLoad({ ...fanOptions, server: 'socketio', port: sio.port, serverPid: sio.pid });
      report.sendLoop = await socketIoSendLoops(sio.port);
      results.b.push(evaluateFanOut('Socket.IO 4.8', report, VALID));
    } finally {
      await sio.stop();
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// ---------------------------------------------------------------- report

const machine = machineInfo();
const loadAfter = uptimeLine();
const [sy, bare] = results.a;
const [syB, sio] = results.b;
/** Two decimals, or two significant digits below 0.1: Switchyard's get is a small fraction of the bare answer. */
const ratioText = (value) => (!Number.isFinite(value) ? 'n/a' : value < 0.1 ? value.toPrecision(2) : value.toFixed(2));
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
const ratios = {
  getPerSecond: ratio(sy?.perSecond, bare?.perSecond),
  getServerCpuPerRequest: ratio(bare?.serverMicrosPerRequest, sy?.serverMicrosPerRequest),
  fanoutP99: ratio(syB?.fanout.p99, sio?.fanout.p99),
  totalP99: ratio(syB?.total.p99, sio?.total.p99),
  updatesPerSecond: ratio(syB?.updatesPerSecond, sio?.updatesPerSecond),
  serverMsPerUpdate: ratio(syB?.serverMsPerUpdate, sio?.serverMsPerUpdate),
};
const targets = syB && {
  totalP99: { met: syB.total.p99 <= TARGET.totalP99Ms, applies: S.attendees >= TARGET.atAttendees },
  fanoutVsSocketIo: sio ? { met: syB.fanout.p99 <= sio.fanout.p99 } : undefined,
};
const command = `node bench/ws/live-events.mjs ${process.argv.slice(2).join(' ')}`.trim();

if (values.json) {
  console.log(JSON.stringify({ startedAt, command, settings: S, machine, revision: revision(), loadBefore, loadAfter, seedMs: seeding?.seedMs, a: results.a, b: results.b, ratios, targets }, null, 2));
  process.exit(0);
}
const yesNo = (row) => (row.valid ? 'yes' : `no: ${row.problems.join('; ')}`);
const met = (flag) => (flag ? 'met' : 'missed');
const out = [];
out.push(`## Live events: itinerary_get and push fan-out (issue 9) — bench:live, ${startedAt.toISOString()}`);
out.push('', `- machine: ${machine.nproc} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}; code ${revision()}; fd limit ${fdLimit} (hard ${fdHard})`);
out.push(`- command: \`${command}\` (\`npm run bench:live\` builds, then runs this with the defaults)`);
out.push(
  `- setup: server \`taskset -c ${S.serverCore}\`, load generator \`taskset -c ${S.loadCore}\` (A: raw net.Socket WebSocket clients, pre-masked request; B: ws 8 clients, no deflate; Socket.IO attendees: socket.io-client 4.8, ` +
    `websocket transport); the gateway with its default configuration but the per-address connection limits and the sign-in deadline off; loopback`,
);
out.push(
  `- data: one public event, ${S.itineraries} itineraries × ${S.items} items (${fmt.int(S.itineraries * S.items)}, all ten types in turn, dated within their day), ` +
    `created over /ws by a logged-in organiser in ${seeding ? (seeding.seedMs / 1000).toFixed(1) : '?'} s (not measured)`,
);
out.push(`- load before: \`${loadBefore}\``);
out.push(`- load after: \`${loadAfter}\``);
if (sy || bare) {
  out.push('', 
    `### A. \`consumer_itinerary_get {event}\`: ${S.clients} connections, closed loop (one request in flight each), ${S.warmup} s warm-up, ${S.seconds} s window`,
  );
  out.push('', '| server | req/s | MB/s out | server µs/req | p50 ms | p99 ms | max ms | answer B | server CPU | load CPU | other CPU | irq | steal | valid |');
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of results.a) {
    out.push(
      `| ${r.label} | ${fmt.int(r.perSecond)} | ${r.megabytesPerSecond.toFixed(1)} | ${r.serverMicrosPerRequest.toFixed(0)} | ${fmt.ms(r.p50)} | ${fmt.ms(r.p99)} | ` +
        `${fmt.ms(r.max)} | ${fmt.int(r.responseBytes)} | ${fmt.pct(r.serverCpu)} | ${fmt.pct(r.loadCpu)} | ${fmt.pct(r.otherCpu)} | ${fmt.pct(r.irq)} | ${fmt.pct(r.steal)} | ${yesNo(r)} |`,
    );
  }
  out.push('', 
    '- baseline: bare uWS (same socket options as the gateway) answers every frame with the bytes of the gateway\'s answer, captured once: ' +
      'the ceiling for sending that payload; every answer checked by size, every 64th byte for byte',
  );
  if (bare && bare.loadCpu > VALID.loadMax) {
    out.push(
      '- **the baseline is bound by the load generator**: receiving over loopback TCP costs the load core about what sending costs the server, ' +
        'so bare uWS\'s req/s is a lower bound of the ceiling and the req/s ratio an upper bound; server µs/req compares the two servers regardless',
    );
  }
  if (sy && bare) {
    out.push(
      `- Switchyard / bare uWS = **${ratioText(ratios.getPerSecond)}** in req/s; ${ratioText(ratios.getServerCpuPerRequest)} in server CPU per request` +
        `${sy.valid && bare.valid ? '' : ' — not valid, see table'}`,
    );
  }
}
if (syB || sio) {
  out.push('', 
    `### B. \`consumer_itinerary_update\` fan-out: ${fmt.int(S.attendees)} attendees, ${S.updates} updates (after ${S.warmupUpdates} unmeasured), one at a time`,
  );
  out.push('', '| server | attendees | updates/s | total p50 ms | total p99 ms | fan-out p50 ms | fan-out p99 ms | first p50 ms | max total ms | push B | server ms/update | load ms/update | server CPU | load CPU | other CPU | valid |');
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of results.b) {
    out.push(
      `| ${r.label} | ${fmt.int(S.attendees)} | ${r.updatesPerSecond.toFixed(1)} | ${fmt.ms(r.total.p50)} | ${fmt.ms(r.total.p99)} | ${fmt.ms(r.fanout.p50)} | ` +
        `${fmt.ms(r.fanout.p99)} | ${fmt.ms(r.first.p50)} | ${fmt.ms(r.total.max)} | ${fmt.int(r.pushBytes)} | ${r.serverMsPerUpdate.toFixed(1)} | ${r.loadMsPerUpdate.toFixed(1)} | ` +
        `${fmt.pct(r.serverCpu)} | ${fmt.pct(r.loadCpu)} | ${fmt.pct(r.otherCpu)} | ${yesNo(r)} |`,
    );
  }
  out.push('', 
    '- per update: total = last attendee\'s receipt − the organiser\'s send; fan-out = last − first receipt; first = first receipt − send. ' +
      'Switchyard: `admin_item_update {id, data:{name}}` (validated, committed to the log, pushed by the log processor to the event\'s audience, ' +
      'joined with `consumer_event_get {id}`); the next update goes once every attendee has the push and the organiser its result',
  );
  out.push(
    '- baseline: Socket.IO 4.8 room of the same attendees (`join`, acked); the organiser emits `update` {item, name}, the handler renames the item in the ' +
      'gateway\'s captured push and does `io.to(\'event\').emit(\'consumer_itinerary_update\', payload)`: no validation, no log, same payload',
  );
  const loops = results.b.filter((r) => r.sendLoop);
  if (loops.length > 0) {
    out.push('', '| server | send loop mean ms | send loop p50 ms | send loop p99 ms | pushes |', '|---|--:|--:|--:|--:|');
    for (const r of loops) {
      const bound = (value) => (r.sendLoop.exact ? fmt.ms(value) : `≤ ${fmt.ms(value)}`);
      out.push(`| ${r.label} | ${fmt.ms(r.sendLoop.meanMs)} | ${bound(r.sendLoop.p50Ms)} | ${bound(r.sendLoop.p99Ms)} | ${fmt.int(r.sendLoop.pushes)} |`);
    }
    out.push(
      '', '- send loop: the time inside the server to hand one push to every attendee\'s socket, warm-up updates included (Switchyard: its ' +
        '`switchyard_push_fanout_seconds` histogram, mean exact, quantiles as the bucket bound they fall in; Socket.IO: `io.to().emit()` timed around ' +
        'the call): the server\'s share of the fan-out, whatever the load generator adds',
    );
  }
  out.push(
    '- attendees find the new name by substring search and do not parse the push (one attendee per update does, to check it): parsing 5,000 copies ' +
      'would make the load the thing measured; the Socket.IO attendees get a decoder that hands that one packet on unparsed',
  );
  if (syB && sio) {
    out.push(
      `- Switchyard / Socket.IO: fan-out p99 **${ratioText(ratios.fanoutP99)}**, total p99 ${ratioText(ratios.totalP99)}, updates/s ${ratioText(ratios.updatesPerSecond)}, ` +
        `server CPU per update ${ratioText(ratios.serverMsPerUpdate)} (below 1 is Switchyard faster / cheaper, except updates/s)`,
    );
  }
  if (targets) {
    out.push(
      `- target: every attendee within ${TARGET.totalP99Ms} ms p99 at ${fmt.int(TARGET.atAttendees)}: total p99 ${fmt.ms(syB.total.p99)} ms, **${met(targets.totalP99.met)}**` +
        `${targets.totalP99.applies ? '' : ` (this run had ${fmt.int(S.attendees)} attendees: the target is for ${fmt.int(TARGET.atAttendees)})`}`,
    );
    if (targets.fanoutVsSocketIo) out.push(`- target: fan-out at least as fast as Socket.IO's (p99): ${fmt.ms(syB.fanout.p99)} vs ${fmt.ms(sio.fanout.p99)} ms, **${met(targets.fanoutVsSocketIo.met)}**`);
  }
  for (const r of results.b) {
    if (r.loadBound) {
      out.push(
        `- **${r.label}: the load generator was the bottleneck** (${fmt.pct(r.loadCpu)} of its core, ${r.loadMsPerUpdate.toFixed(1)} ms of CPU per update for a ` +
          `${fmt.ms(r.fanout.p50)} ms fan-out p50): receipt times bound the figures; receiving costs about as much per attendee as sending`,
      );
    }
  }
}
out.push('', 
  `- valid when: A: server ≥ ${fmt.pct(VALID.serverMin)} of a core, load ≤ ${fmt.pct(VALID.loadMax)}; B (latency, the server idles between updates): ` +
    `load ≤ ${fmt.pct(VALID.loadMax)}, load CPU per update < 80 % of the fan-out p50 (CPU comes in ${1000 / ticksPerSecond()} ms ticks: per-update figures need ~100 updates), every push received and right; both: other processes ≤ ${fmt.pct(VALID.otherMax)}, steal ≤ ${fmt.pct(VALID.stealMax)} ` +
    '(shares of one core over the window; irq is loopback TCP softirq time charged to neither)',
);
console.log(out.join('\n'));
process.exit(0);
