import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/conditions.js';
import { TestClient } from '../helpers/ws-client.js';
import { callWorld, joinItem, refusal, relayBetween, sdpOffer, type CallClient, type CallWorld, type Data } from './calls.support.js';

/**
 * Calls on webrtc items (PROTOCOL.md section 8) on a real gateway with native JSON clients:
 * instant calls ring, accept, relay SDP/ICE in the call's room, end; the item join tells the
 * call state; capacity, criteria and every refusal of the brief, each appending nothing.
 * Round-robin and group modes are in calls.modes.test.ts; Socket.IO in calls.socketio.test.ts.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('instant calls', { timeout: 180_000 }, () => {
  let world: CallWorld;
  let ada: CallClient;
  let bob: CallClient;
  let cy: CallClient;
  let dan: CallClient;
  let hana: CallClient;
  let instance: string;
  const head = () => world.server.gateway.store.headPosition();
  const eventsOf = (type: string) => world.server.gateway.store.readAll({ type });

  /**
   * Waits until the call's room holds `members` admitted connections: a start (or accept) is
   * answered once the call is recorded, and the caller's admission into the room follows it
   * (its own appends), so a test comparing log heads waits for those first.
   */
  const admitted = (room: string, members = 1) =>
    until(
      // The first member opens the room (RoomCreated, as its owner); the others are MemberAdmitted.
      () => [...eventsOf('RoomCreated'), ...eventsOf('MemberAdmitted')].filter((event) => (event.data as { room: string }).room === room).length >= members,
      `${members} admitted into ${room}`,
    );

  /**
   * Waits until the log stops moving: a call command is answered once its own event is
   * committed, and what follows from it (the room's admission or close, from the call's
   * reactions) is appended after. A refusal's "nothing appended" is measured from a quiet log.
   */
  async function quiet(): Promise<void> {
    let last = head();
    let still = 0;
    while (still < 50) {
      await new Promise((resolve) => setImmediate(resolve));
      const now = head();
      still = now === last && world.server.gateway.store.pendingAppends === 0 ? still + 1 : 0;
      last = now;
    }
  }

  /** Sends a command that must be refused and checks that the log did not move. */
  async function refused(client: CallClient, event: string, data: unknown): Promise<Data> {
    await quiet();
    const before = head();
    const answer = await client.ask(event, data);
    expect(answer.meta?.permitted === false || answer.status >= 400, `${event} refused: ${JSON.stringify(answer)}`).toBe(true);
    expect(head(), `${event} appended nothing`).toBe(before);
    return answer;
  }

  beforeAll(async () => {
    world = await callWorld();
    [ada, bob, cy, dan, hana] = await Promise.all([world.open('ada'), world.open('bob'), world.open('cy'), world.open('dan'), world.open('hana')]);
    for (const client of [bob, cy, dan, hana]) await joinItem(client, world.items.instant);
  }, 180_000);

  afterAll(async () => {
    for (const client of [ada, bob, cy, dan, hana]) client?.close();
    await world?.close();
  });

  it('start rings the participants: a UUID instance, receipt then result, consumer_webrtc_incoming with seq', async () => {
    const { receipt, result } = await ada.command('consumer_webrtc_start', { id: world.items.instant });
    expect(result).toMatchObject({ status: 201, domain: 'consumer', action: 'webrtc', command: 'start', meta: { permitted: true } });
    instance = result.response.instance;
    expect(instance).toMatch(UUID);
    expect(result.response).toMatchObject({ item: world.items.instant, mode: 'instant', status: 'ringing', room: instance, host: world.userIds.ada, you: { role: 'host', status: 'joined' } });
    expect(receipt).toEqual({ status: 202, topic: 'ex-collab', messageId: expect.any(Number) });
    const started = eventsOf('CallStarted').find((event) => (event.data as Data).instanceId === instance)!;
    expect(started.streamId).toBe(`call-${instance}`);
    expect(started.data).toMatchObject({ mode: 'instant', host: world.userIds.ada, participants: [world.userIds.bob, world.userIds.cy], maxParticipants: 3 });
    expect(started.metadata.actor).toBe(`user:${world.userIds.ada}`);
    for (const rung of [bob, cy]) {
      const ring = await rung.push('consumer_webrtc_incoming');
      expect(ring.data).toEqual({ item: world.items.instant, instance, mode: 'instant', from: world.userIds.ada, name: 'ada' });
      expect(ring.seq).toBe(eventsOf('CallRinging').at(-1)!.position);
    }
    expect(dan.pending('consumer_webrtc_incoming')).toEqual([]);
  });

  it('the item join answers the call state for the caller', async () => {
    const join = await joinItem(bob, world.items.instant);
    expect(join).toMatchObject({ room: `item-${world.items.instant}`, mode: 'instant', call: { instance, status: 'ringing', you: { role: 'participant', status: 'ringing' } }, waiting: false, operator: false });
    expect((await joinItem(dan, world.items.instant)).call).toBeNull();
  });

  it('accept joins: consumer_webrtc_activated to caller and acceptor with the peers, client_webrtc_joined to host and operators', async () => {
    const accepted = await bob.ask('consumer_webrtc_accept', { id: world.items.instant, instance });
    expect(accepted).toMatchObject({ status: 200, response: { status: 'active', you: { role: 'participant', status: 'joined' } } });
    const toBob = await bob.push('consumer_webrtc_activated');
    expect(toBob.data).toEqual({ item: world.items.instant, instance, mode: 'instant', room: instance, peer_id: bob.peerId, user: world.userIds.bob, peers: [ada.peerId] });
    expect(toBob.seq).toEqual(expect.any(Number));
    expect((await ada.push('consumer_webrtc_activated')).data).toMatchObject({ room: instance, peer_id: ada.peerId, peers: [bob.peerId] });
    for (const watcher of [ada, hana]) {
      expect((await watcher.push('client_webrtc_joined')).data).toEqual({ item: world.items.instant, instance, user: world.userIds.bob, name: 'bob', peer_id: bob.peerId });
    }
    // The room of section 5 holds the call's members, and tells the caller of the new one.
    expect((await ada.push('room-user-join')).data).toMatchObject({ room: instance, peer_id: bob.peerId });
  });

  it('relays SDP and ICE between the two call members, in the call room named by the instance', async () => {
    await relayBetween(ada, bob, instance);
    await relayBetween(bob, ada, instance);
  });

  it('a relay between a call member and a non-member is FORBIDDEN, either way, fast path included', async () => {
    const intoCall = await cy.ask('relay-session-description', { room: instance, to: ada.peerId, session_description: sdpOffer('cy') });
    expect(intoCall).toMatchObject({ code: 'FORBIDDEN' });
    const outOfCall = await ada.ask('relay-ice-candidate', { room: instance, to: cy.peerId, ice_candidate: { candidate: 'x' } });
    expect(outOfCall).toMatchObject({ code: 'FORBIDDEN' });
    // A plain join request to a call's room is refused: the call decides who is in.
    expect(await cy.ask('room-join-request', { room: instance })).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses an accept of a call not ringing you (403), and one of an unknown call (404), appending nothing', async () => {
    expect(await refused(dan, 'consumer_webrtc_accept', { id: world.items.instant, instance })).toMatchObject(refusal(403, 'unauthorized'));
    expect(await refused(dan, 'consumer_webrtc_accept', { id: world.items.instant, instance: 'no-such-call' })).toMatchObject({ status: 404 });
    // The call's instance on another item is no call of that item.
    expect(await refused(bob, 'consumer_webrtc_accept', { id: world.items.capped, instance })).toMatchObject({ status: 404 });
  });

  it('ending a call you are not in is 403; a member ends it: completed to all, room-closed, the room gone', async () => {
    expect(await refused(dan, 'consumer_webrtc_end', { id: world.items.instant, instance })).toMatchObject(refusal(403, 'unauthorized'));
    const ended = await bob.ask('consumer_webrtc_end', { id: world.items.instant, instance });
    expect(ended).toMatchObject({ status: 200, response: { status: 'ended', reason: 'ended' } });
    const endedAt = eventsOf('CallEnded').at(-1)!;
    for (const party of [ada, bob, cy]) {
      const completed = await party.push('consumer_webrtc_completed');
      expect(completed.data).toEqual({ item: world.items.instant, instance, reason: 'ended' });
      expect(completed.seq).toBe(endedAt.position);
    }
    for (const member of [ada, bob]) expect((await member.push('room-closed')).data).toEqual({ room: instance, reason: 'call ended' });
    expect(world.server.gateway.rooms.state(instance).open).toBe(false);
    expect(await refused(ada, 'consumer_webrtc_end', { id: world.items.instant, instance })).toMatchObject({ status: 409 });
    expect(await ada.ask('relay-session-description', { room: instance, to: bob.peerId, session_description: sdpOffer('ada') })).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a caller has one live call per item: a second start answers it; a decline by every one rung ends it', async () => {
    const first = await ada.ask('consumer_webrtc_start', { id: world.items.instant, participants: [world.userIds.dan] });
    expect(first).toMatchObject({ status: 201, response: { status: 'ringing' } });
    await admitted(first.response.instance);
    // Not a refusal: the same call back, nothing appended (the caller is in its room already).
    const before = head();
    const second = await ada.ask('consumer_webrtc_start', { id: world.items.instant });
    expect(second).toMatchObject({ status: 200, response: { instance: first.response.instance } });
    expect(head()).toBe(before);
    await dan.push('consumer_webrtc_incoming', (data) => data.instance === first.response.instance);
    const declined = await dan.ask('consumer_webrtc_leave', { id: world.items.instant, instance: first.response.instance });
    expect(declined).toMatchObject({ status: 200, response: { status: 'ended', reason: 'declined' } });
    expect((await ada.push('consumer_webrtc_completed', (data) => data.instance === first.response.instance)).data.reason).toBe('declined');
  });

  it('capacity: max_participants reached is refused capacity_reached (403)', async () => {
    for (const client of [bob, cy]) await joinItem(client, world.items.capped);
    const call = (await ada.ask('consumer_webrtc_start', { id: world.items.capped, participants: [world.userIds.bob, world.userIds.cy] })).response.instance;
    expect(await bob.ask('consumer_webrtc_accept', { id: world.items.capped, instance: call })).toMatchObject({ status: 200 });
    await admitted(call, 2);
    expect(await refused(cy, 'consumer_webrtc_accept', { id: world.items.capped, instance: call })).toMatchObject(refusal(403, 'capacity_reached'));
    // A seat freed (bob leaves) is a seat cy can take.
    expect(await bob.ask('consumer_webrtc_leave', { id: world.items.capped, instance: call })).toMatchObject({ response: { status: 'active' } });
    expect((await ada.push('room-user-leave', (data) => data.room === call)).data).toEqual({ room: call, peer_id: bob.peerId });
    expect(await cy.ask('consumer_webrtc_accept', { id: world.items.capped, instance: call })).toMatchObject({ status: 200, response: { status: 'active' } });
    // Signalling starts once the party heard it is in (its connection is a member of the room by then).
    expect((await cy.push('consumer_webrtc_activated', (data) => data.instance === call)).data.peers).toEqual([ada.peerId]);
    await relayBetween(cy, ada, call);
    await ada.ask('consumer_webrtc_end', { id: world.items.capped, instance: call });
  });

  it('bad input: unknown item (404), not a webrtc item (400), bad instance (400), no sign-in (401), all appending nothing', async () => {
    expect(await refused(ada, 'consumer_webrtc_start', { id: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ status: 404, meta: { permitted: true } });
    const chat = await refused(ada, 'consumer_webrtc_start', { id: world.items.chat });
    expect(chat).toMatchObject({ status: 400, response: { errors: [{ path: 'id', message: expect.stringContaining('webrtc') }] } });
    expect(await refused(ada, 'consumer_webrtc_accept', { id: world.items.instant, instance: 'no spaces allowed' })).toMatchObject({ status: 400 });
    expect(await refused(ada, 'consumer_webrtc_start', { id: world.items.instant, participants: ['nobody-such'] })).toMatchObject({ status: 400, response: { errors: [{ path: 'participants.0' }] } });
    expect(await refused(ada, 'client_webrtc_get', { id: world.items.instant })).toMatchObject(refusal(403, 'unauthorized'));
    const stranger = await TestClient.connect(world.server.wsUrl());
    const before = head();
    const answer = await stranger.request('consumer_webrtc_start', { id: world.items.instant });
    expect(answer.data).toMatchObject({ status: 401, meta: { permitted: false, reason: 'unauthorized', requiresLogin: true } });
    expect(head()).toBe(before);
    stranger.close();
  });

  it("criteria: the item's participant criteria apply to start and accept", async () => {
    const fritz = await world.open('fritz');
    expect(await refused(fritz, 'consumer_webrtc_start', { id: world.items.criteria })).toMatchObject(refusal(403, 'unmet_criteria'));
    const started = await ada.ask('consumer_webrtc_start', { id: world.items.criteria });
    expect(started).toMatchObject({ status: 201 });
    await admitted(started.response.instance);
    // bob is rung (the configuration's participant) but is no speaker: his accept is refused too.
    expect(await refused(bob, 'consumer_webrtc_accept', { id: world.items.criteria, instance: started.response.instance })).toMatchObject(refusal(403, 'unmet_criteria'));
    await ada.ask('consumer_webrtc_end', { id: world.items.criteria, instance: started.response.instance });
    fritz.close();
  });

  it('generator "memorable" names the call with words; so does an item configured so', async () => {
    const asked = await ada.ask('consumer_webrtc_start', { id: world.items.capped, participants: [world.userIds.dan], generator: 'memorable' });
    expect(asked.response.instance).toMatch(/^[a-z]+(-[a-z]+){2,}$/);
    expect(asked.response.room).toBe(asked.response.instance);
    const configured = await bob.ask('consumer_webrtc_start', { id: world.items.memorable, participants: [world.userIds.dan] });
    expect(configured.response.instance).toMatch(/^[a-z]+(-[a-z]+){2,}$/);
    await ada.ask('consumer_webrtc_end', { id: world.items.capped, instance: asked.response.instance });
    await bob.ask('consumer_webrtc_end', { id: world.items.memorable, instance: configured.response.instance });
  });

  it('consumer_webrtc_read lists the caller\'s own calls, newest first, with their outcome', async () => {
    const read = await bob.ask('consumer_webrtc_read', { id: world.items.instant });
    expect(read).toMatchObject({ status: 200, meta: { items: read.response.length } });
    expect(read.response.map((call: Data) => call.instance)).toContain(instance);
    expect(read.response.find((call: Data) => call.instance === instance)).toMatchObject({ status: 'ended', reason: 'ended', you: { role: 'participant', status: 'left' } });
    expect((await dan.ask('consumer_webrtc_read', { id: world.items.instant })).response.every((call: Data) => call.participants.some((party: Data) => party.user === world.userIds.dan))).toBe(true);
  });

  it('over HTTP: an operator reads the calls; joining a call needs a socket', async () => {
    const post = (topic: string, token: string, body: unknown) =>
      fetch(world.server.url(`/v1/commands/${topic}`), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const read = await post('client_webrtc_get', world.tokens.hana, { id: world.items.instant });
    expect(read.status).toBe(200);
    expect(((await read.json()) as Data).response.ended.map((call: Data) => call.instance)).toContain(instance);
    const started = await ada.ask('consumer_webrtc_start', { id: world.items.instant, participants: [world.userIds.dan] });
    const accept = await post('consumer_webrtc_accept', world.tokens.dan, { id: world.items.instant, instance: started.response.instance });
    expect(accept.status).toBe(400);
    // An operator ends it over HTTP: the members hear it from the log all the same.
    const ended = await post('client_webrtc_end', world.tokens.hana, { id: world.items.instant, instance: started.response.instance });
    expect(ended.status).toBe(200);
    expect((await ada.push('consumer_webrtc_completed', (data) => data.instance === started.response.instance)).data.reason).toBe('ended');
  });

  it("the room API closing a call's room ends the call; removing the item ends its calls", async () => {
    const call = (await ada.ask('consumer_webrtc_start', { id: world.items.instant, participants: [world.userIds.bob] })).response.instance;
    await bob.ask('consumer_webrtc_accept', { id: world.items.instant, instance: call });
    await bob.push('consumer_webrtc_activated', (data) => data.instance === call);
    expect(await world.server.gateway.rooms.close(call, 'closed by the room API', 'room-api')).toBe(true);
    expect((await bob.push('consumer_webrtc_completed', (data) => data.instance === call)).data.reason).toBe('room closed');

    const other = (await bob.ask('consumer_webrtc_start', { id: world.items.memorable, participants: [world.userIds.ada] })).response.instance;
    expect(await hana.ask('admin_item_delete', { id: world.items.memorable })).toMatchObject({ status: 200 });
    expect((await bob.push('consumer_webrtc_completed', (data) => data.instance === other)).data.reason).toBe('item removed');
    expect(await bob.ask('consumer_webrtc_start', { id: world.items.memorable })).toMatchObject({ status: 404 });
  });
});
