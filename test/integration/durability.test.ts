import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readLog, removeTempDataDirs, runCli, spawnGateway, tempDataDir, type ChildGateway, type LoggedEvent } from '../helpers/child-gateway.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * "Durable before anyone is told": the `welcome` frame goes out only after the connection's
 * `ConnectionOpened` is committed, so every peer_id a client received must survive a kill -9
 * that lands in the middle of the load, and the log must stay gap-free.
 */

const WAVE_SIZE = 50;
// Not a multiple of the wave size, so the kill lands while part of a wave is still opening.
const KILL_AFTER_ACKS = 425;
const MAX_WAVES = 40;

const running: ChildGateway[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((gateway) => gateway.dispose()));
});
afterAll(removeTempDataDirs);

describe('durability under kill -9', () => {
  it('keeps every acknowledged connection and a gap-free log across a crash and restart', async () => {
    const dataDir = tempDataDir();
    const first = await spawnGateway({ dataDir });
    running.push(first);

    const acknowledged = new Set<string>();
    const clients: TestClient[] = [];
    let killed = false;
    let started = 0;
    let settled = 0;
    let pendingAtKill = 0;

    /** One connection: open, wait for welcome, record the peer_id, sometimes close again. */
    const connectOne = async (index: number): Promise<void> => {
      started += 1;
      try {
        await openOne(index);
      } finally {
        settled += 1;
      }
    };
    const openOne = async (index: number): Promise<void> => {
      let client: TestClient;
      try {
        client = await TestClient.open(first.wsUrl(), index % 3 === 0 ? { protocols: ['switchyard.v1.msgpack'] } : {});
      } catch {
        return; // refused or reset: the gateway is gone
      }
      clients.push(client);
      try {
        const welcome = await client.next('welcome', 10_000);
        acknowledged.add((welcome.data as { peer_id: string }).peer_id);
      } catch {
        return; // the gateway died before committing this one: it was never acknowledged
      }
      if (!killed && acknowledged.size >= KILL_AFTER_ACKS) {
        // In the middle of the load: the rest of this wave is still being opened or committed.
        killed = true;
        pendingAtKill = started - settled - 1; // other connections opened but not yet welcomed
        first.child.kill('SIGKILL');
      }
      // Some connections end while the load runs, so closes interleave with opens in the log.
      if (index % 5 === 0 && !killed) client.close();
    };

    let index = 0;
    for (let wave = 0; wave < MAX_WAVES && !killed; wave++) {
      await Promise.all(Array.from({ length: WAVE_SIZE }, () => connectOne(index++)));
    }
    expect(killed).toBe(true);
    expect(pendingAtKill).toBeGreaterThan(0);
    expect(await first.waitExit()).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all(clients.map((client) => client.waitClosed().catch(() => undefined)));
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);

    // Restart on the same data dir: recovery closes whatever the crash left open.
    const second = await spawnGateway({ dataDir });
    running.push(second);
    const survivor = await TestClient.connect(second.wsUrl());
    expect(await survivor.request('ping')).toMatchObject({ event: 'pong' });
    survivor.close();
    second.child.kill('SIGTERM');
    expect((await second.waitExit()).code).toBe(0);

    const log = await readLog(dataDir);
    // Global positions are exactly 1..N.
    expect(log.map((event) => event.position)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));

    const streams = new Map<string, LoggedEvent[]>();
    for (const event of log) {
      const stream = streams.get(event.streamId) ?? [];
      stream.push(event);
      streams.set(event.streamId, stream);
    }
    // Every acknowledged peer_id is in the log, opened first.
    const missing = [...acknowledged].filter((peerId) => streams.get(`connection-${peerId}`)?.[0]?.type !== 'ConnectionOpened');
    expect(missing).toEqual([]);
    for (const [streamId, events] of streams) {
      // Stream versions are 1..k, and every connection has exactly one end.
      expect(events.map((event) => event.version), streamId).toEqual(events.map((_, i) => i + 1));
      expect(events.map((event) => event.type), streamId).toEqual(['ConnectionOpened', 'ConnectionClosed']);
    }
    // The crash's victims were closed by recovery, marked unclean.
    const unclean = log.filter((event) => event.type === 'ConnectionClosed' && event.data.unclean === true);
    expect(unclean.length).toBeGreaterThan(0);
    for (const event of unclean) expect(event.data).toMatchObject({ reason: 'gateway restarted', code: 1006 });

    // The read models rebuilt from this log equal the live ones.
    const replay = await runCli(['replay', '--data', dataDir]);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('read models equal the log');
  }, 60_000); // a hang guard for loaded machines; it takes a few seconds on an idle one
});
