import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/conditions.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';
import { connectV4 } from '../helpers/socketio.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Resume with a module's own push (PROTOCOL.md section 11): an attendee signed in as a user
 * is on an event (`consumer_itinerary_get`), loses its network, and the organiser renames the
 * itinerary twice over HTTP (`POST /v1/commands/admin_itinerary_update`). The resumed socket
 * gets both `consumer_itinerary_update` pushes, each once, in log order, with `seq` the
 * position of its event (beside `event` natively, in the data over Socket.IO), then `resumed`;
 * and it is still on the event: the next change reaches it.
 */

const PUSH = 'consumer_itinerary_update';
const seqOf = (frame: Frame): number | undefined => (frame as Frame & { seq?: number }).seq;

describe('resume with consumer_itinerary_update', { timeout: 120_000 }, () => {
  let server: IdentityGateway;
  let organiserToken: string;
  let attendeeToken: string;
  let eventId: string;
  let itineraryId: string;

  /** Renames the itinerary over HTTP; resolves with the position of its ItineraryUpdated. */
  const rename = async (name: string): Promise<number> => {
    const response = await fetch(server.url('/v1/commands/admin_itinerary_update'), {
      method: 'POST',
      headers: { authorization: `Bearer ${organiserToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: itineraryId, data: { name } }),
    });
    expect(response.status).toBe(200);
    return server.events('ItineraryUpdated').at(-1)!.position;
  };

  beforeAll(async () => {
    server = await startIdentityGateway({ resumeFailuresPerMinutePerAddress: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    const users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'ada' }]);
    const issue = async (userId: string) => (await server.gateway.identity.tokens.issue('access', { subject: userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    organiserToken = await issue(users.olga!.userId);
    attendeeToken = await issue(users.ada!.userId);
    const organiser = await TestClient.connect(server.wsUrl());
    expect(await ask(organiser, 'authorize', { method: 'oauth2', token: organiserToken })).toMatchObject({ event: 'authorized' });
    const organisation = responseOf<{ id: string }>(await command(organiser, 'admin_organisation_create', { data: { name: 'Resume Org' } })).id;
    const dates = { start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-01T20:00:00Z' };
    eventId = responseOf<{ id: string }>(await command(organiser, 'admin_event_create', { data: { organisation, name: 'Resume Fest', public: true, ...dates } })).id;
    itineraryId = responseOf<{ id: string }>(await command(organiser, 'admin_itinerary_create', { data: { event: eventId, name: 'Day 1', ...dates } })).id;
    organiser.close();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('native JSON: the missed itinerary updates, seq beside event, in log order, then resumed; still on the event', async () => {
    const attendee = await TestClient.open(server.wsUrl());
    const welcome = (await attendee.next('welcome')).data as { peer_id: string; resume: string };
    expect(await ask(attendee, 'authorize', { method: 'oauth2', token: attendeeToken })).toMatchObject({ event: 'authorized' });
    expect((await command(attendee, 'consumer_itinerary_get', { event: eventId })).result.data).toMatchObject({ status: 200 });
    const seen = await rename('Day 1 (a)');
    expect(seqOf(await attendee.next(PUSH))).toBe(seen);

    const connection = server.gateway.connections.get(welcome.peer_id)!;
    attendee.socket.terminate();
    await until(() => connection.detached, 'detached');
    const missed = [await rename('Day 1 (b)'), await rename('Day 1 (c)')];

    const resumed = await TestClient.open(server.wsUrl());
    resumed.sendJson({ event: 'resume', data: { session: welcome.resume, since: seen }, id: 1 });
    expect(await resumed.next((frame) => frame.id === 1)).toMatchObject({ event: 'resumed', data: { missed: 2, peer_id: welcome.peer_id } });
    const replayed = resumed.frames.filter((frame) => frame.event === PUSH);
    expect(replayed.map(seqOf)).toEqual(missed);
    expect(replayed.map((frame) => (frame.data as { itinerary: { name: string } }).itinerary.name)).toEqual(['Day 1 (b)', 'Day 1 (c)']);
    resumed.frames.splice(0);

    const next = await rename('Day 1 (d)');
    expect(seqOf(await resumed.next(PUSH))).toBe(next);
    expect(resumed.frames.filter((frame) => frame.event === PUSH)).toEqual([]);
    resumed.close();
  });

  it('Socket.IO 4.x: auth.resume, seq inside the data', async () => {
    const attendee = await connectV4(server.port, { auth: { token: attendeeToken } });
    const welcome = (await attendee.log.next('welcome')).args[0] as { peer_id: string; resume: string };
    await attendee.log.next('authorized');
    expect(await attendee.socket.timeout(10_000).emitWithAck('consumer_itinerary_get', { event: eventId })).toMatchObject({ status: 200 });
    const seen = await rename('Day 1 (e)');
    expect(((await attendee.log.next(PUSH)).args[0] as { seq: number }).seq).toBe(seen);

    const connection = server.gateway.connections.get(welcome.peer_id)!;
    const transport = Reflect.get(attendee.socket.io.engine, 'transport');
    (Reflect.get(transport, 'ws') as { terminate(): void }).terminate();
    await until(() => connection.detached, 'detached');
    const missed = await rename('Day 1 (f)');

    const resumed = await connectV4(server.port, { auth: { resume: { session: welcome.resume, since: seen } } });
    await resumed.log.until(() => resumed.log.events.some((event) => event.event === 'resumed'), 'resumed');
    expect(resumed.socket.id).toBe(welcome.peer_id);
    const replayed = resumed.log.events.filter((event) => event.event === PUSH).map((event) => event.args[0] as { seq: number; itinerary: { name: string } });
    expect(replayed).toMatchObject([{ seq: missed, itinerary: { name: 'Day 1 (f)' } }]);
    resumed.socket.close();
    attendee.socket.close();
  });
});
