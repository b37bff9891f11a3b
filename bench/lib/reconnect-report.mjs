// Figures, validity and the markdown block of bench/ws/reconnect.mjs, from the load shards'
// reports (bench/ws/reconnect-load.mjs) and the CPU samples the orchestrator took.

import { cpuShares, fmt } from './system.mjs';

/** Issue 14's target: 5,000 resumes within 3 s of the cut. */
export const TARGET = { resumes: 5000, withinMs: 3000 };
/** A run counts when the load did not peg its core and nothing else ran (shares of one core over the window). */
export const VALID = { loadMax: 0.85, otherMax: 0.1, stealMax: 0.05 };

const at = (ordered, fraction) => (ordered.length === 0 ? NaN : ordered[Math.max(0, Math.ceil(ordered.length * fraction) - 1)]);

function mergeCounts(list) {
  const merged = {};
  for (const counts of list) for (const [key, value] of Object.entries(counts ?? {})) merged[key] = (merged[key] ?? 0) + value;
  return merged;
}

/**
 * One storm's figures over every shard: per-client times from `ref` (epoch ms) to done, the
 * time until the TARGET.resumes-th and the last client, attempts, what went wrong by reason,
 * and CPU: `window` (ref's sample to the last report) and `quiet` (to when the server was
 * quiet again: the whole work of the storm).
 */
export function summarize({ label, reports, ref, success, cpu, extra = {} }) {
  const clients = reports.reduce((sum, report) => sum + report.clients, 0);
  const times = reports.flatMap((report) => report.doneAt.filter((value) => value !== null).map((value) => value - ref)).sort((a, b) => a - b);
  const attempts = reports.flatMap((report) => report.attempts);
  const attemptsHistogram = {};
  for (const count of attempts) attemptsHistogram[count >= 4 ? '4+' : String(count)] = (attemptsHistogram[count >= 4 ? '4+' : String(count)] ?? 0) + 1;
  const targetCount = Math.min(TARGET.resumes, clients);
  const window = cpuShares(cpu.before, cpu.after);
  const quiet = cpuShares(cpu.before, cpu.quiet);
  const [serverCpu, ...loadShares] = window.processes;
  const loadCpu = loadShares.reduce((sum, share) => sum + share, 0);
  const outcomes = mergeCounts(reports.map((report) => report.outcomes));
  const summary = {
    label, clients, back: times.length, success,
    p50: at(times, 0.5), p99: at(times, 0.99), max: at(times, 1), first: times[0] ?? NaN,
    toTarget: times.length >= targetCount ? times[targetCount - 1] : NaN, targetCount,
    toAll: times.length === clients ? times.at(-1) : NaN,
    attemptsMean: attempts.reduce((sum, count) => sum + count, 0) / Math.max(1, attempts.length),
    attemptsMax: Math.max(0, ...attempts), attemptsHistogram,
    outcomes,
    failures: Object.fromEntries(Object.entries(outcomes).filter(([outcome]) => outcome !== success)),
    closes: mergeCounts(reports.map((report) => report.closes)),
    restartReasons: mergeCounts(reports.map((report) => report.restartReasons)),
    authFailures: mergeCounts(reports.map((report) => report.authFailures)),
    connectErrors: mergeCounts(reports.map((report) => report.connectErrors)),
    pushes: mergeCounts(reports.map((report) => report.pushes)),
    socketErrors: mergeCounts(reports.map((report) => report.socketErrors)),
    stuck: reports.flatMap((report, shard) => report.stuck.map((client) => ({ shard, ...client }))).slice(0, 10),
    missed: reports.reduce((sum, report) => sum + (report.missed ?? 0), 0),
    restartedRooms: reports.reduce((sum, report) => sum + (report.restartedRooms ?? 0), 0),
    proxyRefused: reports.reduce((sum, report) => sum + (report.proxy?.refused ?? 0), 0),
    proxyErrors: mergeCounts(reports.map((report) => report.proxy?.errors)),
    windowSeconds: window.seconds, serverCpu, loadCpu, otherCpu: window.other, irq: window.irq, steal: window.steal,
    serverCpuMs: quiet.processes[0] * quiet.seconds * 1000,
    quietSeconds: quiet.seconds,
    ...extra,
  };
  summary.serverCpuMsPerClient = summary.serverCpuMs / clients;
  const problems = [];
  if (loadCpu > VALID.loadMax) problems.push(`load pegged its core (${fmt.pct(loadCpu)} > ${fmt.pct(VALID.loadMax)}): times are upper bounds`);
  if (window.other > VALID.otherMax) problems.push(`other CPU ${fmt.pct(window.other)} > ${fmt.pct(VALID.otherMax)}`);
  if (window.steal > VALID.stealMax) problems.push(`steal ${fmt.pct(window.steal)} > ${fmt.pct(VALID.stealMax)}`);
  const notDone = outcomes['not done'] ?? 0;
  if (notDone > 0) problems.push(`${fmt.int(notDone)} clients not back within the cap`);
  summary.valid = problems.length === 0;
  summary.problems = problems;
  return summary;
}

const list = (counts) => {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([key, value]) => `${key} × ${fmt.int(value)}`).join(', ');
};
const ms = (value) => (Number.isFinite(value) ? fmt.ms(value) : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
const verdict = (row) => (row.valid ? 'yes' : `no: ${row.problems.join('; ')}`);

function stormRow(row) {
  return (
    `| ${row.label} | ${fmt.int(row.back)} / ${fmt.int(row.clients)} | ${ms(row.p50)} | ${ms(row.p99)} | ${ms(row.max)} | ${ms(row.toTarget)} | ${ms(row.toAll)} | ` +
    `${row.attemptsMean.toFixed(2)} / ${row.attemptsMax} | ${fmt.pct(row.serverCpu)} | ${fmt.int(row.serverCpuMs)} (${row.serverCpuMsPerClient.toFixed(2)}) | ` +
    `${fmt.pct(row.loadCpu)} | ${fmt.pct(row.otherCpu)} | ${fmt.pct(row.steal)} | ${verdict(row)} |`
  );
}

const STORM_HEADER = [
  '| server | back / clients | p50 ms | p99 ms | max ms | to 5,000 ms | to all ms | attempts mean / max | server CPU (window) | server CPU ms until quiet (per client) | load CPU | other CPU | steal | valid |',
  '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
];

const stuckList = (row) => (row.stuck.length === 0 ? '' : `; not back (first ${row.stuck.length}): ${row.stuck.map((client) => JSON.stringify(client)).join(', ')}`);
const diagnostics = (row) => `socket errors ${list(row.socketErrors)}; proxy pairs ended by ${list(row.proxyErrors)}; kernel TCP counters over the storm ${list(row.tcp ?? {})}${stuckList(row)}`;

function cutSection(run) {
  const { cut, sioCut, settings } = run;
  const rows = [cut, sioCut].filter(Boolean);
  const out = ['', `### 1. Cut: ${fmt.int(settings.clients)} connections reset at once by the proxy, the server keeps running`, '', ...STORM_HEADER, ...rows.map(stormRow)];
  out.push(
    '', `- times from the cut (one synchronous sweep of \`resetAndDestroy\` over every proxied pair, ${ms(rows[0].sweepMs)} ms) to the SDK's \`resumed\` / ` +
      'socket.io-client\'s `connect` with `socket.recovered === true`, per client; "to 5,000" is the 5,000th client back (at N < 5,000: the last); ' +
      'server CPU (window) is its share of one core from the cut to the last report; "until quiet" sums its CPU from the cut until it idled again',
  );
  if (cut) {
    out.push(`- Switchyard: failures ${list(cut.failures)}; closes seen ${list(cut.closes)}; resume failures ${list(cut.restartReasons)}; sign-in refusals ${list(cut.authFailures)}; attempts per client ${list(cut.attemptsHistogram)}; ${diagnostics(cut)}`);
    out.push(`- replay: \`resumed.missed\` summed ${fmt.int(cut.missed)}; pushes the SDK handed the app during the storm ${list(cut.pushes)} (nothing new was pushed while the sockets were down, so each of these is one the client had been given before the cut)`);
    out.push(`- Switchyard /metrics over the storm: resumes ${list(cut.metrics.resumes)}; error answers ${list(cut.metrics.errors)}; uncaught ${cut.metrics.uncaught}; detached after ${cut.metrics.detached}; sockets after ${fmt.int(cut.metrics.connections)}`);
    out.push(`- rooms restored (each pair's owner relays \`relay-ice-candidate\` to its partner after the storm): ${fmt.int(cut.relay.delivered)} / ${fmt.int(cut.relay.pairs)} delivered; refused ${list(cut.relay.refused)}`);
  }
  if (sioCut) {
    out.push(
      `- Socket.IO: failures ${list(sioCut.failures)}; disconnect reasons ${list(sioCut.closes)}; connect errors ${list(sioCut.connectErrors)}; attempts per client ${list(sioCut.attemptsHistogram)}; ` +
        `server saw ${fmt.int(sioCut.stats.recovered)} recovered, ${fmt.int(sioCut.stats.fresh - settings.clients)} fresh after the cut; rooms restored ${fmt.int(sioCut.relay.delivered)} / ${fmt.int(sioCut.relay.pairs)}; ${diagnostics(sioCut)}`,
    );
  }
  if (cut && sioCut) {
    out.push(
      `- Switchyard / Socket.IO: time to all ${fmt.ratio(ratio(cut.toAll, sioCut.toAll))}, p99 ${fmt.ratio(ratio(cut.p99, sioCut.p99))}, ` +
        `server CPU per reconnect ${fmt.ratio(ratio(cut.serverCpuMsPerClient, sioCut.serverCpuMsPerClient))} (below 1: Switchyard faster / cheaper)`,
    );
  }
  if (cut) {
    const met = settings.clients < TARGET.resumes ? `not applicable at ${fmt.int(settings.clients)} clients (stated for ≥ ${fmt.int(TARGET.resumes)})` : cut.toTarget <= TARGET.withinMs ? 'met' : 'missed';
    out.push(`- target ${fmt.int(TARGET.resumes)} resumes within ${TARGET.withinMs / 1000} s of the cut: the ${fmt.int(cut.targetCount)}th resume at ${ms(cut.toTarget)} ms: **${met}**`);
  }
  return out;
}

function restartSection(run) {
  const { restart, ticksPerSecond } = run;
  const cpuMs = (ticks) => fmt.int((ticks * 1000) / ticksPerSecond);
  const out = ['', '### 2. Restart: the gateway stopped with SIGTERM and started again on the same data dir', '', ...STORM_HEADER, stormRow(restart)];
  out.push(
    '', `- times from the SIGTERM to the SDK's \`restarted\` (emitted once its own sign-in of the fresh session was answered); the window and the CPU are the new process's, from its ready line ` +
      '(on a new port: this uWS build refuses to listen on one whose closed sockets are in TIME_WAIT, "address in use" for 60 s; the proxies send new connections there once it is ready). ' +
      `Shutdown ${ms(restart.stop.stopMs)} ms (exit ${restart.stop.code ?? restart.stop.signal}, ${cpuMs(restart.stop.stopTicks)} ms CPU); ` +
      `start ${ms(restart.start.startMs)} ms to ready (rebuilt ${fmt.int(restart.start.rebuilt.events)} events, ${fmt.int(restart.start.rebuilt.actors)} actors in ${restart.start.rebuilt.ms} ms; ${cpuMs(restart.start.startTicks)} ms CPU); ` +
      `down ${ms(restart.downMs)} ms (SIGTERM to ready); from ready to all back ${ms(restart.toAll - restart.downMs)} ms`,
  );
  out.push(
    `- outcomes ${list(restart.outcomes)}; resume-failed reasons ${list(restart.restartReasons)}; sign-in refusals ${list(restart.authFailures)}; closes seen ${list(restart.closes)}; ` +
      `attempts per client ${list(restart.attemptsHistogram)}; attempts the proxy found nothing listening for ${fmt.int(restart.proxyRefused)}; rooms reported lost in \`restarted.rooms\` ${fmt.int(restart.restartedRooms)}; ${diagnostics(restart)}`,
  );
  out.push(`- new process /metrics: resumes ${list(restart.metrics.resumes)}; error answers ${list(restart.metrics.errors)}; uncaught ${restart.metrics.uncaught}; sockets ${fmt.int(restart.metrics.connections)}`);
  return out;
}

/** The markdown block for bench/RESULTS.md. */
export function markdown(run) {
  const { settings } = run;
  const out = [];
  out.push(`## Reconnect storm (issue 14) — bench:reconnect, ${run.startedAt}`);
  out.push('', `- machine: ${run.machine.nproc} × ${run.machine.cpu}, Linux ${run.machine.kernel}, Node ${run.machine.node}; code ${run.revision}; fd hard limit ${run.shards.hard}`);
  out.push(`- command: \`${run.command}\` (\`npm run bench:reconnect\` builds the gateway and the SDK, then runs this with the defaults)`);
  out.push(
    `- setup: gateway \`node dist/main.js start\` pinned \`taskset -c ${settings.serverCore}\`; load \`taskset -c ${settings.loadCore}\` in ${run.shards.sizes.length} shard process(es) of ` +
      `${run.shards.sizes.map(fmt.int).join(' + ')} clients (each with its own node:net proxy; 3 descriptors per client under a hard limit of ${run.shards.hard}); loopback; ` +
      `${fmt.int(settings.clients)} clients in ${fmt.int(settings.clients / 2)} room pairs (create, join request, accept), each SDK client signed in with its own access token (${settings.users} users)`,
  );
  out.push(`- SDK reconnect settings: ${run.sdkSettings}`);
  out.push(`- Socket.IO 4.8 baseline: ${run.socketIoSettings}`);
  out.push(`- gateway config (env of \`dist/main.js start\`; README "Limits" and "Reconnect and resume" keys): ${run.gatewayKeys}`);
  const backlogs = Object.entries(run.backlogs).map(([kind, { server, proxy }]) => `${kind === 'socketio' ? 'Socket.IO' : 'gateway'} ${server}, its proxies ${proxy}`).join('; ');
  out.push(
    `- listen backlogs (\`ss -ltn\` Send-Q): ${backlogs}. A storm's SYNs beyond a full accept queue are dropped (the kernel's ListenOverflows / ListenDrops below) and sent again by TCP 1 s later, then 3 s: ` +
      'a client\'s time then includes that wait, which no server-side work explains',
  );
  out.push(`- load before: \`${run.loadBefore}\``, `- load after: \`${run.loadAfter}\``);
  if (run.cut || run.sioCut) out.push(...cutSection(run));
  if (run.restart) out.push(...restartSection(run));
  out.push('', `- valid when: load ≤ ${fmt.pct(VALID.loadMax)} of its core over the window, other processes ≤ ${fmt.pct(VALID.otherMax)}, steal ≤ ${fmt.pct(VALID.stealMax)}, every client back within the cap (${settings.capSeconds} s; the restart's: 60 s more). Targets are reported, never asserted`);
  return out.join('\n');
}
