import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_SUBJECT_PREFIX, ClusterChannel } from '../../src/cluster/index.js';
import { connectCluster } from '../../src/cluster/nats.js';
import { until } from '../helpers/conditions.js';
import { skipWithoutNats, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The cluster's broadcast channel (cluster/channel.ts) on a real three-server NATS cluster:
 * every other node hears each message in the order it was sent, a node never hears itself,
 * and what is not a channel message (raw bytes on the subject, a bad node id, a message past
 * the limit) is counted and dropped without reaching the handler.
 */

const quiet = { info: () => {}, warn: () => {} };

describe.skipIf(skipWithoutNats())('cluster channel (3 NATS servers)', () => {
  let cluster: NatsCluster;
  const dir = tempDir('switchyard-channel-');
  const connections: NatsConnection[] = [];
  const connectTo = async (server: number, name: string) => {
    const connection = await connectCluster({ servers: [cluster.urls[server]!], user: cluster.user, password: cluster.password, name }, quiet);
    connections.push(connection);
    return connection;
  };

  beforeAll(async () => {
    cluster = await startNatsCluster(dir.path, 3);
  }, 60_000);

  afterAll(async () => {
    for (const connection of connections) await connection.close();
    await cluster?.stop();
    dir.remove();
  });

  it('broadcasts to every other node in order; malformed messages are counted, never handled', async () => {
    const nodes = ['node-a', 'node-b', 'node-c'];
    const channels = await Promise.all(nodes.map(async (node, server) => new ClusterChannel(await connectTo(server, node), node, 'presence')));
    const heard: Record<string, { from: string; body: unknown }[]> = { 'node-a': [], 'node-b': [], 'node-c': [] };
    channels.forEach((channel, index) => channel.subscribe((from, body) => heard[nodes[index]!]!.push({ from, body })));
    // Subscriptions travel between the servers on their own time: each node probes until every
    // other hears it, then sends a marker, behind which its probes still on their way arrive
    // (one publisher's order); then every list starts clean.
    for (const [index, channel] of channels.entries()) {
      const from = nodes[index]!;
      const others = nodes.filter((node) => node !== from);
      let probe = 0;
      await until(() => {
        channel.publish({ probe: probe++ });
        return others.every((node) => heard[node]!.some((message) => message.from === from));
      }, `${from} heard by the others`, 10_000_000);
      channel.publish({ marker: true });
      const markerHeard = (node: string) => heard[node]!.some((message) => message.from === from && (message.body as { marker?: boolean }).marker === true);
      await until(() => others.every(markerHeard), `${from}'s marker after its probes`, 10_000_000);
    }
    for (const list of Object.values(heard)) list.length = 0;

    for (let index = 0; index < 100; index += 1) channels[0]!.publish({ index });
    channels[1]!.publish({ from: 'b' });
    await until(() => heard['node-a']!.length === 1 && heard['node-b']!.length === 100 && heard['node-c']!.length === 101, 'every message heard', 10_000_000);
    expect(heard['node-b']!.map((message) => (message.body as { index: number }).index)).toEqual([...Array(100).keys()]);
    expect(heard['node-a']).toEqual([{ from: 'node-b', body: { from: 'b' } }]);
    expect(heard['node-c']!.filter((message) => message.from === 'node-a')).toHaveLength(100);

    const raw = await connectTo(1, 'stranger');
    const subject = `${CHANNEL_SUBJECT_PREFIX}presence`;
    const before = channels[2]!.stats.malformed;
    raw.publish(subject, Buffer.from('not json'));
    raw.publish(subject, Buffer.from('[1,2]'));
    raw.publish(subject, Buffer.from(JSON.stringify({ node: 'bad node id!', body: {} })));
    raw.publish(subject, Buffer.from(JSON.stringify({ body: {} })));
    raw.publish(subject, Buffer.from(JSON.stringify({ node: 'node-x', body: 'ok' })));
    await until(() => heard['node-c']!.some((message) => message.from === 'node-x'), 'the good one arrives after the bad ones', 10_000_000);
    expect(channels[2]!.stats.malformed - before).toBe(4);
    expect(heard['node-c']!.filter((message) => message.from !== 'node-a')).toEqual([
      { from: 'node-b', body: { from: 'b' } },
      { from: 'node-x', body: 'ok' },
    ]);

    // Too large for one NATS message: refused at the sender, counted.
    expect(channels[0]!.publish({ blob: 'x'.repeat(channels[0]!.maxMessageBytes) })).toBe(false);
    expect(channels[0]!.stats.dropped).toBe(1);
    for (const channel of channels) channel.close();
    expect(channels[0]!.publish({ after: 'close' })).toBe(false);
  });

  it('refuses names that are not one subject token', async () => {
    const connection = await connectTo(0, 'names');
    expect(() => new ClusterChannel(connection, 'node-a', 'a.b')).toThrow(/channel name/);
    expect(() => new ClusterChannel(connection, 'node-a', '>')).toThrow(/channel name/);
    expect(() => new ClusterChannel(connection, 'bad id!', 'presence')).toThrow(/node id/);
  });
});
