import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { APP_PASSWORD, appToken, connectPeer } from '../helpers/rooms.js';

let nats: NatsCluster;
const nodes: TestGateway[] = [];
beforeAll(async () => {
  nats = await startNatsCluster(mkdtempSync(join(tmpdir(), 'sy-nats-')), 3);
  const overrides = { cluster: nats.urls.join(','), clusterUser: nats.user, clusterPassword: nats.password, appPassword: APP_PASSWORD };
  nodes.push(await startTestGateway(overrides));
  nodes.push(await startTestGateway(overrides));
}, 60_000);
afterAll(async () => {
  for (const node of nodes) await node.close();
  await nats?.stop();
});

it('joins across nodes', async () => {
  const [a, b] = nodes as [TestGateway, TestGateway];
  const token = await appToken(a);
  const owner = await connectPeer(a, token);
  const joiner = await connectPeer(b, token);
  const created = await owner.client.request('room-create-request', { room: 'x' });
  expect(created.event).toBe('room-create-accept');
  joiner.client.sendJson({ event: 'room-join-request', data: { room: 'x' } });
  const request = await owner.client.next('room-join-request');
  owner.client.sendJson({ event: 'room-join-accept', data: { room: 'x', peer_id: (request.data as { peer_id: string }).peer_id } });
  const accept = await joiner.client.next('room-join-accept');
  expect((accept.data as { peers: string[] }).peers).toEqual([owner.peerId]);
  const join = await owner.client.next('room-user-join');
  expect((join.data as { peer_id: string }).peer_id).toBe(joiner.peerId);
}, 60_000);
