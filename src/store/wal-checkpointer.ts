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

/** The gate word's states, shared with the worker. */
const GATE_OPEN = 0;
/** The worker wants the write lock: commits wait. */
const GATE_ASKED = 1;
/** The writer has seen GATE_ASKED between two commits: the lock is free. */
const GATE_PARKED = 2;
/** Longest the worker waits for the writer to park before checkpointing anyway. */
const PARK_WAIT_MS = 50;

/**
 * The worker's code, inlined so it runs the same from `src/` under vitest and from `dist/`.
 * It opens its own connection and every `intervalMs` runs a PASSIVE checkpoint, which never
 * waits for the writer and never makes the writer wait.
 *
 * PASSIVE alone does not bound the WAL: SQLite rewinds the WAL only when a writer finds every
 * frame checkpointed, and under sustained writes new frames always arrive first (2.23 GB
 * after 60 s at 4,700 events/s). So every `watchMs` the worker reads how many frames the WAL
 * holds and, past `truncateAtBytes` of them (a quarter of the bound: the file grows another
 * 2-3 MiB at ~40 MB/s of WAL while the checkpoint waits for the lock), first runs a PASSIVE
 * checkpoint, copying the bulk while commits go on, then holds the writer's next commits
 * (CommitGate, without blocking the event loop), waits for the writer to park between two
 * commits and runs RESTART: it takes the free write lock, copies the few frames committed
 * since, syncs and waits for readers, so that the next commit writes from the file's start.
 * The held commits then go as one larger batch.
 *
 * Why this order and RESTART, not TRUNCATE (issue 15): measured at 20,000 appends/s, a TRUNCATE
 * of the whole 16 MiB held the writer 11-54 ms four times a second, and that wait was the
 * append-to-ack p99 (33 ms). Of it, copying took 2-6 ms (now done before the gate), truncating
 * the rest: freeing the file's blocks, then growing it again, every fdatasync of a growing file
 * also committing its size. A rewound WAL is overwritten in place. The 3-12 ms a hold still
 * took (the same with PASSIVE in RESTART's place) was the database fsync that must end before
 * the WAL may be rewritten: SQLite syncs the database only when a checkpoint reaches the WAL's
 * end, so that fsync flushed every page copied since the last rewind. The worker now syncs the
 * database after each checkpoint that copied frames, and copies in slices as the WAL fills
 * (COPY_SLICES), so the hold's fsync has only its last pages left (holds of 0.6-1.5 ms measured,
 * append-to-ack p99 4.2-4.3 ms at 20,000 appends/s, from 8.8-9.4 ms). TRUNCATE stays for a file
 * grown past the writer's own limit (half the bound: a reader held the WAL, or the worker fell
 * behind), which only shrinking brings back under it.
 *
 * The frame count comes from the wal-index header SQLite keeps at the start of the -shm file
 * (sqlite.org/walformat.html, "The WAL-Index Header"): two copies of 48 bytes in native byte
 * order, mxFrame at offset 16, then nBackfill (frames already copied) at offset 96. They are read
 * without a lock the way SQLite itself reads them: used only when both copies agree. The file's
 * size cannot serve once the WAL is rewound in place: it stays at its largest.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { closeSync, fdatasyncSync, openSync, readSync, statSync } = require('node:fs');
const { endianness } = require('node:os');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
// FULL, explicitly: the writer commits without fsync (wal-syncer.ts), so these checkpoints are what
// syncs the WAL before copying it and the database before the WAL is rewound.
db.pragma('synchronous = FULL');
const frameBytes = db.pragma('page_size', { simple: true }) + 24;
const walPath = workerData.path + '-wal';
const walSize = () => { try { return statSync(walPath).size; } catch { return 0; } };
// Our own descriptor of the database file, for fdatasync: it flushes the file, whichever descriptor wrote it.
const database = openSync(workerData.path, 'r');
/** The WAL's backfill count when the database was last synced. */
let syncedBackfill = -1;
/**
 * A PASSIVE checkpoint, then the database's fdatasync when it copied frames. SQLite syncs the
 * database only when a checkpoint reaches the WAL's end, which under steady writes only the
 * bounding RESTART below does (commits are held for it): it then flushed every page copied
 * since the last rewind, megabytes, and that fsync was most of its hold (3-12 ms at 20,000
 * appends/s). Flushed here, as they are copied and while commits go on, the RESTART has only
 * its last few pages left to sync. The extra syncs only add durability, never remove any.
 */
const checkpoint = () => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result.checkpointed > 0 && result.checkpointed !== syncedBackfill) {
      fdatasyncSync(database);
      syncedBackfill = result.checkpointed;
    }
  } catch { /* busy, or the sync failed: the next tick, and the RESTART's own sync, cover it */ }
};
const indexHeader = Buffer.alloc(100);
const littleEndian = endianness() === 'LE';
let shm = -1;
/**
 * The WAL's frames: how many it holds since its start (0 when all are copied back: the next
 * commit rewinds it by itself) and how many of those are not yet copied; undefined when unknown.
 */
const walFrames = () => {
  try {
    if (shm < 0) shm = openSync(workerData.path + '-shm', 'r');
    if (readSync(shm, indexHeader, 0, 100, 0) < 100) return undefined;
  } catch { return undefined; }
  if (indexHeader[12] !== 1 || indexHeader.compare(indexHeader, 48, 96, 0, 48) !== 0) return undefined;
  const mxFrame = littleEndian ? indexHeader.readUInt32LE(16) : indexHeader.readUInt32BE(16);
  const nBackfill = littleEndian ? indexHeader.readUInt32LE(96) : indexHeader.readUInt32BE(96);
  return nBackfill >= mxFrame ? { held: 0, uncopied: 0 } : { held: mxFrame, uncopied: mxFrame - nBackfill };
};
const gate = new Int32Array(workerData.gate);
const bound = () => {
  // Past the writer's limit its commits wait for the file to shrink, whatever the frames say
  // (all of them copied: a rewind would wait for a commit that is itself waiting).
  const oversized = walSize() > workerData.shrinkAtBytes;
  if (!oversized) {
    const frames = walFrames();
    if (frames === undefined) return;
    if (frames.held * frameBytes <= workerData.truncateAtBytes) {
      // Not yet time to rewind: copy (and sync) in slices as frames arrive, so that neither the
      // bulk copy below nor its sync comes all at once.
      if (frames.uncopied * frameBytes >= workerData.copyAtBytes) checkpoint();
      return;
    }
  }
  // The bulk first, while commits go on, then the frames they added meanwhile; with them
  // held, the RESTART has only the last few frames left to copy and sync.
  checkpoint();
  checkpoint();
  Atomics.store(gate, 0, ${GATE_ASKED});
  // Wait for the writer to park between two commits (its next flush does): the checkpoint then
  // finds the write lock free at once, instead of finding it taken and sleeping in SQLite's busy
  // handler, which retries after 1, 2, 5, 10, 15 ms... (holds measured 12-25 ms before, 7-12 ms
  // after). A writer with nothing to commit never parks, and holds nothing up meanwhile.
  Atomics.wait(gate, 0, ${GATE_ASKED}, workerData.parkWaitMs);
  try { db.pragma(oversized ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(RESTART)'); } catch { /* busy: next watch */ }
  finally { Atomics.store(gate, 0, ${GATE_OPEN}); Atomics.notify(gate, 0); }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
const watch = setInterval(bound, workerData.watchMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  clearInterval(watch);
  checkpoint();
  db.close();
  closeSync(database);
  if (shm >= 0) closeSync(shm);
  parentPort.postMessage('stopped');
});
`;

/** The WAL bound when none is configured (`walMaxBytes`). */
export const DEFAULT_WAL_MAX_BYTES = 64 * 1024 * 1024;
const WATCH_MS = 10;
/**
 * Frames not yet copied past 1/64 of the bound (1 MiB of the default 64) are copied and the
 * database synced at the next watch: about every 15-20 ms at 20,000 appends/s. Copied only by
 * the bounding checkpoint, the database's sync came in bursts of megabytes that also slowed the
 * commits' own fsyncs (tried as a fixed period: append-to-ack p99 5.4 ms at 50 ms, 4.4-4.7 ms
 * at 20 ms; bench/micro/append.mjs).
 */
const COPY_SLICES = 64;

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
  /** GATE_OPEN, GATE_ASKED or GATE_PARKED (while the worker rewinds the WAL); shared memory. */
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
   * `held()` is asked between commits (each group commit runs its transaction synchronously),
   * so when the worker has asked for the lock, it answers that the lock is free.
   */
  readonly gate: CommitGate = {
    held: () => {
      const word = Atomics.load(this.gateWord, 0);
      if (word === GATE_ASKED && Atomics.compareExchange(this.gateWord, 0, GATE_ASKED, GATE_PARKED) === GATE_ASKED) {
        Atomics.notify(this.gateWord, 0);
      }
      const over = word !== GATE_OPEN || this.currentWalBytes() > this.writerLimitBytes;
      if (!over) {
        this.heldSince = undefined;
        return false;
      }
      const now = performance.now();
      this.heldSince ??= now;
      return now - this.heldSince < GATE_TIMEOUT_MS;
    },
    opened: async () => {
      const word = Atomics.load(this.gateWord, 0);
      if (word !== GATE_OPEN) {
        const wait = Atomics.waitAsync(this.gateWord, 0, word, GATE_TIMEOUT_MS);
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

  /**
   * @param intervalMs the period of the worker's PASSIVE checkpoints (`walCheckpointIntervalMs`).
   * @param maxBytes the WAL size to stay under; the WAL's frame count is read every WATCH_MS (one
   * 100-byte read of the -shm file), since at 37 MB/s of WAL (the probe's rate) a bound of a few
   * MiB fills between two checkpoints.
   */
  constructor(path: string, intervalMs: number, maxBytes = DEFAULT_WAL_MAX_BYTES) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.walPath = `${path}-wal`;
    this.writerLimitBytes = Math.floor(maxBytes / 2);
    const workerData = {
      path,
      intervalMs,
      driver,
      truncateAtBytes: Math.floor(maxBytes / 4),
      copyAtBytes: Math.floor(maxBytes / COPY_SLICES),
      parkWaitMs: PARK_WAIT_MS,
      shrinkAtBytes: this.writerLimitBytes,
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
