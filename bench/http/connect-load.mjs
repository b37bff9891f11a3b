// The load side of bench/http/connect.mjs, run pinned to its own core: the SFU fleet (for
// Switchyard) and autocannon. Takes one JSON argument, prints one JSON line with the result.
//
// For Switchyard it first starts the fleet (N fake servers that register and report every
// interval), checks that a Connect answers a server address and a token, warms up (so that
// every token was verified once and every room is placed: the steady state of clients
// connecting to existing rooms), then measures. The warm-up starts with one Connect per
// token: autocannon's connections each walk the request list from its start, so a timed
// warm-up alone reached only the first few hundred tokens, and the measured window paid
// cold verifications of the rest (several times over, 50 connections in step). Afterwards
// it reads the gateway's own call counters (Info) to prove every measured Connect
// succeeded, not just returned HTTP 200.

import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Histogram, sampleCpu } from '../lib/system.mjs';
import { internalCall, startFleet } from './fleet.mjs';

const settings = JSON.parse(process.argv[2]);
const url = `http://127.0.0.1:${settings.port}`;
const CONNECT_BODY = JSON.stringify({ jsonrpc: '2.0', method: 'Connect', params: {}, id: 1 });

async function main() {
  // Tokens are made once by the orchestrator (tweetnacl takes seconds for a thousand).
  const tokens = JSON.parse(readFileSync(settings.tokensFile, 'utf8'));
  const requests = tokens.map((token) => ({
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: CONNECT_BODY,
  }));

  // After reading the tokens: a long block of the loop would let a fetch reuse a keep-alive
  // socket the server closed meanwhile.
  let fleet;
  if (settings.kind === 'switchyard') {
    fleet = await startFleet({ url, token: settings.internalToken, count: settings.servers, prefix: 'bench' });
    fleet.start(settings.reportIntervalMs);
  }

  // One request by hand: the answer must be a Connect result, not an error that happens to be 200.
  const probe = await fetch(`${url}/`, { method: 'POST', headers: requests[0].headers, body: CONNECT_BODY });
  const probeBody = await probe.json();
  if (probe.status !== 200 || typeof probeBody?.result?.address !== 'string' || typeof probeBody?.result?.token !== 'string') {
    throw new Error(`Connect probe answered ${probe.status} ${JSON.stringify(probeBody)}`);
  }

  await connectEveryToken(requests);

  // Each connection is its own clients: connection k sends the tokens k, k + N, k + 2N, ...
  // (N connections). With one shared list every connection walked it in step, so 50
  // connections sent the same user's token at the same moment, which no client does.
  let clients = 0;
  const setupClient = (client) => {
    const first = clients++ % settings.connections;
    client.setRequests(requests.filter((_request, index) => index % settings.connections === first));
  };
  const options = {
    url,
    connections: settings.connections,
    pipelining: 1,
    requests,
    setupClient,
    ...(settings.rate ? { overallRate: settings.rate } : {}),
  };
  if (settings.loader === 'wrk' && !settings.rate) return measureWithWrk(tokens, fleet);
  await autocannon({ ...options, duration: settings.warmupMs / 1000 });

  const before = sampleCpu([settings.serverPid, process.pid]);
  const callsBefore = fleet ? await connectCalls() : undefined;
  const histogram = new Histogram(2000);
  const run = autocannon({ ...options, duration: settings.durationMs / 1000 });
  run.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) histogram.recordMs(responseTime);
  });
  const result = await run;
  const after = sampleCpu([settings.serverPid, process.pid]);
  const callsAfter = fleet ? await connectCalls() : undefined;
  await fleet?.stop();

  const seconds = (after.at - before.at) / 1000;
  return {
    total: result.requests.total,
    seconds: result.duration,
    requestsPerSecond: result.requests.total / result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    // autocannon's own figures (1 ms resolution; corrected for coordinated omission at a fixed rate)
    autocannon: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    // ours, 1 µs buckets, as measured per response
    p50: histogram.percentileMs(0.5),
    p99: histogram.percentileMs(0.99),
    max: histogram.max,
    cpu: { before, after, seconds },
    connects: callsAfter && callsBefore ? diff(callsAfter, callsBefore) : undefined,
    fleetErrors: fleet ? fleet.errors.length : 0,
  };
}

/**
 * wrk (Debian's package, C, one thread) instead of autocannon at full load: autocannon used its
 * whole core before bare uWS used its own, so the baseline's cost per request was a ceiling.
 * A Lua script hands out the requests, each the next token of the list (one list for all
 * connections, so two connections never send the same user's token at once). The generator's
 * CPU is this process's plus wrk's (counted as its waited-for child).
 */
async function measureWithWrk(tokens, fleet) {
  const dir = mkdtempSync(join(tmpdir(), 'connect-wrk-'));
  const tokensPath = join(dir, 'tokens.txt');
  const scriptPath = join(dir, 'connect.lua');
  writeFileSync(tokensPath, `${tokens.join('\n')}\n`);
  writeFileSync(
    scriptPath,
    [
      `local body = ${JSON.stringify(CONNECT_BODY)}`,
      'local requests = {}',
      'local index = 0',
      'function init(args)',
      `  for token in io.lines(${JSON.stringify(tokensPath)}) do`,
      '    requests[#requests + 1] = wrk.format("POST", "/", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)',
      '  end',
      'end',
      'function request()',
      '  index = index % #requests + 1',
      '  return requests[index]',
      'end',
      '',
    ].join('\n'),
  );
  const wrk = (seconds) =>
    new Promise((resolve, reject) => {
      const child = spawn('wrk', ['-t1', `-c${settings.connections}`, `-d${seconds}s`, '--latency', '-s', scriptPath, url], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`wrk exited ${code}: ${output}`))));
    });
  try {
    await wrk(settings.warmupMs / 1000);
    const before = sampleCpu([settings.serverPid, process.pid], { withChildren: true });
    const callsBefore = fleet ? await connectCalls() : undefined;
    const output = await wrk(settings.durationMs / 1000);
    const after = sampleCpu([settings.serverPid, process.pid], { withChildren: true });
    const callsAfter = fleet ? await connectCalls() : undefined;
    await fleet?.stop();
    const parsed = parseWrk(output);
    return {
      ...parsed,
      requestsPerSecond: parsed.total / parsed.seconds,
      timeouts: 0,
      autocannon: { p50: '-', p99: '-', max: '-' },
      cpu: { before, after, seconds: (after.at - before.at) / 1000 },
      connects: callsAfter && callsBefore ? diff(callsAfter, callsBefore) : undefined,
      fleetErrors: fleet ? fleet.errors.length : 0,
      loader: 'wrk',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** wrk's summary: requests and seconds, non-2xx, socket errors, and its latency distribution (p50, p99, max) in ms. */
function parseWrk(output) {
  const ms = (text) => {
    const [, value, unit] = /([\d.]+)(us|ms|s)/.exec(text);
    return Number(value) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  };
  const totals = /(\d+) requests in ([\d.]+)(ms|s)/.exec(output);
  if (!totals) throw new Error(`wrk printed no totals: ${output}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    total: Number(totals[1]),
    seconds: Number(totals[2]) / (totals[3] === 'ms' ? 1000 : 1),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
    errors: socketErrors ? socketErrors.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0,
    p50: ms(/ 50%\s+(\S+)/.exec(output)[1]),
    p99: ms(/ 99%\s+(\S+)/.exec(output)[1]),
    max: ms(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(output)[1]),
  };
}

/** One Connect per token, a connection's worth at a time, each checked as a Connect result. */
async function connectEveryToken(requests) {
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++];
      const response = await fetch(`${url}${request.path}`, { method: 'POST', headers: request.headers, body: request.body });
      const body = await response.json();
      if (response.status !== 200 || typeof body?.result?.token !== 'string') throw new Error(`warm-up Connect answered ${response.status} ${JSON.stringify(body)}`);
    }
  };
  await Promise.all(Array.from({ length: settings.connections }, worker));
}

async function connectCalls() {
  const info = await internalCall(url, `Bearer ${settings.internalToken}`, 'Info', {});
  return info.stats.apiCalls.find((entry) => entry.name === 'Connect') ?? { success: 0, rejected: 0, failure: 0 };
}

const diff = (after, before) => ({
  success: after.success - before.success,
  rejected: after.rejected - before.rejected,
  failure: after.failure - before.failure,
});

main().then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (error) => {
    process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.stack : String(error) })}\n`);
    process.exit(1);
  },
);
