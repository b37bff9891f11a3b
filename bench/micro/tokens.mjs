#!/usr/bin/env node
// Token verification on the reconnect path: TokenService.verify('access', token, now) from
// dist/, as `authorize`/`authenticate` call it when a socket (re)connects with the token it
// kept. Two figures and a baseline, all in one run (DESIGN.md rule 9):
//
//   cold      distinct tokens the service has never seen: jose parses, checks the claims and
//             verifies the Ed25519 signature (a reconnect storm after a gateway restart)
//   cold, 64 in flight   the same, 64 verifications at once (how a storm arrives)
//   cached    the same tokens again: the verified-token cache answers (a flapping client)
//   baseline  node:crypto Ed25519 verify of the same signing inputs, nothing else: the floor
//             under `cold`, so cold/baseline is what parsing and claim checks cost on top
//   roomTokenSign  RoomTokenSigner.sign (dist/auth/odin.js) of distinct room tokens, as a
//             Connect for a client token not seen that second signs one: an Ed25519 signature
//             and the claims' JSON (bench/http/connect.mjs measures whole Connects)
//
//   npm run build && taskset -c 1 node bench/micro/tokens.mjs [--tokens 8000] [--rounds 5] [--json]
//
// Single-threaded by nature (verify runs on the main thread), so one pinned core is the
// honest unit. Reports the median of the rounds; target >= 4 000 verifications/s cold.

import { createPublicKey, verify as ed25519Verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertBuilt, fmt, machineInfo, revision, uptimeLine, watchdog } from '../lib/system.mjs';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '8000' },
    rounds: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const COUNT = Number(values.tokens);
const ROUNDS = Number(values.rounds);
const TARGET = 4000;

assertBuilt();
watchdog(300);
const { KeyRing } = await import('../../dist/auth/keys.js');
const { TokenService } = await import('../../dist/auth/tokens.js');
const { RoomTokenSigner, deriveServerKey } = await import('../../dist/auth/index.js');

const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-tokens-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const now = Date.now();
const ring = new KeyRing(dir);
ring.loadOrCreate(now);
const options = { issuer: 'switchyard', clockToleranceSeconds: 30 };
const issuer = new TokenService(ring, options);

// The cache holds 10 000 entries: a larger set would measure evictions, not hits.
if (COUNT > 10_000) throw new Error('--tokens must be at most 10000 (the verification cache size)');
const tokens = [];
for (let index = 0; index < COUNT; index++) {
  const { token } = await issuer.issue('access', { subject: `user-${index % 97}`, ttlSeconds: 3600, claims: { org: 'org-1', sid: `c-${index}` }, now });
  tokens.push(token);
}
const publicKey = createPublicKey(ring.active().privateKey);
const signed = tokens.map((token) => {
  const dot = token.lastIndexOf('.');
  return { input: Buffer.from(token.slice(0, dot)), signature: Buffer.from(token.slice(dot + 1), 'base64url') };
});

/** Runs `work` once over all tokens; returns verifications per second of wall time and CPU share. */
async function timed(work) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: COUNT / seconds, cpuShare: (used.user + used.system) / 1e6 / seconds };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const rounds = { baseline: [], cold: [], coldConcurrent: [], cached: [], roomTokenSign: [] };
const serverKey = deriveServerKey(Buffer.alloc(32, 7), 'sfu-1.bench.example:4433');
const nbf = Math.floor(now / 1000);
const IN_FLIGHT = 64;
let refused = 0;
for (let round = 0; round < ROUNDS; round++) {
  rounds.baseline.push(
    await timed(async () => {
      for (const { input, signature } of signed) if (!ed25519Verify(null, input, publicKey, signature)) refused += 1;
    }),
  );
  const service = new TokenService(ring, options); // empty cache: every token is new to it
  rounds.cold.push(
    await timed(async () => {
      for (const token of tokens) if ((await service.verify('access', token, now)).sub === undefined) refused += 1;
    }),
  );
  // A storm verifies many tokens at once: jose checks the signature with WebCrypto, an async
  // job on libuv's threadpool, so in-flight verifications overlap that round trip.
  const concurrent = new TokenService(ring, options);
  rounds.coldConcurrent.push(
    await timed(async () => {
      for (let start = 0; start < tokens.length; start += IN_FLIGHT) {
        const claims = await Promise.all(tokens.slice(start, start + IN_FLIGHT).map((token) => concurrent.verify('access', token, now)));
        for (const claim of claims) if (claim.sub === undefined) refused += 1;
      }
    }),
  );
  rounds.cached.push(
    await timed(async () => {
      for (const token of tokens) if ((await service.verify('access', token, now)).sub === undefined) refused += 1;
    }),
  );
}
for (let round = 0; round < ROUNDS; round++) {
  // A new signer each round, distinct claims each token: every sign is a real signature.
  const signer = new RoomTokenSigner();
  rounds.roomTokenSign.push(
    await timed(async () => {
      for (let index = 0; index < COUNT; index++) {
        signer.sign(serverKey, { uid: `user-${index}`, cid: 'customer-1', rid: `room-${index % 200}`, nsp: 'default', adr: 'sfu-1.bench.example:4433', sub: 'connect', aud: 'sfu', nbf, exp: nbf + 300 });
      }
    }),
  );
}
if (refused > 0) throw new Error(`${refused} genuine tokens were refused: the measurement is void`);

const summary = Object.fromEntries(
  Object.entries(rounds).map(([name, samples]) => [
    name,
    {
      perSecond: median(samples.map((sample) => sample.perSecond)),
      cpuShare: median(samples.map((sample) => sample.cpuShare)),
      // Per second of CPU actually received: what a quiet core would do, when the machine is shared.
      perCpuSecond: median(samples.map((sample) => sample.perSecond / sample.cpuShare)),
    },
  ]),
);
const report = {
  revision: revision(),
  machine: machineInfo(),
  uptime: uptimeLine(),
  tokens: COUNT,
  rounds: ROUNDS,
  tokenBytes: tokens[0].length,
  ...summary,
  coldOverBaseline: summary.cold.perCpuSecond / summary.baseline.perCpuSecond,
  cachedOverCold: summary.cached.perCpuSecond / summary.cold.perCpuSecond,
  target: TARGET,
  meetsTarget: Math.max(summary.cold.perSecond, summary.coldConcurrent.perSecond) >= TARGET,
  // A run counts only when the process had the core to itself (DESIGN.md rule 9).
  valid: summary.cold.cpuShare >= 0.9,
};

if (values.json) {
  console.log(JSON.stringify(report));
} else {
  console.log(`token verification, ${COUNT} distinct access tokens (${report.tokenBytes} B), median of ${ROUNDS} rounds`);
  console.log(`- machine: ${report.machine.nproc} cores, ${report.machine.cpu}, Node ${report.machine.node}, revision ${report.revision}`);
  console.log(`- load: ${report.uptime}`);
  for (const name of ['baseline', 'cold', 'coldConcurrent', 'cached', 'roomTokenSign']) {
    const { perSecond, cpuShare, perCpuSecond } = summary[name];
    const unit = name === 'roomTokenSign' ? 'signatures' : 'verifications';
    console.log(`- ${name.padEnd(14)} ${fmt.int(perSecond).padStart(10)} ${unit}/s wall, ${fmt.int(perCpuSecond).padStart(10)} per CPU-second (got ${fmt.pct(cpuShare)} of the core; ${(1e6 / perCpuSecond).toFixed(1)} µs each)`);
  }
  console.log(`- cold / baseline ${fmt.ratio(report.coldOverBaseline)}, cached / cold ${fmt.ratio(report.cachedOverCold)} (per CPU-second); target cold >= ${fmt.int(TARGET)}/s wall (either mode): ${report.meetsTarget ? 'met' : 'NOT met'}`);
  if (!report.valid) console.log('- NOT VALID: the process got less than 90 % of its core (a busy machine); rerun when it is quiet');
}
