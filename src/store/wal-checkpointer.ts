import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommitGate } from './group-commit.js';

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * The worker's code, inlined so it runs the same from `src/` under vitest and from `dist/`.
 * It opens its own connection and runs PASSIVE checkpoints, which never wait for the writer
 * and never make the writer wait: the commit path stays free of checkpoint stalls.
 *
 * PASSIVE alone does not bound the WAL: SQLite rewinds the WAL only when a writer finds every
 * frame checkpointed, and under sustained writes new frames always arrive first (2.23 GB
 * after 60 s at 4,700 events/s). So the worker also watches the file's size and, past
 * `truncateAtBytes` (a quarter of the bound: measured, the file grows another 2-3 MiB at
 * ~40 MB/s of WAL while the checkpoint waits for the lock and copies), runs TRUNCATE: it takes the write lock, copies every frame, waits for
 * readers and truncates the file to 0. The writer's next commits are held meanwhile
 * (CommitGate, without blocking the event loop) and then go as one larger batch.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
// FULL, explicitly: the writer commits without fsync (wal-syncer.ts), so these checkpoints are what
// syncs the WAL before copying it and the database before the WAL is rewound.
db.pragma('synchronous = FULL');
const walPath = workerData.path + '-wal';
const walSize = () => { try { return statSync(walPath).size; } catch { return 0; } };
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next tick */ } };
const gate = new Int32Array(workerData.gate);
const bound = () => {
  if (walSize() <= workerData.truncateAtBytes) return;
  // Hold the writer's next commits (see CommitGate) so the checkpoint gets the write lock at the
  // end of the commit in flight, instead of losing every race for it under sustained writes.
  Atomics.store(gate, 0, 1);
  try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch { /* busy: next watch */ }
  finally { Atomics.store(gate, 0, 0); Atomics.notify(gate, 0); }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
const watch = setInterval(bound, workerData.watchMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  clearInterval(watch);
  checkpoint();
  db.close();
  parentPort.postMessage('stopped');
});
`;

/** The WAL bound when none is configured (`walMaxBytes`). */
export const DEFAULT_WAL_MAX_BYTES = 64 * 1024 * 1024;
const WATCH_MS = 10;

declare global {
  // In Node since 16 (V8 8.7), typed in TypeScript's lib only from ES2024; tsconfig's lib is ES2023.
  interface Atomics {
    waitAsync(
      typedArray: Int32Array,
      index: number,
      value: number,
      timeout?: number,
    ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
}

/** Longest a held commit waits for the checkpoint: past it, commits go on (a stuck or dead worker). */
const GATE_TIMEOUT_MS = 1000;
/** How stale the writer's view of the WAL's size may be. */
const WAL_STAT_MS = 2;

export class WalCheckpointer {
  private readonly worker: Worker;
  /** 1 while the worker runs a TRUNCATE checkpoint and wants the writer to pause; shared memory. */
  private readonly gateWord = new Int32Array(new SharedArrayBuffer(4));

  private readonly walPath: string;
  /** Past this size the writer itself stops committing until a checkpoint brings it down. */
  private readonly writerLimitBytes: number;
  private heldSince: number | undefined;
  /** The WAL's size as last read, and when: a busy log flushes thousands of times a second. */
  private walBytes = 0;
  private walBytesReadAt = -Infinity;

  /**
   * The gate the store's group committer waits on. Held while the worker runs a bounding
   * checkpoint, and also while the WAL is past half the bound: the worker polls every
   * WATCH_MS, and on a loaded machine its timer runs late while the writer adds 40 MB/s, so
   * the writer checks the size itself (one stat per flush) before growing the file further.
   * Fails open after GATE_TIMEOUT_MS: a stuck or dead worker must not stop the log.
   */
  readonly gate: CommitGate = {
    held: () => {
      const over = Atomics.load(this.gateWord, 0) === 1 || this.currentWalBytes() > this.writerLimitBytes;
      if (!over) {
        this.heldSince = undefined;
        return false;
      }
      const now = performance.now();
      this.heldSince ??= now;
      return now - this.heldSince < GATE_TIMEOUT_MS;
    },
    opened: async () => {
      if (Atomics.load(this.gateWord, 0) === 1) {
        const wait = Atomics.waitAsync(this.gateWord, 0, 1, GATE_TIMEOUT_MS);
        if (!wait.async) return;
        // Atomics.waitAsync does not keep the event loop alive: a process whose only work left
        // is appends held at the gate (a CLI command, a bench's last acks) would exit with them
        // unanswered. A timer over the wait's bound holds it.
        const keepAlive = setTimeout(() => undefined, GATE_TIMEOUT_MS + 100);
        try {
          await wait.value;
        } finally {
          clearTimeout(keepAlive);
        }
        return;
      }
      // Over the limit but the worker has not noticed yet: look again after its next poll.
      await sleep(WATCH_MS);
    },
  };

  /**
   * @param maxBytes the WAL size to stay under; the size is polled every WATCH_MS (a stat), since
   * at 37 MB/s of WAL (the probe's rate) a bound of a few MiB fills between two checkpoints.
   */
  /**
   * The WAL's size, read at most once per WAL_STAT_MS: one stat per flush was a syscall per
   * commit on the append path; at 40 MB/s of WAL, 2 ms of staleness is 80 KB against a bound
   * of megabytes.
   */
  private currentWalBytes(): number {
    const now = performance.now();
    if (now - this.walBytesReadAt >= WAL_STAT_MS) {
      this.walBytes = fileSize(this.walPath);
      this.walBytesReadAt = now;
    }
    return this.walBytes;
  }

  constructor(path: string, intervalMs: number, maxBytes = DEFAULT_WAL_MAX_BYTES) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.walPath = `${path}-wal`;
    this.writerLimitBytes = Math.floor(maxBytes / 2);
    const workerData = {
      path,
      intervalMs,
      driver,
      truncateAtBytes: Math.floor(maxBytes / 4),
      watchMs: Math.min(WATCH_MS, intervalMs),
      gate: this.gateWord.buffer,
    };
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    // The worker holds no state worth keeping the process alive for.
    this.worker.unref();
    this.worker.on('error', () => {
      // Losing the checkpointer only lets the WAL grow until the next start or close.
    });
  }

  private stopped: Promise<void> | undefined;

  /** Idempotent: a second stop waits for the first instead of posting to a dead worker. */
  stop(): Promise<void> {
    this.stopped ??= this.stopWorker();
    return this.stopped;
  }

  private async stopWorker(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.worker.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage('stop');
    });
    await this.worker.terminate();
  }
}
