// Machine facts and CPU accounting shared by the benchmarks (DESIGN.md rule 9).
//
// CPU shares come from /proc: a process's utime+stime (all its threads, in clock ticks)
// and the per-core totals of /proc/stat, sampled at the start and end of a measurement
// window. "Other" is whatever ran on the machine in that window besides the processes we
// account for; it is how a run on a shared machine is told apart from a quiet one.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let clockTicks;
/** Clock ticks per second of /proc times (USER_HZ, 100 on Linux in practice). */
export function ticksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime+stime of a process in ticks (fields 14 and 15 of /proc/<pid>/stat). */
export function processTicks(pid, withChildren = false) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields are counted after its ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime + stime, and with children cutime + cstime: the children it has waited for (a load
  // tool such as wrk, run to its end, is counted with the process that ran it).
  return Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0);
}

/** Whole-machine CPU ticks by kind, summed over cores (the `cpu` line of /proc/stat). */
export function machineTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { user, nice, system, idle, iowait, irq, softirq, steal };
}

/** A sample of the given processes and the machine, to be diffed with `cpuShares`. */
export function sampleCpu(pids, { withChildren = false } = {}) {
  return { at: performance.now(), machine: machineTicks(), processes: pids.map((pid) => processTicks(pid, withChildren)) };
}

/**
 * CPU used between two samples, as fractions of one core: each process, `other` (user and
 * system time of everything else: other agents, tests, our own orchestration), `irq`
 * (interrupts and softirqs, where loopback TCP is partly accounted), `iowait` and `steal`
 * (time the hypervisor gave to other guests).
 */
export function cpuShares(before, after) {
  const seconds = (after.at - before.at) / 1000;
  const hz = ticksPerSecond();
  const share = (ticks) => ticks / hz / seconds;
  const processes = after.processes.map((ticks, index) => share(ticks - before.processes[index]));
  const delta = (key) => after.machine[key] - before.machine[key];
  const busy = delta('user') + delta('nice') + delta('system');
  const ours = after.processes.reduce((sum, ticks, index) => sum + ticks - before.processes[index], 0);
  return {
    seconds,
    processes,
    other: Math.max(0, share(busy - ours)),
    irq: share(delta('irq') + delta('softirq')),
    iowait: share(delta('iowait')),
    steal: share(delta('steal')),
  };
}

export function machineInfo() {
  const model = cpus()[0]?.model?.trim() || 'unknown';
  let mhz = '';
  try {
    const match = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) mhz = ` @ ${Math.round(Number(match[1]))} MHz`;
  } catch {
    // Not Linux or no /proc: the model name is enough.
  }
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    kernel = 'unknown';
  }
  return {
    nproc: cpus().length,
    cpu: `${model}${mhz}`,
    node: process.version,
    kernel,
    load: loadavg().map((value) => value.toFixed(2)).join(' '),
  };
}

/** The checkout's commit, marked `+changes` when the working tree differs from it. */
export function revision() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).trim();
    return dirty ? `${commit}+changes in src/` : commit;
  } catch {
    return 'unknown';
  }
}

/**
 * Ends the process (and with it, through the caller's exit handler, its children) if the
 * benchmark overruns: a hung server or client must not hold the machine.
 */
export function watchdog(seconds) {
  const timer = setTimeout(() => {
    console.error(`benchmark did not finish within ${seconds} s; aborting`);
    process.exit(3);
  }, seconds * 1000);
  timer.unref();
  return timer;
}

/** Uptime's load line, for the record of how busy the machine was. */
export function uptimeLine() {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${machineInfo().load}`;
  }
}

/** Filesystem type and device of a directory (`df --output`), to prove it is not tmpfs. */
export function filesystemOf(path) {
  try {
    const [, line] = execFileSync('df', ['--output=source,fstype,target', path], { encoding: 'utf8' }).trim().split('\n');
    const [source, fstype, target] = line.trim().split(/\s+/);
    return { source, fstype, target };
  } catch {
    return { source: 'unknown', fstype: 'unknown', target: 'unknown' };
  }
}

/** Refuses to measure stale code: dist/ must exist and be newer than every file in src/. */
export function assertBuilt() {
  const dist = join(REPO, 'dist', 'main.js');
  if (!existsSync(dist)) {
    console.error('dist/ is missing: run `npm run build` first (npm run bench:* does it for you).');
    process.exit(2);
  }
  const newestSource = newestMtime(join(REPO, 'src'));
  const built = newestMtime(join(REPO, 'dist'));
  if (newestSource > built) {
    console.error('warning: src/ has changes newer than dist/; run `npm run build` to measure the current code.');
  }
}

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Latency histogram with 1 µs buckets up to `maxMs`; exact percentiles at that resolution. */
export class Histogram {
  constructor(maxMs = 1000) {
    this.buckets = new Uint32Array(Math.ceil(maxMs * 1000) + 1);
    this.count = 0;
    this.max = 0;
  }

  recordMs(ms) {
    const micros = ms <= 0 ? 0 : Math.round(ms * 1000);
    this.buckets[micros < this.buckets.length ? micros : this.buckets.length - 1] += 1;
    this.count += 1;
    if (ms > this.max) this.max = ms;
  }

  /** The latency in ms below which `fraction` of the samples fall. */
  percentileMs(fraction) {
    if (this.count === 0) return NaN;
    const rank = Math.ceil(this.count * fraction);
    let seen = 0;
    for (let micros = 0; micros < this.buckets.length; micros++) {
      seen += this.buckets[micros];
      if (seen >= rank) return micros / 1000;
    }
    return this.max;
  }

  reset() {
    this.buckets.fill(0);
    this.count = 0;
    this.max = 0;
  }
}

export const fmt = {
  int: (value) => Math.round(value).toLocaleString('en-US'),
  pct: (value) => `${(value * 100).toFixed(0)} %`,
  ms: (value) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : 'n/a'),
  ratio: (value) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a'),
};
