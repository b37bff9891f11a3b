import { expect } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createUsers } from '../helpers/identity.js';
import { connectV2, connectV4, emitWithAckV2, type EventLog } from '../helpers/socketio.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * What the call tests (calls*.test.ts) share: a gateway with an organisation, operators and
 * consumers, a public event with one webrtc item per mode, and real clients (native JSON,
 * Socket.IO 4.x with CONNECT `auth`, Socket.IO 2.x with `x-auth`) behind one small interface.
 * Bounds are hang guards for a loaded machine, not timing claims.
 */

export const WAIT_MS = 60_000;
// Extream's answers are loose JSON: the tests read them as such.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Data = Record<string, any>;
export type Transport = 'native' | '4.x' | '2.x';

/** A push as received: its data, and the log position it came from (`seq`). */
export interface Push {
  data: Data;
  seq: number | undefined;
}

/** One signed-in client of any transport. */
export interface CallClient {
  name: string;
  peerId: string;
  /** Sends a command and resolves with its result (or refusal); an Extream receipt is skipped. */
  ask(event: string, data: unknown): Promise<Data>;
  /** Sends a command and resolves with both answers (native only: the receipt with its `messageId`). */
  command(event: string, data: unknown): Promise<{ receipt: Data | undefined; result: Data }>;
  /** The next push of `event` that matches (taken off the client's queue). */
  push(event: string, match?: (data: Data) => boolean): Promise<Push>;
  /** Pushes of `event` received and not taken yet. */
  pending(event: string): Data[];
  close(): void;
}

const isReceipt = (data: unknown): boolean => (data as Data | undefined)?.status === 202;
let nextId = 1;

async function openNative(server: TestGateway, name: string, token: string): Promise<CallClient> {
  const client = await TestClient.open(server.wsUrl());
  const welcome = await client.next('welcome', WAIT_MS);
  const send = async (event: string, data: unknown): Promise<{ receipt: Data | undefined; result: Data }> => {
    const id = nextId++;
    client.sendJson({ event, data, id });
    const result = await client.next((frame) => frame.id === id && !isReceipt(frame.data), WAIT_MS);
    const at = client.frames.findIndex((frame) => frame.id === id && isReceipt(frame.data));
    return { receipt: at === -1 ? undefined : (client.frames.splice(at, 1)[0]!.data as Data), result: result.data as Data };
  };
  const authorized = await send('authorize', { method: 'oauth2', token });
  // A user is `authorized {userId, ...}`, a guest `authorized {guest: true, ...}`; a refusal carries a code.
  expect(authorized.result.code, `${name} signs in: ${JSON.stringify(authorized.result)}`).toBeUndefined();
  const matching = (event: string, match: (data: Data) => boolean) => (frame: Frame) => frame.event === event && frame.id === undefined && match(frame.data as Data);
  return {
    name,
    peerId: (welcome.data as { peer_id: string }).peer_id,
    ask: async (event, data) => (await send(event, data)).result,
    command: send,
    push: async (event, match = () => true) => {
      const frame = (await client.next(matching(event, match), WAIT_MS)) as Frame & { seq?: number };
      return { data: frame.data as Data, seq: frame.seq };
    },
    pending: (event) => client.frames.filter(matching(event, () => true)).map((frame) => frame.data as Data),
    close: () => client.close(),
  };
}

async function openSocketIo(server: TestGateway, name: string, token: string, flavour: '4.x' | '2.x'): Promise<CallClient> {
  let log: EventLog;
  let emitWithAck: (event: string, data: unknown) => Promise<unknown>;
  let close: () => void;
  if (flavour === '2.x') {
    const client = await connectV2(server.port, { query: { 'x-auth': token } });
    // Once connected, the protocol's `error` answer (a refused relay) is an answer, not a connect failure.
    client.socket.off('error');
    log = client.log;
    emitWithAck = (event, data) =>
      Promise.race([
        emitWithAckV2(client.socket, event, data),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no ack for ${event}`)), WAIT_MS).unref()),
      ]);
    close = () => void client.socket.close();
  } else {
    const client = await connectV4(server.port, { auth: { token } });
    log = client.log;
    emitWithAck = (event, data) => client.socket.timeout(WAIT_MS).emitWithAck(event, data);
    close = () => void client.socket.close();
  }
  const welcome = await log.next('welcome', WAIT_MS);
  await log.next('authorized', WAIT_MS);
  const ask = async (event: string, data: unknown) => {
    const answer = (await emitWithAck(event, data)) as Data;
    // The ack is the result; the receipt, when there was one, came as an event before it.
    const at = log.events.findIndex((received) => received.event === event && isReceipt(received.args[0]));
    if (at !== -1) log.events.splice(at, 1);
    return answer;
  };
  return {
    name,
    peerId: (welcome.args[0] as { peer_id: string }).peer_id,
    ask,
    command: async (event, data) => ({ receipt: undefined, result: await ask(event, data) }),
    push: async (event, match = () => true) => {
      const received = await log.next((candidate) => candidate.event === event && match(candidate.args[0] as Data), WAIT_MS);
      // Socket.IO carries a push's `seq` inside its data (section 11): taken out, as natively it sits beside it.
      const { seq, ...data } = received.args[0] as Data;
      return { data, seq: typeof seq === 'number' ? seq : undefined };
    },
    pending: (event) => log.events.filter((received) => received.event === event).map((received) => received.args[0] as Data),
    close,
  };
}

export const USERS = ['hana', 'olga', 'otto', 'ada', 'bob', 'cy', 'dan', 'fritz'] as const;
export type UserName = (typeof USERS)[number];

export interface CallWorld {
  server: TestGateway;
  userIds: Record<UserName, string>;
  organisation: string;
  /** Webrtc items by what they are for, and one chat item. */
  items: Record<'instant' | 'capped' | 'roundRobin' | 'group' | 'criteria' | 'chat' | 'memorable', string>;
  tokens: Record<UserName, string>;
  /** Opens a client signed in as `user` over `transport`. */
  open(user: UserName, transport?: Transport): Promise<CallClient>;
  /** Opens a native client signed in with any token (a guest's). */
  openWithToken(name: string, token: string): Promise<CallClient>;
  /** Stops the gateway and starts a new one on the same data directory (the clients' sockets close). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * hana creates the organisation (so holds every permission), olga operates calls through the
 * `operators` group's `operate_webrtc`, otto through the round-robin item's `operators` list;
 * ada is a `speaker` (the criteria item's group); the rest are consumers of a public event.
 */
export async function callWorld(overrides: Record<string, string> = {}, dataDir?: string): Promise<CallWorld> {
  const config = { badFrameLimit: '10000', ...overrides };
  const server = await startTestGateway(config, dataDir);
  const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
  const created = await createUsers(server, seed, USERS.map((username) => ({ username })));
  // Filled below; `open` and `restart` reach the gateway through it, so a restart swaps it for all.
  const world = {} as CallWorld;
  const userIds = Object.fromEntries(USERS.map((user) => [user, created[user]!.userId])) as Record<UserName, string>;
  const tokens = {} as Record<UserName, string>;
  for (const user of USERS) {
    tokens[user] = (await server.gateway.identity.tokens.issue('access', { subject: userIds[user], ttlSeconds: 3600, now: Date.now() })).token;
  }
  const open = (user: UserName, transport: Transport = 'native') =>
    transport === 'native' ? openNative(world.server, user, tokens[user]) : openSocketIo(world.server, user, tokens[user], transport);
  Object.assign(world, {
    server,
    userIds,
    tokens,
    open,
    openWithToken: (name: string, token: string) => openNative(world.server, name, token),
    restart: async () => {
      if (!dataDir) throw new Error('a restart needs the data directory the world was made on');
      await world.server.close();
      world.server = await startTestGateway(config, dataDir);
    },
    close: () => world.server.close(),
  });
  const hana = await open('hana');
  const ok = async (event: string, data: unknown): Promise<Data> => {
    const result = await hana.ask(event, data);
    expect(result, `${event}: ${JSON.stringify(result)}`).toMatchObject({ meta: { permitted: true } });
    return result.response as Data;
  };
  const organisation = (await ok('admin_organisation_create', { data: { name: 'Call Centre' } })).id as string;
  await ok('admin_group_grant', { organisation, group: 'operators', permissions: ['operate_webrtc'] });
  await server.gateway.identity.addToGroup(userIds.olga, organisation, 'operators', 'test');
  await server.gateway.identity.addToGroup(userIds.ada, organisation, 'speakers', 'test');
  const event = (await ok('admin_event_create', { data: { organisation, name: 'Support Day', public: true, start_date: '2030-05-04 08:00:00', end_date: '2030-05-05 18:00:00' } })).id;
  const itinerary = (await ok('admin_itinerary_create', { data: { event, name: 'Day one', start_date: '2030-05-04 08:00:00', end_date: '2030-05-04 18:00:00' } })).id;
  const item = async (name: string, configuration: Data, type = 'webrtc') => (await ok('admin_item_create', { data: { itinerary, type, name, configuration } })).id as string;
  const items = {
    instant: await item('Instant call', { mode: 'instant', participants: [userIds.bob, userIds.cy], max_participants: 3 }),
    capped: await item('Two only', { mode: 'instant', max_participants: 2 }),
    roundRobin: await item('Help desk', { mode: 'round-robin', operators: [userIds.otto], max_participants: 2 }),
    group: await item('Town hall', { mode: 'group', max_participants: 3 }),
    criteria: await item('Speakers only', { mode: 'instant', participants: [userIds.bob], criteria: { groups: ['speakers'] } }),
    memorable: await item('Words', { mode: 'instant', generator: 'memorable' }),
    chat: await item('Lobby chat', { moderation: 'trust' }, 'chat'),
  };
  Object.assign(world, { organisation, items });
  hana.close();
  return world;
}

/** Extream's refusal (section 8): `{status, error, meta: {permitted: false, reason}}`. */
export const refusal = (status: 401 | 403, reason: string) => ({ status, error: expect.any(String), meta: { permitted: false, reason } });

/** Joins the item (`consumer_webrtc_get`): rings and offers reach the client from then on. */
export async function joinItem(client: CallClient, itemId: string): Promise<Data> {
  const answer = await client.ask('consumer_webrtc_get', { id: itemId });
  expect(answer, `${client.name} joins ${itemId}`).toMatchObject({ status: 200 });
  return answer.response.join as Data;
}

/** A realistic offer and candidate, to relay. */
export const sdpOffer = (from: string) => ({ type: 'offer', sdp: `v=0\r\no=${from} 46117317 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n` });
export const iceCandidate = (from: string) => ({ candidate: `candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host ${from}`, sdpMid: '0', sdpMLineIndex: 0 });

/**
 * SDP one way and ICE the other between two members of `room`, each answered `{delivered:true}`
 * and received with the sender as `peer_id`.
 */
export async function relayBetween(a: CallClient, b: CallClient, room: string): Promise<void> {
  expect(await a.ask('relay-session-description', { room, to: b.peerId, session_description: sdpOffer(a.name) })).toEqual({ delivered: true });
  expect((await b.push('session-description', (data) => data.room === room)).data).toMatchObject({ room, peer_id: a.peerId, session_description: sdpOffer(a.name) });
  expect(await b.ask('relay-ice-candidate', { room, to: a.peerId, ice_candidate: iceCandidate(b.name) })).toEqual({ delivered: true });
  expect((await a.push('ice-candidate', (data) => data.room === room)).data).toMatchObject({ room, peer_id: b.peerId, ice_candidate: iceCandidate(b.name) });
}
