import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISCONNECT } from '../../src/core/disconnect.js';
import { SwitchyardClient, type ClientOptions } from '../../packages/client/src/index.js';
import { nextEvent, recordLifecycle, settle } from '../../packages/client/test/events.js';
import { Network } from '../../packages/client/test/network.js';
import { createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';

/**
 * The client SDK (packages/client) against a real gateway on port 0, over real sockets
 * (the `ws` package as its WebSocket): sign-in, an Extream command with its receipt, the
 * Chat Signal room flow between two SDK clients, and what happens to the session and to
 * requests when the socket goes away. Waits are on the client's own events.
 */

/** A login is scrypt in one of four slots: a hang guard for a loaded machine, not a timing claim. */
const LOGIN_MS = 120_000;

describe('the SDK against the gateway', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  const clients: SwitchyardClient[] = [];

  const client = (options: Partial<ClientOptions> = {}): SwitchyardClient => {
    const created = new SwitchyardClient({ url: server.wsUrl(), WebSocket, reconnect: { baseMs: 20, maxMs: 200 }, ...options });
    clients.push(created);
    return created;
  };

  const signedIn = async (user: TestUser, options: Partial<ClientOptions> = {}): Promise<SwitchyardClient> => {
    const created = client(options);
    await created.connect();
    expect(await created.request('login', { username: user.username, password: user.password }, { timeoutMs: LOGIN_MS })).toMatchObject({
      event: 'authorized',
      data: { userId: user.userId, token: expect.any(String) },
    });
    return created;
  };

  beforeAll(async () => {
    server = await startIdentityGateway();
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, [{ username: 'ada' }, { username: 'bob' }, { username: 'cyd' }, { username: 'dee' }]);
  }, LOGIN_MS);

  afterAll(async () => {
    for (const created of clients) await created.close();
    await server?.close();
  });

  it('connects (welcome: peer id), logs in, and runs an Extream command: the receipt, then the 201 result', async () => {
    const ada = await signedIn(users.ada!);
    expect(ada.peerId).toEqual(expect.any(String));
    expect(server.gateway.connections.get(ada.peerId!)).toBeDefined();

    const receipts: unknown[] = [];
    const created = await ada.command('admin_organisation_create', { data: { name: 'SDK Org' } }, { onReceipt: (receipt) => receipts.push(receipt) });
    expect(receipts).toEqual([{ status: 202, topic: 'ex-manage', messageId: expect.any(Number) }]);
    expect(created).toMatchObject({ status: 201, domain: 'admin', action: 'organisation', command: 'create', response: { name: 'SDK Org', slug: 'sdk-org' } });
    const position = (receipts[0] as { messageId: number }).messageId;
    expect(server.gateway.store.readAll({}).some((event) => event.position === position)).toBe(true);

    // A refusal rejects with the stable code and the result body; nothing was committed, so no receipt.
    const anonymous = client();
    await anonymous.connect();
    const refused = await settle(anonymous.command('admin_organisation_create', { data: { name: 'Nobody Org' } }));
    expect(refused).toMatchObject({ error: { code: 'UNAUTHORIZED', receipt: undefined, data: { status: 401, meta: { permitted: false } } } });
    // Bad input: 400 with the field's path.
    const bad = await settle(ada.command('admin_event_create', { data: { organisation: created.response.id, name: 'x', start_date: 'soon', end_date: 'later' } }));
    expect(bad).toMatchObject({ error: { code: 'BAD_REQUEST', data: { status: 400, response: { errors: expect.arrayContaining([expect.objectContaining({ path: 'data.name' })]) } } } });
  });

  it('two SDK clients: room create, join approved by the owner, relays both ways (Chat Signal flow)', async () => {
    const [owner, joiner] = await Promise.all([signedIn(users.ada!), signedIn(users.bob!)]);
    const room = 'sdk-call';
    expect(await owner.request('room-create-request', { room })).toEqual({ event: 'room-create-accept', data: { room, payload: null } });

    const asked = nextEvent(owner, 'room-join-request');
    const joined = joiner.request('room-join-request', { room, payload: { name: 'Bo' } }, { timeoutMs: 30_000 });
    expect(await asked).toMatchObject({ room, peer_id: joiner.peerId, payload: { name: 'Bo' } });
    const userJoined = nextEvent(owner, 'room-user-join');
    expect(await owner.request('room-join-accept', { room, peer_id: joiner.peerId! })).toMatchObject({ event: 'result', data: { approved: true } });
    expect(await joined).toMatchObject({ event: 'room-join-accept', data: { room, peer_id: joiner.peerId, peers: [owner.peerId] } });
    expect(await userJoined).toMatchObject({ room, peer_id: joiner.peerId });
    expect([...owner.joinedRooms]).toEqual([room]);
    expect([...joiner.joinedRooms]).toEqual([room]);

    const offer = nextEvent(owner, 'session-description');
    const sessionDescription = { type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n' };
    expect(await joiner.request('relay-session-description', { room, to: owner.peerId!, session_description: sessionDescription })).toEqual({
      event: 'result',
      data: { delivered: true },
    });
    expect(await offer).toMatchObject({ room, peer_id: joiner.peerId, session_description: sessionDescription });
    const candidate = nextEvent(joiner, 'ice-candidate');
    const iceCandidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0' };
    await owner.request('relay-ice-candidate', { room, to: joiner.peerId!, ice_candidate: iceCandidate });
    expect(await candidate).toMatchObject({ room, peer_id: owner.peerId, ice_candidate: iceCandidate });

    // Refusals reject with the reject event's code.
    expect(await settle(joiner.request('room-join-request', { room: 'nowhere' }))).toMatchObject({ error: { code: 'NOT_FOUND', event: 'room-join-reject' } });
    expect(await settle(joiner.request('relay-ice-candidate', { room: 'nowhere', to: owner.peerId!, ice_candidate: iceCandidate }))).toMatchObject({
      error: { code: 'FORBIDDEN', event: 'error' },
    });
    const leaving = nextEvent(owner, 'room-user-leave');
    expect(await joiner.request('room-leave', { room })).toEqual({ event: 'result', data: { room, left: true } });
    expect(await leaving).toEqual({ room, peer_id: joiner.peerId });
    expect(joiner.joinedRooms.size).toBe(0);
  });

  it('after a network cut: what was in flight fails with DISCONNECTED, what was queued (up to maxQueued) goes out on reconnect', async () => {
    const network = new Network();
    const owner = await signedIn(users.ada!);
    const cyd = await signedIn(users.cyd!, { WebSocket: network.WebSocket, maxQueued: 2 });
    const lifecycle = recordLifecycle(cyd);
    const room = 'waiting-room';
    await owner.request('room-create-request', { room });
    // In flight: a join whose owner never decides.
    const asked = nextEvent(owner, 'room-join-request');
    const inFlight = settle(cyd.request('room-join-request', { room }, { timeoutMs: 60_000 }));
    await asked;

    let queued: Promise<unknown>[] = [];
    cyd.once('closed', () => {
      queued = [cyd.request('ping'), cyd.request('ping'), settle(cyd.request('ping'))];
    });
    const failedAttempt = nextEvent(cyd, 'reconnecting', ({ attempt }) => attempt === 2);
    network.cut();
    expect(await inFlight).toMatchObject({ error: { code: 'DISCONNECTED' } });
    // Offline, the attempts fail (connection refused) and are retried with backoff.
    await failedAttempt;
    expect(cyd.queued).toBe(2);
    network.restore();
    const [first, second, third] = await Promise.all(queued);
    expect(first).toMatchObject({ event: 'pong', data: { ts: expect.any(Number) } });
    expect(second).toMatchObject({ event: 'pong' });
    expect(third).toMatchObject({ error: { code: 'QUEUE_FULL' } });
    expect(lifecycle.find((event) => event.name === 'closed')?.data).toEqual({ code: 1006, reason: '', willReconnect: true });
    expect(lifecycle.filter((event) => event.name === 'reconnecting').map((event) => (event.data as { attempt: number }).attempt).slice(0, 2)).toEqual([1, 2]);
    expect(cyd.state).toBe('ready');
  });

  it('the server closing with a code that allows it (4008 slow consumer): the client comes back', async () => {
    const bob = await signedIn(users.bob!);
    const reopened = nextEvent(bob, 'open');
    const closed = nextEvent(bob, 'closed');
    server.gateway.connections.get(bob.peerId!)!.close(DISCONNECT.slowConsumer);
    expect(await closed).toEqual({ code: 4008, reason: DISCONNECT.slowConsumer.reason, willReconnect: true });
    await reopened;
    expect(await bob.request('ping')).toMatchObject({ event: 'pong' });
  });

  it('no reconnect after 4501 (the user was disabled): the client closes for good', async () => {
    const network = new Network();
    const dee = await signedIn(users.dee!, { WebSocket: network.WebSocket });
    const closed = nextEvent(dee, 'closed');
    await server.gateway.identity.disableUser('dee', 'test', 'left the company');
    expect(await closed).toMatchObject({ code: 4501, willReconnect: false });
    expect(dee.state).toBe('closed');
    expect(await settle(dee.request('ping'))).toMatchObject({ error: { code: 'CLOSED' } });
    expect(network.sockets).toHaveLength(1);
  });
});
