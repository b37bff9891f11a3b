import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/conditions.js';
import { createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { connectV2, connectV4, emitWithAckV2, type EventLog } from '../helpers/socketio.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Issue 11's access rules for guests (PROTOCOL.md section 9) on a real gateway with real
 * clients: a `guest` token (issued here directly, as the invitations module will after its
 * ticket exchange) signs a socket in as the guest over the native socket, Socket.IO 2.x
 * (`x-auth`) and 4.x (CONNECT `auth`); the guest gets its own call's item and joins its room,
 * and nothing else; removing the participant (`InvitationRevoked` in the log) closes its
 * sockets with 4501. Then the participant criteria of webrtc and zoom items.
 * Bounds are hang guards for a loaded machine, except the one-second close the protocol promises.
 */

const WAIT_MS = 60_000;
type Data = Record<string, any>;
type Transport = 'native' | '2.x' | '4.x';

interface Answer {
  /** The answer's event name (native only: Socket.IO acks carry the data alone). */
  event: string | undefined;
  data: Data;
}

/** One signed-in socket of any transport, behind the same few calls. */
interface Socket {
  peerId: string;
  /** The `authorized` (or refusal) the sign-in got. */
  signedIn: Data;
  /** Sends with an id / ack and resolves with the direct answer (an Extream receipt is skipped). */
  ask(event: string, data: unknown): Promise<Answer>;
  /** The next push of this event that matches. */
  next(event: string, match?: (data: Data) => boolean): Promise<Data>;
  close(): void;
}

let nextFrameId = 1;
const isReceipt = (data: unknown): boolean => (data as Data | undefined)?.status === 202;

async function openNative(server: IdentityGateway, token: string | undefined): Promise<Socket> {
  const client = await TestClient.open(server.wsUrl());
  const welcome = await client.next('welcome', WAIT_MS);
  const ask = async (event: string, data: unknown): Promise<Answer> => {
    const id = nextFrameId++;
    client.sendJson({ event, data, id });
    const frame = await client.next((candidate) => candidate.id === id && !isReceipt(candidate.data), WAIT_MS);
    return { event: frame.event, data: frame.data as Data };
  };
  const signedIn = token === undefined ? {} : (await ask('authorize', { token })).data;
  return {
    peerId: (welcome.data as { peer_id: string }).peer_id,
    signedIn,
    ask,
    next: async (event, match = () => true) => (await client.next((frame) => frame.event === event && match(frame.data as Data), WAIT_MS)).data as Data,
    close: () => client.close(),
  };
}

async function openSocketIo(server: IdentityGateway, flavour: '2.x' | '4.x', token: string): Promise<Socket> {
  let log: EventLog;
  let emitWithAck: (event: string, data: unknown) => Promise<unknown>;
  let close: () => void;
  if (flavour === '2.x') {
    const client = await connectV2(server.port, { query: { 'x-auth': token } });
    // The helper's connect-time `error` listener would close the socket on the protocol's
    // `error` answer (a refused relay): once connected, that is an answer, not a failure.
    client.socket.off('error');
    ({ log } = client);
    // 2.x has no ack timeout of its own: a missing ack fails here instead of hanging the test.
    emitWithAck = (event, data) =>
      Promise.race([
        emitWithAckV2(client.socket, event, data),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no ack for ${event} ${JSON.stringify(data)}`)), WAIT_MS).unref()),
      ]);
    close = () => void client.socket.close();
  } else {
    const client = await connectV4(server.port, { auth: { token } });
    ({ log } = client);
    emitWithAck = (event, data) => client.socket.timeout(WAIT_MS).emitWithAck(event, data);
    close = () => void client.socket.close();
  }
  const welcome = await log.next('welcome', WAIT_MS);
  const signedIn = (await log.next('authorized', WAIT_MS)).args[0] as Data;
  return {
    peerId: (welcome.args[0] as { peer_id: string }).peer_id,
    signedIn,
    ask: async (event, data) => ({ event: undefined, data: (await emitWithAck(event, data)) as Data }),
    next: async (event, match = () => true) => (await log.next((received) => received.event === event && match(received.args[0] as Data), WAIT_MS)).args[0] as Data,
    close,
  };
}

const open = (server: IdentityGateway, transport: Transport, token: string): Promise<Socket> =>
  transport === 'native' ? openNative(server, token) : openSocketIo(server, transport, token);

/** Extream's refusal (section 8). */
const refusal = (reason: string) => ({ status: 403, meta: { permitted: false, reason } });

describe('guests: one item, its room, nothing else', { timeout: 240_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  const accessTokens: Record<string, string> = {};
  let host: Socket;
  let organisationId: string;
  let privateItineraryId: string;
  let publicItineraryId: string;
  let otherItemId: string;
  let invitationCounter = 0;

  const command = async (socket: Socket, event: string, data: unknown): Promise<Data> => {
    const { data: result } = await socket.ask(event, data);
    expect(result, `${event}: ${JSON.stringify(result)}`).toMatchObject({ meta: { permitted: true } });
    return result.response as Data;
  };
  const addItem = async (itinerary: string, type: 'webrtc' | 'zoom', name: string, configuration: Data): Promise<string> =>
    (await command(host, 'admin_item_create', { data: { itinerary, type, name, configuration, start_date: '2026-05-04 10:00:00', end_date: '2026-05-04 11:00:00' } })).id;
  const guestToken = async (claims: { item: string; room: string }, options: { now?: number; subject?: string } = {}) => {
    const subject = options.subject ?? `invitation-${++invitationCounter}`;
    // The invitation the token speaks for is in the log (a guest of an unknown invitation is refused),
    // as if its ticket had been mailed: these tests are about what the guest may do, not the mail.
    if (!server.gateway.store.readStream(`invitation-${subject}`).length) {
      await server.gateway.store.append(
        `invitation-${subject}`,
        [
          {
            type: 'InvitationIssued',
            data: {
              invitationId: subject, itemId: claims.item, itineraryId: 'itinerary', eventId: 'event', organisationId,
              email: `guest${invitationCounter}@outside.example`, name: null, title: 'Call', joinUrl: 'http://127.0.0.1/guest',
              ticketJti: subject, ticketExpiresAt: server.clock.now() + 600_000, sequence: 0, issuedAt: server.clock.now(),
            },
          },
        ],
        0,
      );
    }
    const issued = await server.gateway.identity.tokens.issue('guest', {
      subject,
      ttlSeconds: 600,
      claims: { ...claims, org: organisationId, email: `guest${invitationCounter}@outside.example`, name: `Guest ${invitationCounter}` },
      now: options.now ?? server.clock.now(),
    });
    return { token: issued.token, invitationId: subject };
  };
  const revoke = (invitationId: string, itemId: string) =>
    server.gateway.store.append(
      `invitation-${invitationId}`,
      [{ type: 'InvitationRevoked', data: { invitationId, itemId, email: 'guest@outside.example', revokedAt: server.clock.now() } }],
      'any',
    );
  const closedInLog = (peerId: string) => server.events<{ code: number; reason: string }>('ConnectionClosed', (event) => event.streamId === `connection-${peerId}`)[0]?.data;

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, [
      { username: 'hana' },
      { username: 'bob' },
      { username: 'carla@members.example' },
      { username: 'dave@partner.example' },
      { username: 'erin@elsewhere.example' },
      { username: 'fritz@nowhere.example' },
    ]);
    for (const [name, user] of Object.entries(users)) {
      accessTokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    }
    host = await openNative(server, accessTokens.hana);
    organisationId = (await command(host, 'admin_organisation_create', { data: { name: 'Guest House', website: 'https://guests.example' } })).id;
    await server.gateway.identity.addToGroup(users['carla@members.example']!.userId, organisationId, 'speakers', 'test');
    const dates = { start_date: '2026-05-04 09:00:00', end_date: '2026-05-05T18:00:00Z' };
    const day = { start_date: '2026-05-04T09:00:00Z', end_date: '2026-05-04T18:00:00Z' };
    const privateEvent = (await command(host, 'admin_event_create', { data: { organisation: organisationId, name: 'Board Meeting', ...dates } })).id;
    const publicEvent = (await command(host, 'admin_event_create', { data: { organisation: organisationId, name: 'Open Day', public: true, ...dates } })).id;
    privateItineraryId = (await command(host, 'admin_itinerary_create', { data: { event: privateEvent, name: 'Day One', ...day } })).id;
    publicItineraryId = (await command(host, 'admin_itinerary_create', { data: { event: publicEvent, name: 'Open Day One', ...day } })).id;
    otherItemId = await addItem(privateItineraryId, 'webrtc', 'Another call', { mode: 'group', instance: 'call-other' });
  }, 180_000);

  afterAll(async () => {
    host?.close();
    await server?.close();
  });

  describe.each<Transport>(['native', '2.x', '4.x'])('a guest over %s', (transport) => {
    const room = `call-${transport}`;
    let itemId: string;
    let invitationId: string;
    let guest: Socket;

    beforeAll(async () => {
      // A call of the private event: the invitation is what lets the guest in.
      itemId = await addItem(privateItineraryId, 'webrtc', `The ${transport} call`, { mode: 'group', instance: room });
      // The host opens the room first: a join request to a room without an owner would wait.
      expect((await host.ask('room-create-request', { room })).event).toBe('room-create-accept');
      const issued = await guestToken({ item: itemId, room });
      invitationId = issued.invitationId;
      guest = await open(server, transport, issued.token);
    });
    afterAll(() => guest?.close());

    it('signs in as the guest: authorized {guest, item, room, name, organisationId}, recorded in its session', () => {
      expect(guest.signedIn).toEqual({ guest: true, item: itemId, room, name: expect.stringMatching(/^Guest /), organisationId });
      const authorized = server.events<Data>('SessionAuthorized', (event) => event.streamId === `session-${guest.peerId}`);
      expect(authorized.map((event) => event.data)).toEqual([expect.objectContaining({ userId: `guest:${invitationId}`, organisationId, groups: [], method: 'guest' })]);
    });

    it('gets its own item (consumer_webrtc_get), though the event is private; a ping answers', async () => {
      const { data } = await guest.ask('consumer_webrtc_get', { id: itemId });
      expect(data).toMatchObject({ status: 200, meta: { permitted: true }, response: { item: { id: itemId }, join: { room, token: expect.any(String) } } });
      expect((await guest.ask('ping', null)).data).toMatchObject({ ts: expect.any(Number) });
    });

    it('is refused permitted:false on another item, admin topics, events, itineraries, other item types', async () => {
      for (const [event, data] of [
        ['consumer_webrtc_get', { id: otherItemId }],
        ['consumer_zoom_get', { id: otherItemId }],
        ['consumer_video_get', { id: itemId }],
        ['admin_item_read', { id: itemId }],
        ['admin_organisation_read', { id: organisationId }],
        ['admin_event_create', { data: { organisation: organisationId, name: 'Guest party', start_date: '2026-05-04 09:00:00', end_date: '2026-05-04 10:00:00' } }],
        ['consumer_event_get', { organisation: organisationId }],
        ['consumer_itinerary_get', { id: privateItineraryId }],
      ] as const) {
        expect((await guest.ask(event, data)).data, event).toMatchObject(refusal('unauthorized'));
      }
    });

    it('joins its room once the host approves; another room and creating a room are FORBIDDEN', async () => {
      const joined = guest.ask('room-join-request', { room, payload: { name: 'guest' } });
      expect(await host.next('room-join-request', (data) => data.room === room)).toEqual({ room, peer_id: guest.peerId, payload: { name: 'guest' } });
      await host.ask('room-join-accept', { room, peer_id: guest.peerId });
      expect((await joined).data).toMatchObject({ room, peer_id: guest.peerId, peers: [host.peerId] });

      const other = await guest.ask('room-join-request', { room: 'call-other' });
      expect(other.data).toMatchObject({ code: 'FORBIDDEN' });
      if (transport === 'native') expect(other.event).toBe('room-join-reject');
      const created = await guest.ask('room-create-request', { room: `guest-made-${transport}` });
      expect(created.data).toMatchObject({ code: 'FORBIDDEN' });
      if (transport === 'native') expect(created.event).toBe('room-create-reject');
    });

    it('relays to the host in its room, and cannot relay into another room (the relay fast path included)', async () => {
      const candidate = { candidate: `candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host ${transport}`, sdpMLineIndex: 0 };
      expect((await guest.ask('relay-ice-candidate', { room, to: host.peerId, ice_candidate: candidate })).data).toEqual({ delivered: true });
      expect(await host.next('ice-candidate', (data) => data.peer_id === guest.peerId)).toEqual({ room, peer_id: guest.peerId, ice_candidate: candidate });
      // The host's own room, which the guest is no member of: native JSON text takes the fast path.
      const hostOnly = `host-only-${transport}`;
      await host.ask('room-create-request', { room: hostOnly });
      const refused = await guest.ask('relay-ice-candidate', { room: hostOnly, to: host.peerId, ice_candidate: candidate });
      expect(refused.data).toMatchObject({ code: 'FORBIDDEN' });
    });

    it('removing the participant (InvitationRevoked in the log) closes its socket with 4501 within a second', async () => {
      const started = Date.now();
      await revoke(invitationId, itemId);
      await until(() => closedInLog(guest.peerId) !== undefined, 'the guest socket closed in the log');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(closedInLog(guest.peerId)).toMatchObject({ code: 4501, reason: 'participant removed' });
    });
  });

  it('every socket of one invitation closes at once; other guests stay', async () => {
    const itemId = await addItem(privateItineraryId, 'webrtc', 'Shared call', { instance: 'call-shared' });
    const removed = await guestToken({ item: itemId, room: 'call-shared' });
    const kept = await guestToken({ item: itemId, room: 'call-shared' });
    const sockets = [await open(server, 'native', removed.token), await open(server, '2.x', removed.token), await open(server, '4.x', removed.token)];
    const bystander = await open(server, 'native', kept.token);
    await revoke(removed.invitationId, itemId);
    await until(() => sockets.every((socket) => closedInLog(socket.peerId)?.code === 4501), 'all three sockets of the removed guest closed');
    expect((await bystander.ask('ping', null)).data).toMatchObject({ ts: expect.any(Number) });
    expect(closedInLog(bystander.peerId)).toBeUndefined();
    bystander.close();
  });

  it('is not a guest: a forged, an expired, or a ticket token; an access token stays a user', async () => {
    const itemId = otherItemId;
    const { token } = await guestToken({ item: itemId, room: 'call-other' });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Data;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, item: 'some-other-item' })).toString('base64url')}.${signature}`;
    const expired = (await guestToken({ item: itemId, room: 'call-other' }, { now: server.clock.now() - 3600_000 })).token;
    const ticket = (await server.gateway.identity.tokens.issue('guestTicket', { subject: 'invitation-x', ttlSeconds: 600, claims: { item: itemId }, now: server.clock.now() })).token;
    const socket = await openNative(server, undefined);
    for (const candidate of [forged, expired, ticket]) {
      const answer = await socket.ask('authorize', { token: candidate });
      expect(answer).toEqual({ event: 'unauthorized', data: { message: 'Token is not valid', code: 'UNAUTHORIZED' } });
    }
    expect(server.events<Data>('TokenRefused', (event) => event.streamId === `session-${socket.peerId}`)).toHaveLength(3);
    // Refused on CONNECT too.
    await expect(connectV4(server.port, { auth: { token: forged } })).rejects.toThrow();
    // An access token with the same claims is the user it names, never a guest.
    const access = (await server.gateway.identity.tokens.issue('access', { subject: users.bob!.userId, ttlSeconds: 600, claims: { item: itemId, room: 'call-other' }, now: server.clock.now() })).token;
    const user = await socket.ask('authorize', { token: access });
    expect(user).toMatchObject({ event: 'authorized', data: { userId: users.bob!.userId } });
    expect(user.data.guest).toBeUndefined();
    socket.close();
  });

  // A revoked invitation's token refused at a new authorize: test/integration/invitations.gateway.test.ts, end to end.

  describe('participant criteria (configuration.criteria)', () => {
    const criteriaItems: Record<string, string> = {};
    const sockets: Record<string, Socket> = {};

    beforeAll(async () => {
      criteriaItems.groups = await addItem(publicItineraryId, 'webrtc', 'Speakers only', { criteria: { groups: ['speakers'] } });
      criteriaItems.emails = await addItem(publicItineraryId, 'webrtc', 'Erin only', { criteria: { emails: ['Erin@Elsewhere.example'] } });
      criteriaItems.domains = await addItem(publicItineraryId, 'webrtc', 'Partners', { criteria: { domains: ['partner.example'] } });
      criteriaItems.any = await addItem(publicItineraryId, 'webrtc', 'Any of them', { criteria: { groups: ['speakers'], emails: ['erin@elsewhere.example'], domains: ['partner.example'] } });
      criteriaItems.noGuests = await addItem(publicItineraryId, 'webrtc', 'Members', { criteria: { guests: false } });
      criteriaItems.zoom = await addItem(publicItineraryId, 'zoom', 'Zoom for speakers', { meeting_number: '123456789', criteria: { groups: ['speakers'], guests: true } });
      criteriaItems.open = await addItem(publicItineraryId, 'webrtc', 'Open call', {});
      for (const name of ['carla@members.example', 'dave@partner.example', 'erin@elsewhere.example', 'fritz@nowhere.example']) {
        sockets[name] = await openNative(server, accessTokens[name]);
      }
      sockets.hana = host;
    });
    afterAll(() => {
      for (const [name, socket] of Object.entries(sockets)) if (name !== 'hana') socket.close();
    });

    const get = async (who: string, item: string, type: 'webrtc' | 'zoom' = 'webrtc') => (await sockets[who]!.ask(`consumer_${type}_get`, { id: criteriaItems[item] })).data;
    const admitted = { status: 200, meta: { permitted: true } };

    it('groups: a member of a listed group joins; others are refused unmet_criteria', async () => {
      expect(await get('carla@members.example', 'groups')).toMatchObject(admitted);
      expect(await get('fritz@nowhere.example', 'groups')).toMatchObject(refusal('unmet_criteria'));
      expect(await get('erin@elsewhere.example', 'groups')).toMatchObject(refusal('unmet_criteria'));
      expect(await get('carla@members.example', 'zoom', 'zoom')).toMatchObject(admitted);
      expect(await get('fritz@nowhere.example', 'zoom', 'zoom')).toMatchObject(refusal('unmet_criteria'));
    });

    it('emails (any case) and domains: the username as email address', async () => {
      expect(await get('erin@elsewhere.example', 'emails')).toMatchObject(admitted);
      expect(await get('dave@partner.example', 'emails')).toMatchObject(refusal('unmet_criteria'));
      expect(await get('dave@partner.example', 'domains')).toMatchObject(admitted);
      expect(await get('erin@elsewhere.example', 'domains')).toMatchObject(refusal('unmet_criteria'));
    });

    it('lists are alternatives; the organiser always gets in; no criteria is as before', async () => {
      for (const who of ['carla@members.example', 'dave@partner.example', 'erin@elsewhere.example']) expect(await get(who, 'any'), who).toMatchObject(admitted);
      expect(await get('fritz@nowhere.example', 'any')).toMatchObject(refusal('unmet_criteria'));
      for (const item of ['groups', 'emails', 'domains', 'any']) expect(await get('hana', item), item).toMatchObject(admitted);
      expect(await get('fritz@nowhere.example', 'open')).toMatchObject(admitted);
      expect(await get('fritz@nowhere.example', 'noGuests')).toMatchObject(admitted);
    });

    it('someone not signed in is asked to sign in (401), not refused for good', async () => {
      const anonymous = await openNative(server, undefined);
      expect((await anonymous.ask('consumer_webrtc_get', { id: criteriaItems.groups })).data).toMatchObject({ status: 401, meta: { permitted: false, requiresLogin: true } });
      anonymous.close();
    });

    it('guests: false refuses a guest with unmet_criteria; a guest of an item without it joins', async () => {
      const refused = await openNative(server, (await guestToken({ item: criteriaItems.noGuests!, room: 'members' })).token);
      expect((await refused.ask('consumer_webrtc_get', { id: criteriaItems.noGuests })).data).toMatchObject(refusal('unmet_criteria'));
      refused.close();
      const zoomGuest = await openNative(server, (await guestToken({ item: criteriaItems.zoom!, room: 'zoom' })).token);
      expect((await zoomGuest.ask('consumer_zoom_get', { id: criteriaItems.zoom })).data).toMatchObject(admitted);
      zoomGuest.close();
    });
  });
});
