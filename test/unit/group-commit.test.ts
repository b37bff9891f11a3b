import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { GroupCommitter, type AppendOutcome, type DurabilityBarrier, type PendingAppend } from '../../src/store/group-commit.js';
import type { RecordedEvent } from '../../src/store/index.js';
import { until } from '../helpers/conditions.js';

/**
 * The pipelined durability barrier of the group committer (the SQLite log commits without
 * fsync and acknowledges after the WAL's fdatasync in a worker): nothing is acknowledged or
 * pushed before the sync that covers it, appends made while a sync runs commit together after
 * it, and a failed sync fails everything it covered and every later append.
 */

/** A commit that records every append at the next position, as the stores do. */
function recordingCommit(committedStreams: string[]): (batch: readonly PendingAppend[]) => AppendOutcome[] {
  let position = 0;
  return (batch) =>
    batch.map((pending) => {
      committedStreams.push(pending.streamId);
      const events: RecordedEvent[] = pending.serialized.map((row, index) => ({
        position: ++position,
        streamId: pending.streamId,
        version: index + 1,
        type: row.type,
        data: JSON.parse(row.data) as unknown,
        metadata: JSON.parse(row.metadata) as RecordedEvent['metadata'],
        recordedAt: 0,
      }));
      return { ok: true, result: { nextVersion: events.length, lastPosition: position, events } };
    });
}

/** A barrier the test completes by hand: each call waits in `calls` until `release`d. */
function manualBarrier(): { barrier: DurabilityBarrier; calls: ((error?: Error) => void)[] } {
  const calls: ((error?: Error) => void)[] = [];
  return { barrier: (done) => calls.push((error) => done(error)), calls };
}

const event = { type: 'Happened', data: { n: 1 } };
const settled = <T>(promise: Promise<T>) => {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error: unknown) => Object.assign(state, { error, done: true }),
  );
  return state;
};

describe('GroupCommitter with a durability barrier', () => {
  it('acknowledges and tells listeners only after the sync that covers the commit', async () => {
    const committed: string[] = [];
    const { barrier, calls } = manualBarrier();
    const committer = new GroupCommitter(recordingCommit(committed), 100, undefined, undefined, barrier);
    const heard: number[] = [];
    committer.onCommitted((events) => heard.push(...events.map((recorded) => recorded.position)));

    const first = settled(committer.append('s-1', [event], 'any'));
    await until(() => calls.length === 1, 'calls.length === 1');
    // Committed (in SQLite's page cache), not yet synced: nobody has been told.
    expect(committed).toEqual(['s-1']);
    expect(first.done).toBe(false);
    expect(heard).toEqual([]);

    calls[0]!();
    await until(() => first.done, 'first.done');
    expect(first.value?.lastPosition).toBe(1);
    expect(heard).toEqual([1]);
  });

  it('holds appends made while a sync runs, then commits them as one transaction under the next sync', async () => {
    const committed: string[] = [];
    const transactions: number[] = [];
    const commit = recordingCommit(committed);
    const { barrier, calls } = manualBarrier();
    const committer = new GroupCommitter((batch) => (transactions.push(batch.length), commit(batch)), 100, undefined, undefined, barrier);

    const first = settled(committer.append('s-1', [event], 'any'));
    await until(() => calls.length === 1, 'the first sync');
    const second = settled(committer.append('s-2', [event], 'any'));
    const third = settled(committer.append('s-3', [event], 'any'));
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    // The event loop went on; the two appends wait for the running sync instead of committing
    // as transactions of their own.
    expect(committed).toEqual(['s-1']);

    calls[0]!();
    await until(() => first.done && calls.length === 2, 'the first ack and the second sync');
    expect(committed).toEqual(['s-1', 's-2', 's-3']);
    expect(transactions).toEqual([1, 2]);
    expect(second.done || third.done).toBe(false);
    calls[1]!();
    await until(() => second.done && third.done, 'the second ack');
    expect([second.value?.lastPosition, third.value?.lastPosition]).toEqual([2, 3]);
    await committer.drained();
  });

  it('fails what a failed sync covered, and refuses every later append UNAVAILABLE', async () => {
    const { barrier, calls } = manualBarrier();
    const committer = new GroupCommitter(recordingCommit([]), 100, undefined, undefined, barrier);
    const heard: RecordedEvent[] = [];
    committer.onCommitted((events) => heard.push(...events));

    const first = committer.append('s-1', [event], 'any');
    await until(() => calls.length === 1, 'calls.length === 1');
    calls[0]!(new Error('EIO'));
    await expect(first).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(committer.failed).toBe(true);
    expect(heard).toEqual([]);
    const later = committer.append('s-2', [event], 'any');
    await expect(later).rejects.toBeInstanceOf(AppError);
    await expect(later).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('drained() waits for the sync in flight (shutdown)', async () => {
    const { barrier, calls } = manualBarrier();
    const committer = new GroupCommitter(recordingCommit([]), 100, undefined, undefined, barrier);
    void committer.append('s-1', [event], 'any');
    await until(() => calls.length === 1, 'calls.length === 1');
    const drained = settled(committer.drained());
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained.done).toBe(false);
    calls[0]!();
    await until(() => drained.done, 'drained.done');
  });
});
