import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * How the checkpoint worker bounds the WAL under sustained appends (issue 15): it rewinds the
 * file in place (RESTART) instead of truncating it, because a truncation held every commit for
 * 15-50 ms at 20,000 appends/s. A rewind shows in the WAL header: its checkpoint sequence number
 * (bytes 12-15, big-endian, sqlite.org/fileformat2.html#walformat) goes up by one each time the
 * next commit starts the file over. A truncation shows as the file dropping to a few frames.
 * Bounded by rounds of appends, not by time.
 */

const MiB = 1024 * 1024;
const BOUND = 32 * MiB;
/** The worker rewinds past a quarter of the bound; the writer's own limit (and TRUNCATE) is half. */
const REWIND_AT = BOUND / 4;
const REWINDS_WANTED = 3;
const MAX_ROUNDS = 5_000;
const PER_ROUND = 20;

function walHeader(path: string): { size: number; checkpointSequence: number } | undefined {
  const wal = `${path}-wal`;
  if (!existsSync(wal)) return undefined;
  const size = statSync(wal).size;
  if (size < 32) return { size, checkpointSequence: -1 };
  const header = Buffer.alloc(32);
  const fd = openSync(wal, 'r');
  try {
    readSync(fd, header, 0, 32, 0);
  } finally {
    closeSync(fd);
  }
  return { size, checkpointSequence: header.readUInt32BE(12) };
}

describe('WAL checkpoint worker', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let store: SqliteEventStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    dir?.remove();
  });

  it('rewinds a WAL past a quarter of its bound in place, without truncating the file', async () => {
    dir = tempDir();
    const path = join(dir.path, 'switchyard.db');
    store = new SqliteEventStore({ path, walCheckpointIntervalMs: 1000, walMaxBytes: BOUND });
    const payload = { note: 'x'.repeat(2000) };
    let firstSequence: number | undefined;
    let lastSequence = -1;
    let largest = 0;
    /** The smallest the file was seen once it had grown past the threshold: a truncation shows here. */
    let smallestPastThreshold = Infinity;
    let round = 0;
    for (; round < MAX_ROUNDS && (firstSequence === undefined || lastSequence - firstSequence < REWINDS_WANTED); round++) {
      const appends = Array.from({ length: PER_ROUND }, (_, index) => store!.append(`s-${index}`, [{ type: 'Noted', data: payload }], round));
      await Promise.all(appends);
      const header = walHeader(path);
      if (!header || header.checkpointSequence < 0) continue;
      firstSequence ??= header.checkpointSequence;
      lastSequence = header.checkpointSequence;
      largest = Math.max(largest, header.size);
      if (largest >= REWIND_AT) smallestPastThreshold = Math.min(smallestPastThreshold, header.size);
    }
    console.info(`after ${round} rounds: ${lastSequence - (firstSequence ?? 0)} rewinds, largest WAL ${(largest / MiB).toFixed(2)} MiB, smallest since past the threshold ${(smallestPastThreshold / MiB).toFixed(2)} MiB`);
    expect(lastSequence - firstSequence!).toBeGreaterThanOrEqual(REWINDS_WANTED);
    expect(store.headPosition()).toBe(round * PER_ROUND);
    // Rewound, not truncated: the file keeps the size it had grown to past the threshold.
    expect(smallestPastThreshold).toBeGreaterThanOrEqual(REWIND_AT);
    expect(largest).toBeLessThan(BOUND);
  }, 60_000);
});
