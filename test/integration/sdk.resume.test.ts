import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchyardClient, type CodecName } from '../../packages/client/src/index.js';
import { nextEvent, recordLifecycle } from '../../packages/client/test/events.js';
import { Network } from '../../packages/client/test/network.js';
import { createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';

/**
 * Resume through the SDK (PROTOCOL.md section 11) against the real gateway: an attendee on
 * an event loses its network; while it is gone the organiser changes the itinerary twice
 * over HTTP (`POST /v1/commands/admin_itinerary_update`, so the pushes come from the log, as
 * in live-events.pushes.test.ts); when the network is back the SDK sends `resume` first and
 * the app sees every push once, in log order, then `resumed {missed: 2}`, with the same
 * peer id. Over both codecs. Waits are on the client's own events; bounds are hang guards.
 */

const PUSH = 'consumer_itinerary_update';

/** `resumed`, or the reason the resume failed as the test's failure. */
const resumedOrWhy = (client: SwitchyardClient) =>
  Promise.race([
    nextEvent(client, 'resumed'),
    nextEvent(client, 'restarted').then(({ reason }) => {
      throw new Error(`the resume failed: resume-failed {reason: ${reason}}`);
    }),
  ]);

describe.each<CodecName>(['json', 'msgpack'])('the SDK resumes a session after a network cut (%s)', { timeout: 180_000 }, (codec) => {
  let server: IdentityGateway;
  let organiserToken: string;
  let attendeeToken: string;
  let organiser: SwitchyardClient;
  let eventId: string;
  let itineraryId: string;
  const clients: SwitchyardClient[] = [];

  const renameOverHttp = async (name: string): Promise<number> => {
    const response = await fetch(server.url('/v1/commands/admin_itinerary_update'), {
      method: 'POST',
      headers: { authorization: `Bearer ${organiserToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: itineraryId, data: { name } }),
    });
    expect(response.status).toBe(200);
    return server.gateway.store.readAll({ type: 'ItineraryUpdated' }).at(-1)!.position;
  };

  beforeAll(async () => {
    server = await startIdentityGateway();
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    const users: Record<string, TestUser> = await createUsers(server, seed, [{ username: 'petra' }, { username: 'ines' }]);
    const issue = async (user: TestUser) =>
      (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    organiserToken = await issue(users.petra!);
    attendeeToken = await issue(users.ines!);
    organiser = new SwitchyardClient({ url: server.wsUrl(), WebSocket: new Network().WebSocket, auth: { getToken: () => organiserToken } });
    clients.push(organiser);
    await organiser.connect();
    const organisation = (await organiser.command('admin_organisation_create', { data: { name: 'Resume Org' } })).response.id;
    const dates = { start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-01T20:00:00Z' };
    eventId = (await organiser.command('admin_event_create', { data: { organisation, name: 'Resume Fest', public: true, ...dates } })).response.id;
    itineraryId = (await organiser.command('admin_itinerary_create', { data: { event: eventId, name: 'Day 1', ...dates } })).response.id;
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) await client.close();
    await server?.close();
  });

  it('delivers the pushes missed while cut, each once and in log order, then resumed {missed}, keeping the peer id', async () => {
    const network = new Network();
    const attendee = new SwitchyardClient({ url: server.wsUrl(), codec, WebSocket: network.WebSocket, auth: { getToken: () => attendeeToken }, reconnect: { baseMs: 20, maxMs: 200 } });
    clients.push(attendee);
    const lifecycle = recordLifecycle(attendee);
    const delivered: { seq: number | undefined; name: string }[] = [];
    attendee.on(PUSH, (data, meta) => {
      if (!('deleted' in data.itinerary)) delivered.push({ seq: meta.seq, name: data.itinerary.name });
    });
    await attendee.connect();
    expect(attendee.resumable).toBe(true);
    const peerId = attendee.peerId;
    expect((await attendee.command('consumer_itinerary_get', { event: eventId })).status).toBe(200);

    // A live push first: the last seq the client saw before the cut.
    const live = nextEvent(attendee, PUSH, (data) => 'name' in data.itinerary && data.itinerary.name === 'Day 1 (live)');
    const liveSeq = await renameOverHttp('Day 1 (live)');
    await live;

    const cut = nextEvent(attendee, 'closed');
    const offline = nextEvent(attendee, 'reconnecting', ({ attempt }) => attempt === 2);
    network.cut();
    expect(await cut).toEqual({ code: 1006, reason: '', willReconnect: true });
    const missedSeqs = [await renameOverHttp('Day 1 (missed 1)'), await renameOverHttp('Day 1 (missed 2)')];
    await offline;

    const resumed = resumedOrWhy(attendee);
    network.restore();
    expect(await resumed).toEqual({ missed: 2, peerId });
    expect(attendee.peerId).toBe(peerId);
    expect(delivered).toEqual([
      { seq: liveSeq, name: 'Day 1 (live)' },
      { seq: missedSeqs[0], name: 'Day 1 (missed 1)' },
      { seq: missedSeqs[1], name: 'Day 1 (missed 2)' },
    ]);
    // `resume` was the new socket's first frame; the session came back, so no sign-in and no restart.
    expect(lifecycle.map((event) => event.name).filter((name) => name === 'restarted' || name === 'auth-failed')).toEqual([]);
    expect(lifecycle.filter((event) => event.name === 'open').map((event) => event.data)).toEqual([
      { peerId, resumed: false },
      { peerId, resumed: true },
    ]);

    // After the resume the subscription is still there: the next change arrives once.
    const after = nextEvent(attendee, PUSH, (data) => 'name' in data.itinerary && data.itinerary.name === 'Day 1 (after)');
    const afterSeq = await renameOverHttp('Day 1 (after)');
    await after;
    expect(delivered.map((push) => push.seq)).toEqual([liveSeq, ...missedSeqs, afterSeq]);
    expect(attendee.lastSeq).toBe(afterSeq);
  });
});
