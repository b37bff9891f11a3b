import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, responseOf } from '../helpers/extream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { ask, createUsers, type TestUser } from '../helpers/identity.js';
import { eventually } from '../helpers/odin.js';
import { skipWithoutNats, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { connectV4 } from '../helpers/socketio.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Presence across the nodes of a cluster (PROTOCOL.md sections 8 and 12): two gateway nodes in
 * this process on three NATS servers. A user on an event through node A is online for the
 * attendees on node B (pushed and listed), a user on both nodes is one join and one leave, and
 * a node that leaves takes its users' presence with it. A push that must NOT arrive is checked
 * behind a barrier: a later push to the same client (pushes arrive in order).
 */

const WAIT_MS = 60_000;
const JOIN = 'consumer_online_join';
const LEAVE = 'consumer_online_leave';
const DATES = { start_date: '2030-05-04T08:00:00Z', end_date: '2030-05-05T18:00:00Z' };
type Data = Record<string, any>;

/** A gateway node in this process on the NATS cluster; its data dir is the test's to remove. */
function startNode(dataDir: string, nats: NatsCluster): Promise<TestGateway> {
  return startTestGateway(
    { authDeadlineSeconds: '0', cluster: nats.urls.join(','), clusterUser: nats.user, clusterPassword: nats.password, clusterReplicas: '3' },
    dataDir,
  );
}

/** A signed-in native client that records every online push in arrival order. */
interface Attendee {
  client: TestClient;
  pushes: Frame[];
  waitPush(event: string, userId: string): Promise<Data>;
}

describe.skipIf(skipWithoutNats())('presence across cluster nodes', { timeout: 180_000 }, () => {
  const natsDir = tempDir('switchyard-presence-nats-');
  const dirs = [tempDir('switchyard-presence-a-'), tempDir('switchyard-presence-b-')];
  let nats: NatsCluster;
  let a: TestGateway;
  let b: TestGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};
  let eventId: string;
  const clients: TestClient[] = [];

  const attendee = async (node: TestGateway, name: string): Promise<Attendee> => {
    const client = await TestClient.connect(node.wsUrl());
    clients.push(client);
    const pushes: Frame[] = [];
    client.socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.event === JOIN || frame.event === LEAVE) pushes.push(frame);
    });
    expect(await ask(client, 'authorize', { method: 'oauth2', token: tokens[name] })).toMatchObject({ event: 'authorized' });
    // The event was made on A: B's copy of the log has it once its mirror caught up.
    await eventually(async () => ((await command(client, 'consumer_event_get', { id: eventId }, WAIT_MS)).result.data as Data).status === 200, `the event reaches ${name}'s node`);
    const find = (event: string, userId: string) => pushes.find((push) => push.event === event && (push.data as Data).user.id === userId);
    return {
      client,
      pushes,
      waitPush: async (event, userId) => {
        if (!find(event, userId)) await client.next((frame) => frame.event === event && (frame.data as Data).user.id === userId, WAIT_MS);
        return find(event, userId)!.data as Data;
      },
    };
  };
  const online = async (who: Attendee): Promise<string[]> => {
    const answer = await command(who.client, 'consumer_online_users', { event: eventId }, WAIT_MS);
    return responseOf<{ id: string }[]>(answer).map((user) => user.id).sort();
  };
  const userId = (name: string) => users[name]!.userId;

  beforeAll(async () => {
    nats = await startNatsCluster(natsDir.path, 3);
    [a, b] = await Promise.all([startNode(dirs[0]!.path, nats), startNode(dirs[1]!.path, nats)]);
    const seed = await a.gateway.identity.createOrganisation('Seed', 'test');
    users = await createUsers(a, seed, [{ username: 'olga' }, { username: 'arne' }, { username: 'cleo' }, { username: 'dan' }]);
    for (const [name, user] of Object.entries(users)) {
      tokens[name] = (await a.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 86_400, now: Date.now() })).token;
    }
    const olga = await TestClient.connect(a.wsUrl());
    clients.push(olga);
    await ask(olga, 'authorize', { method: 'oauth2', token: tokens.olga });
    const organisation = responseOf<{ id: string }>(await command(olga, 'admin_organisation_create', { data: { name: 'Cluster Org' } }, WAIT_MS)).id;
    eventId = responseOf<{ id: string }>(await command(olga, 'admin_event_create', { data: { organisation, name: 'Cluster Fest', public: true, ...DATES } }, WAIT_MS)).id;
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.allSettled([a?.close(), b?.close()]);
    await nats?.stop();
    for (const dir of [...dirs, natsDir]) dir.remove();
  });

  it('a user on node A is online for an attendee on node B: pushed, listed, and gone when it leaves', async () => {
    const cleo = await attendee(b, 'cleo');
    const arne = await attendee(a, 'arne');
    expect(await cleo.waitPush(JOIN, userId('arne'))).toEqual({ event: eventId, user: { id: userId('arne'), name: 'arne' } });
    // The late comer lists the one who was there, on the other node.
    expect(await online(arne)).toEqual([userId('arne'), userId('cleo')].sort());
    expect(await online(cleo)).toEqual([userId('arne'), userId('cleo')].sort());
    arne.client.close();
    await cleo.waitPush(LEAVE, userId('arne'));
    expect(await online(cleo)).toEqual([userId('cleo')]);
  });

  it('a user on both nodes (two tabs) is one join and one leave; Socket.IO attendees hear it too', async () => {
    const cleo = await attendee(b, 'cleo');
    const v4 = await connectV4(b.port, { auth: { token: tokens.olga! } });
    await v4.log.next('authorized', WAIT_MS);
    v4.socket.emit('consumer_event_get', { id: eventId, payload: { correlationId: 'olga-on-b' } });
    await v4.log.next((entry) => entry.event === 'olga-on-b' && (entry.args[0] as Data).status === 200, WAIT_MS);

    const onA = await attendee(a, 'dan');
    await cleo.waitPush(JOIN, userId('dan'));
    await v4.log.until(() => v4.log.events.some((entry) => entry.event === JOIN && (entry.args[0] as Data).user.id === userId('dan')), 'olga (socket.io) hears dan', WAIT_MS);
    const onB = await attendee(b, 'dan');
    // The second tab closes on A: dan is still there through B, so no leave. The barrier: arne comes after.
    onA.client.close();
    const arne = await attendee(a, 'arne');
    await cleo.waitPush(JOIN, userId('arne'));
    expect(cleo.pushes.filter((push) => (push.data as Data).user.id === userId('dan')).map((push) => push.event)).toEqual([JOIN]);
    expect(await online(arne)).toContain(userId('dan'));

    onB.client.close();
    await cleo.waitPush(LEAVE, userId('dan'));
    expect(cleo.pushes.filter((push) => (push.data as Data).user.id === userId('dan')).map((push) => push.event)).toEqual([JOIN, LEAVE]);
    v4.socket.close();
    arne.client.close();
  });

  it('a node that leaves the cluster takes its users with it', async () => {
    const cleo = await attendee(b, 'cleo');
    await attendee(a, 'dan');
    await cleo.waitPush(JOIN, userId('dan'));
    await a.close();
    await cleo.waitPush(LEAVE, userId('dan'));
    expect(await online(cleo)).toEqual([userId('cleo')]);
    expect(b.gateway.presence.exchange?.stats).toEqual({ malformed: 0, remoteEntries: 0 });
  });
});
