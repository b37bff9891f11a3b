import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAIMS_BUCKET, NODES_BUCKET, NodeDirectory, type NodeDirectoryOptions, type NodeJoined, type NodeLost } from '../../src/cluster/index.js';
import { connectCluster } from '../../src/cluster/nats.js';
import { until } from '../helpers/conditions.js';
import { skipWithoutNats, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The node directory against a real three-server NATS cluster: each directory on its own
 * connection to its own server. Short heartbeats keep the losses quick; every wait is on an
 * event or a condition (the vitest timeout is the hang guard).
 */

const quiet = { info: () => {}, warn: () => {} };
const FAST = { heartbeatMs: 100, lostAfterMs: 800, replicas: 3 } as const;

/** The first event from `register` that matches, as a promise. */
function nextEvent<T>(register: (listener: (event: T) => void) => () => void, matches: (event: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const stop = register((event) => {
      if (!matches(event)) return;
      stop();
      resolve(event);
    });
  });
}

describe.skipIf(skipWithoutNats())('cluster node directory (3 NATS servers)', () => {
  let cluster: NatsCluster;
  let dir: ReturnType<typeof tempDir>;
  const connections: NatsConnection[] = [];
  const directories: NodeDirectory[] = [];

  const connectTo = async (server: number, name: string): Promise<NatsConnection> => {
    const connection = await connectCluster({ servers: [cluster.urls[server]!], user: cluster.user, password: cluster.password, name }, quiet);
    connections.push(connection);
    return connection;
  };
  const open = async (server: number, node: string, options: Partial<NodeDirectoryOptions> = {}): Promise<{ directory: NodeDirectory; connection: NatsConnection }> => {
    const connection = await connectTo(server, node);
    const directory = await NodeDirectory.open(connection, { node, info: { address: `127.0.0.1:${7000 + server}`, startedAt: Date.now(), version: 'test' }, ...FAST, ...options });
    directories.push(directory);
    return { directory, connection };
  };
  /** Resolves once `directory` lists every one of `nodes` as live. */
  const seesLive = async (directory: NodeDirectory, nodes: string[]): Promise<void> => {
    const missing = () => nodes.filter((node) => !directory.live().some((live) => live.node === node));
    while (missing().length > 0) await nextEvent<NodeJoined>((listener) => directory.onJoined(listener), () => true);
  };

  beforeAll(async () => {
    dir = tempDir('switchyard-cluster-nodes-');
    cluster = await startNatsCluster(dir.path, 3);
  }, 60_000);

  afterAll(async () => {
    for (const directory of directories) await directory.close().catch(() => undefined);
    for (const connection of connections) await connection.close().catch(() => undefined);
    await cluster?.stop();
    dir?.remove();
  });

  it('sees a killed node lost on both survivors, and exactly one of them wins its takeover claim', async () => {
    const a = await open(0, 'kill-a');
    const b = await open(1, 'kill-b');
    const c = await open(2, 'kill-c');
    await Promise.all([seesLive(a.directory, ['kill-b', 'kill-c']), seesLive(b.directory, ['kill-a', 'kill-c'])]);
    const incarnation = b.directory.live().find((node) => node.node === 'kill-c')!.incarnation;

    // Each survivor races for the takeover the moment it sees the loss, as the gateway will.
    const takeover = (directory: NodeDirectory) =>
      nextEvent<NodeLost>((listener) => directory.onLost(listener), (event) => event.node === 'kill-c').then(async (event) => ({
        event,
        won: await directory.claim(`takeover.${event.node}.${event.incarnation}`, directory.node),
      }));
    const seen = Promise.all([takeover(a.directory), takeover(b.directory)]);
    // kill -9 as NATS sees it: the link goes, the directory never deletes its entry.
    await c.connection.close();
    const [onA, onB] = await seen;

    expect(onA.event).toMatchObject({ node: 'kill-c', incarnation, reason: 'silent', info: { address: '127.0.0.1:7002', version: 'test' } });
    expect(onB.event).toMatchObject({ node: 'kill-c', incarnation, reason: 'silent' });
    expect([onA.won, onB.won].filter(Boolean)).toHaveLength(1);
    const winner = onA.won ? 'kill-a' : 'kill-b';
    expect(await a.directory.holderOf(`takeover.kill-c.${incarnation}`)).toBe(winner);
    expect(a.directory.live().map((node) => node.node)).not.toContain('kill-c');
    expect(a.directory.stats()).toMatchObject({ lost: 1, isolated: false });
    expect(a.directory.stats().live).toBeGreaterThanOrEqual(2);
  });

  it('tells a clean leave apart, and joins a node that comes back under the same id', async () => {
    const watcher = await open(0, 'leave-watcher');
    const leaver = await open(1, 'leave-node');
    await seesLive(watcher.directory, ['leave-node']);
    const firstIncarnation = watcher.directory.live().find((node) => node.node === 'leave-node')!.incarnation;

    const left = nextEvent<NodeLost>((listener) => watcher.directory.onLost(listener), (event) => event.node === 'leave-node');
    await leaver.directory.close();
    expect(await left).toMatchObject({ node: 'leave-node', incarnation: firstIncarnation, reason: 'left' });

    const back = nextEvent<NodeJoined>((listener) => watcher.directory.onJoined(listener), (event) => event.node === 'leave-node');
    await open(2, 'leave-node');
    const joined = await back;
    expect(joined.incarnation).not.toBe(firstIncarnation);
    expect(joined.returned).toBe(false);
    expect(watcher.directory.live().map((node) => node.node)).toContain('leave-node');
  });

  it('reports the earlier incarnation lost when a node restarts before its silence is noticed', async () => {
    // lostAfterMs far longer than the restart takes: only the new incarnation can give it away.
    const watcher = await open(0, 'restart-watcher', { lostAfterMs: 20_000 });
    const first = await open(1, 'restart-node');
    await seesLive(watcher.directory, ['restart-node']);
    const before = watcher.directory.live().find((node) => node.node === 'restart-node')!.incarnation;

    const lost = nextEvent<NodeLost>((listener) => watcher.directory.onLost(listener), (event) => event.node === 'restart-node');
    const joined = nextEvent<NodeJoined>((listener) => watcher.directory.onJoined(listener), (event) => event.node === 'restart-node' && event.incarnation !== before);
    await first.connection.close();
    await open(2, 'restart-node');
    expect(await lost).toMatchObject({ incarnation: before, reason: 'restarted' });
    expect((await joined).incarnation).not.toBe(before);
  });

  it('gives exactly one of 20 concurrent claims from 3 nodes, and the name again once released', async () => {
    const nodes = await Promise.all([open(0, 'claim-a'), open(1, 'claim-b'), open(2, 'claim-c')]);
    const attempts = Array.from({ length: 20 }, (_, index) => nodes[index % 3]!.directory.claim('room.split-brain', `holder-${index}`));
    const results = await Promise.all(attempts);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winnerIndex = results.indexOf(true);
    const winner = nodes[winnerIndex % 3]!.directory;
    expect(await winner.holderOf('room.split-brain')).toBe(`holder-${winnerIndex}`);

    // Only the winner's directory can release it; then the name is free for one new winner,
    // round after round (NATS 2.9 would let several win a re-claim judged by a delete marker).
    const other = nodes[(winnerIndex + 1) % 3]!.directory;
    expect(await other.release('room.split-brain')).toBe(false);
    let holder = winner;
    for (let round = 0; round < 15; round++) {
      expect(await holder.release('room.split-brain')).toBe(true);
      const again = await Promise.all(nodes.map(({ directory }) => directory.claim('room.split-brain', directory.node)));
      expect(again.filter(Boolean), `round ${round}`).toHaveLength(1);
      holder = nodes[again.indexOf(true)]!.directory;
      expect(await holder.holderOf('room.split-brain')).toBe(holder.node);
    }

    // A delete marker left by some other client (a plain KV delete): still exactly one winner.
    const raw = await new Kvm(nodes[0]!.connection).open(CLAIMS_BUCKET);
    await raw.delete('room.split-brain');
    const afterDelete = await Promise.all(Array.from({ length: 9 }, (_, index) => nodes[index % 3]!.directory.claim('room.split-brain', `after-${index}`)));
    expect(afterDelete.filter(Boolean)).toHaveLength(1);
  });

  it('refuses names that are not KV keys and ignores entries that are not node entries', async () => {
    const { directory, connection } = await open(0, 'garbage-watcher');
    await expect(directory.claim('has space', 'x')).rejects.toThrow(/claim name/);
    await expect(NodeDirectory.open(connection, { node: 'a.b', info: { address: 'x', startedAt: 0, version: 'test' } })).rejects.toThrow(/node id/);

    // Any cluster member can write the bucket: garbage there is counted, never a node, never a crash.
    const raw = await new Kvm(connection).open(NODES_BUCKET);
    await raw.put('not-a-node', 'this is not JSON');
    await raw.put('forged', JSON.stringify({ node: 'someone-else', incarnation: 'x', beat: 1, info: {} }));
    await raw.put('garbage-watcher', JSON.stringify({ node: 'garbage-watcher', incarnation: 'impostor', beat: 1, info: { address: 'x', startedAt: 0, version: 'x' } }));
    await until(() => directory.stats().badEntries >= 3, 'the three bad entries are counted');
    expect(directory.live().map((node) => node.node)).not.toContain('not-a-node');
    expect(directory.live().map((node) => node.node)).not.toContain('forged');
    expect(directory.live().filter((node) => node.node === 'garbage-watcher')).toHaveLength(1);
    await raw.delete('not-a-node');
    await raw.delete('forged');
  });
});

