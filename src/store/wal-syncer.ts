import { closeSync, fchmodSync, openSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/**
 * Makes committed WAL frames durable off the event loop. The writer connection commits with
 * `synchronous = NORMAL` (in WAL mode: no fsync at COMMIT; checkpoints still sync), then asks
 * this worker to `fdatasync` the WAL file; the group committer acknowledges a batch only once a
 * sync that began after its COMMIT has returned. So an acknowledged append is on disk exactly as
 * with `synchronous = FULL`, but the 0.4-1 ms of each fsync no longer blocks the loop: the next
 * batch is encoded, committed (page cache writes) and queued for the following sync meanwhile.
 *
 * A worker of its own, not libuv's `fs.fdatasync`: that runs on the 4-thread pool shared with
 * scrypt (password hashes take it for 100+ ms each), and an fsync queued behind four hashes
 * would stall every acknowledgement.
 *
 * Lifetime: one per serving store; the WAL file is opened once (created 0600 if SQLite has not
 * yet), and stays the same inode for the store's life: SQLite truncates and rewinds it but only
 * deletes it when the last connection closes, after `stop()`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { fdatasyncSync } = require('node:fs');
parentPort.on('message', (message) => {
  try {
    fdatasyncSync(workerData.fd);
    parentPort.postMessage({ ok: true });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error && error.message) });
  }
});
`;

const PRIVATE_FILE_MODE = 0o600;

export class WalSyncFailed extends Error {
  constructor(message: string) {
    super(`fdatasync of the WAL failed: ${message}`);
  }
}

export class WalSyncer {
  private readonly fd: number;
  private readonly worker: Worker;
  /** Callbacks of the syncs asked for, in order: the worker answers one message per sync. */
  private readonly waiting: ((error: Error | undefined) => void)[] = [];
  private stopped: Promise<void> | undefined;

  constructor(walPath: string) {
    // 'a': creates the file when SQLite has not written it yet (an empty WAL is a valid one).
    this.fd = openSync(walPath, 'a', PRIVATE_FILE_MODE);
    fchmodSync(this.fd, PRIVATE_FILE_MODE);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd: this.fd } });
    this.worker.on('message', (message: { ok: boolean; message?: string }) => {
      this.waiting.shift()?.(message.ok ? undefined : new WalSyncFailed(message.message ?? 'unknown error'));
      if (this.waiting.length === 0) this.worker.unref();
    });
    // Kept alive only while a sync is asked for: an idle log must not hold the process open,
    // but an append waiting for its fsync must (a CLI command that awaits nothing else).
    this.worker.unref();
    // A dead worker fails every sync in flight and every later one: nothing is acknowledged
    // without its fsync.
    this.worker.on('error', (error) => this.failAll(new WalSyncFailed(error.message)));
    this.worker.on('exit', () => this.failAll(new WalSyncFailed('the sync worker exited')));
  }

  private dead: Error | undefined;

  /** Syncs every frame written to the WAL before this call; `done` gets the failure, if any. */
  sync(done: (error: Error | undefined) => void): void {
    if (this.dead) {
      done(this.dead);
      return;
    }
    if (this.waiting.length === 0) this.worker.ref();
    this.waiting.push(done);
    this.worker.postMessage('sync');
  }

  /** Syncs in flight (the group committer drains them before stopping this). */
  get inFlight(): number {
    return this.waiting.length;
  }

  /**
   * Ends the worker and closes the file; a sync still in flight fails (the store drains its
   * commits first, so none is). Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.dead ??= new WalSyncFailed('the event log is closed');
      await this.worker.terminate();
      this.failAll(this.dead);
      closeSync(this.fd);
    })();
    return this.stopped;
  }

  private failAll(error: Error): void {
    this.dead ??= error;
    for (const done of this.waiting.splice(0)) done(error);
  }
}
