// Syscall counts of a bench/ws/relay.mjs server (its --syscalls option): `perf stat` on the
// server's syscall tracepoints, one row per interval, cut to each phase's window afterwards
// (windows are µs on CLOCK_MONOTONIC, as relay-load.mjs reports them). Needs perf and root
// (or kernel.perf_event_paranoid <= 1).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The syscalls --syscalls counts, by what they do (uWS writes with sendto, reads with recv). */
const SYSCALLS = { writes: ['sendto', 'sendmsg', 'write', 'writev'], reads: ['recvfrom', 'recvmsg', 'read', 'readv'] };
const PERF_INTERVAL_MS = 250;

/** `perf stat` on `pid` from now until stopped, one row per interval and syscall, into `file`; `children`: the run's child processes, killed should it exit. */
export function countSyscalls(pid, file, children) {
  const events = [...SYSCALLS.writes, ...SYSCALLS.reads].map((syscall) => `syscalls:sys_enter_${syscall}`);
  const startedMicros = Number(process.hrtime.bigint() / 1000n);
  const child = spawn('perf', ['stat', '-I', String(PERF_INTERVAL_MS), '-x', ',', '-o', file, '-e', events.join(','), '-p', String(pid)], { stdio: 'ignore' });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code))));
  child.once('error', (error) => console.error(`--syscalls: cannot run perf: ${error.message}`));
  return { child, exited, file, startedMicros };
}

/** Write and read syscalls per second over the intervals wholly inside `[from, to]` (µs on the monotonic clock). */
export function syscallRates(counter, [from, to]) {
  let text;
  try {
    text = readFileSync(counter.file, 'utf8');
  } catch {
    return null;
  }
  const totals = { writes: 0, reads: 0 };
  const intervals = new Set();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [time, count, , event] = line.split(',');
    const endMicros = counter.startedMicros + Number(time) * 1e6;
    if (endMicros - PERF_INTERVAL_MS * 1000 < from || endMicros > to || !/^\d+$/.test(count)) continue;
    const syscall = event.replace('syscalls:sys_enter_', '');
    const group = SYSCALLS.writes.includes(syscall) ? 'writes' : 'reads';
    totals[group] += Number(count);
    intervals.add(time);
  }
  const seconds = (intervals.size * PERF_INTERVAL_MS) / 1000;
  return seconds > 0 ? { writesPerSecond: totals.writes / seconds, readsPerSecond: totals.reads / seconds, seconds } : null;
}
