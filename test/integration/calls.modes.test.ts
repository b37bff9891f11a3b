import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/conditions.js';
import { callWorld, joinItem, refusal, relayBetween, type CallClient, type CallWorld, type Data } from './calls.support.js';

/**
 * Round-robin and group calls (PROTOCOL.md section 8) end to end with native clients: the
 * queue offered to one operator at a time (the next after `callOfferSeconds`, 1 s here), the
 * one operator who wins a race to take a call, recall, assign, callbacks; the group host
 * letting everyone waiting in up to max_participants. SDP/ICE relays between the members.
 */

describe('round-robin calls', { timeout: 180_000 }, () => {
  let world: CallWorld;
  let olga: CallClient;
  let otto: CallClient;
  let hana: CallClient;
  let ada: CallClient;
  let bob: CallClient;
  let instance: string;
  let winner: CallClient;
  let loser: CallClient;
  const item = () => world.items.roundRobin;
  const eventsOf = (type: string) => world.server.gateway.store.readAll({ type }).map((event) => event as { data: Data; position: number });

  beforeAll(async () => {
    world = await callWorld({ callOfferSeconds: '1' });
    [olga, otto, hana, ada, bob] = await Promise.all([world.open('olga'), world.open('otto'), world.open('hana'), world.open('ada'), world.open('bob')]);
  }, 180_000);

  afterAll(async () => {
    for (const client of [olga, otto, hana, ada, bob]) client?.close();
    await world?.close();
  });

  it('operators read the queue (client_webrtc_get); olga by operate_webrtc, otto as a listed operator; a consumer is refused 403', async () => {
    const seen = await olga.ask('client_webrtc_get', { id: item() });
    expect(seen).toMatchObject({ status: 200, response: { item: item(), queue: [], active: [], ended: [], operators: [world.userIds.olga] } });
    expect((await otto.ask('client_webrtc_get', { id: item() })).response.operators).toEqual([world.userIds.olga, world.userIds.otto]);
    expect(await bob.ask('client_webrtc_get', { id: item() })).toMatchObject(refusal(403, 'unauthorized'));
  });

  it('a start queues the call and offers it to one operator; not taken within callOfferSeconds, to the next', async () => {
    const started = await ada.ask('consumer_webrtc_start', { id: item() });
    expect(started).toMatchObject({ status: 201, response: { status: 'queued', queue_position: 1, host: world.userIds.ada } });
    instance = started.response.instance;
    const first = await olga.push('client_webrtc_incoming', (data) => data.instance === instance);
    expect(first.data).toEqual({ item: item(), instance, from: world.userIds.ada, name: 'ada', callback: false, expires_at: expect.any(String) });
    expect(first.seq).toBe(eventsOf('CallOffered').find((event) => event.data.instanceId === instance && event.data.operator === world.userIds.olga)!.position);
    // Olga lets it lapse: the offer goes to otto.
    await otto.push('client_webrtc_incoming', (data) => data.instance === instance);
    expect(eventsOf('CallOfferExpired').some((event) => event.data.instanceId === instance && event.data.operator === world.userIds.olga && event.data.reason === 'timeout')).toBe(true);
    const join = await joinItem(ada, item());
    expect(join.call).toMatchObject({ instance, status: 'queued', queue_position: 1, you: { role: 'host', status: 'joined' } });
  });

  it('activate by a non-operator is 403; two operators at once: exactly one wins, the other gets CONFLICT', async () => {
    const before = world.server.gateway.store.headPosition();
    expect(await bob.ask('client_webrtc_activate', { id: item(), instance })).toMatchObject(refusal(403, 'unauthorized'));
    expect(eventsOf('CallAssigned').length).toBe(0);
    const answers = await Promise.all([olga.ask('client_webrtc_activate', { id: item(), instance }), otto.ask('client_webrtc_activate', { id: item(), instance })]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    [winner, loser] = answers[0]!.status === 200 ? [olga, otto] : [otto, olga];
    expect(answers.find((answer) => answer.status === 409)).toMatchObject({ error: 'this call was taken already' });
    expect(eventsOf('CallAssigned')).toHaveLength(1);
    expect(world.server.gateway.store.headPosition()).toBeGreaterThan(before);
    const taken = await loser.push('client_webrtc_activated', (data) => data.instance === instance);
    expect(taken.data).toEqual({ item: item(), instance, operator: world.userIds[winner.name as 'olga'], by: world.userIds[winner.name as 'olga'] });
  });

  it('the operator and the caller hear they are in, and relay SDP and ICE', async () => {
    expect((await winner.push('consumer_webrtc_activated', (data) => data.instance === instance)).data.peers).toEqual([ada.peerId]);
    expect((await ada.push('consumer_webrtc_activated', (data) => data.instance === instance)).data.peers).toEqual([winner.peerId]);
    await relayBetween(ada, winner, instance);
    await relayBetween(winner, ada, instance);
  });

  it('recall returns it to the queue (client_webrtc_returned); assign hands it to a given operator', async () => {
    const returned = await winner.ask('client_webrtc_recall', { id: item(), instance });
    expect(returned).toMatchObject({ status: 200, response: { status: 'queued', operator: null } });
    expect((await loser.push('client_webrtc_returned', (data) => data.instance === instance)).data).toMatchObject({ instance, operator: world.userIds[winner.name as 'olga'] });
    expect((await ada.push('room-user-leave', (data) => data.room === instance)).data.peer_id).toBe(winner.peerId);
    expect(await hana.ask('client_webrtc_assign', { id: item(), instance, operator: world.userIds.bob })).toMatchObject({ status: 400 });
    await joinItem(hana, item());
    const assigned = await hana.ask('client_webrtc_assign', { id: item(), instance, operator: world.userIds[loser.name as 'olga'] });
    expect(assigned).toMatchObject({ status: 200, response: { status: 'active', operator: world.userIds[loser.name as 'olga'] } });
    expect(eventsOf('CallAssigned').at(-1)!.data).toMatchObject({ operator: world.userIds[loser.name as 'olga'], by: world.userIds.hana });
    expect((await loser.push('consumer_webrtc_activated', (data) => data.instance === instance)).data.peers).toEqual([ada.peerId]);
    // The caller hears it again, with its new peer.
    expect((await ada.push('consumer_webrtc_activated', (data) => data.instance === instance && data.peers[0] === loser.peerId)).data.peers).toEqual([loser.peerId]);
    await relayBetween(loser, ada, instance);
    expect(await hana.ask('client_webrtc_assign', { id: item(), instance, operator: world.userIds[winner.name as 'olga'] })).toMatchObject({ status: 409 });
  });

  it('client_webrtc_get shows the active call; client_webrtc_end ends it for everyone', async () => {
    const view = await loser.ask('client_webrtc_get', { id: item() });
    expect(view.response.active.map((call: Data) => call.instance)).toContain(instance);
    const ended = await loser.ask('client_webrtc_end', { id: item(), instance });
    expect(ended).toMatchObject({ status: 200, response: { status: 'ended', reason: 'ended' } });
    expect((await ada.push('consumer_webrtc_completed', (data) => data.instance === instance)).data.reason).toBe('ended');
    expect((await ada.push('room-closed', (data) => data.room === instance)).data).toEqual({ room: instance, reason: 'call ended' });
  });

  it('callback: asked while nobody is free; the operator calls back, the consumer is rung and accepts', async () => {
    const asked = await bob.ask('consumer_webrtc_callback', { id: item() });
    expect(asked).toMatchObject({ status: 201, response: { status: 'queued', callback: true } });
    const call = asked.response.instance;
    for (const operator of [olga, otto]) expect((await operator.push('client_webrtc_callback', (data) => data.instance === call)).data).toEqual({ item: item(), instance: call, user: world.userIds.bob, name: 'bob' });
    // bob goes away (his socket closes): the call keeps its place in the queue.
    bob.close();
    await until(() => eventsOf('CallLeft').some((event) => event.data.instanceId === call && event.data.reason === 'disconnected'), "bob's leave recorded");
    expect(eventsOf('CallEnded').some((event) => event.data.instanceId === call)).toBe(false);
    bob = await world.open('bob');
    const waiting = await joinItem(bob, item());
    expect(waiting.call).toMatchObject({ instance: call, status: 'queued', callback: true });
    const rang = await olga.ask('client_webrtc_callback', { id: item(), user: world.userIds.bob });
    expect(rang).toMatchObject({ status: 200, response: { status: 'active', operator: world.userIds.olga } });
    expect((await bob.push('consumer_webrtc_incoming', (data) => data.instance === call)).data).toEqual({ item: item(), instance: call, mode: 'round-robin', from: world.userIds.olga, name: 'olga' });
    expect(await bob.ask('consumer_webrtc_accept', { id: item(), instance: call })).toMatchObject({ status: 200, response: { you: { role: 'host', status: 'joined' } } });
    expect((await bob.push('consumer_webrtc_activated', (data) => data.instance === call)).data.peers).toEqual([olga.peerId]);
    await relayBetween(bob, olga, call);
    expect(await olga.ask('client_webrtc_callback', { id: item(), instance: call })).toMatchObject({ status: 409 });
    await bob.ask('consumer_webrtc_end', { id: item(), instance: call });
  });
});

describe('group calls', { timeout: 180_000 }, () => {
  let world: CallWorld;
  let hana: CallClient;
  let ada: CallClient;
  let bob: CallClient;
  let cy: CallClient;
  let dan: CallClient;
  let instance: string;
  const item = () => world.items.group;

  beforeAll(async () => {
    world = await callWorld();
    [hana, ada, bob, cy, dan] = await Promise.all([world.open('hana'), world.open('ada'), world.open('bob'), world.open('cy'), world.open('dan')]);
  }, 180_000);

  afterAll(async () => {
    for (const client of [hana, ada, bob, cy, dan]) client?.close();
    await world?.close();
  });

  it('consumers wait on the item (consumer_webrtc_get or _start) until the host starts', async () => {
    for (const client of [ada, bob, cy]) expect(await joinItem(client, item())).toMatchObject({ call: null, waiting: true, operator: false });
    expect(await dan.ask('consumer_webrtc_start', { id: item() })).toMatchObject({ status: 200, response: { item: item(), instance: null, status: 'waiting' } });
    expect((await joinItem(hana, item())).operator).toBe(true);
  });

  it('client_webrtc_start lets the waiting in, up to max_participants (the host counts); each hears it is in', async () => {
    const started = await hana.ask('client_webrtc_start', { id: item() });
    expect(started).toMatchObject({ status: 201, response: { mode: 'group', status: 'active', host: world.userIds.hana } });
    instance = started.response.instance;
    expect(started.response.participants.map((party: Data) => [party.user, party.role, party.status])).toEqual([
      [world.userIds.hana, 'host', 'joined'],
      [world.userIds.ada, 'participant', 'joined'],
      [world.userIds.bob, 'participant', 'joined'],
    ]);
    for (const member of [hana, ada, bob]) {
      const activated = await member.push('consumer_webrtc_activated', (data) => data.instance === instance);
      expect(activated.data).toMatchObject({ item: item(), instance, mode: 'group', room: instance, peer_id: member.peerId });
      expect(new Set(activated.data.peers)).toEqual(new Set([hana, ada, bob].filter((other) => other !== member).map((other) => other.peerId)));
    }
    expect(cy.pending('consumer_webrtc_activated')).toEqual([]);
    await relayBetween(ada, bob, instance);
    await relayBetween(hana, ada, instance);
    expect(await hana.ask('client_webrtc_start', { id: item() })).toMatchObject({ status: 409 });
  });

  it('full: a late start is refused capacity_reached; once a seat frees, it joins', async () => {
    expect(await cy.ask('consumer_webrtc_start', { id: item() })).toMatchObject(refusal(403, 'capacity_reached'));
    expect((await joinItem(cy, item())).call).toMatchObject({ instance, status: 'active', you: null });
    expect(await bob.ask('consumer_webrtc_leave', { id: item(), instance })).toMatchObject({ status: 200 });
    const joined = await cy.ask('consumer_webrtc_start', { id: item() });
    expect(joined).toMatchObject({ status: 200, response: { instance, you: { role: 'participant', status: 'joined' } } });
    expect(new Set((await cy.push('consumer_webrtc_activated', (data) => data.instance === instance)).data.peers)).toEqual(new Set([hana.peerId, ada.peerId]));
    expect((await hana.push('client_webrtc_joined', (data) => data.user === world.userIds.cy)).data).toMatchObject({ instance, peer_id: cy.peerId });
    await relayBetween(cy, ada, instance);
    expect(await bob.ask('relay-ice-candidate', { room: instance, to: ada.peerId, ice_candidate: { candidate: 'x' } })).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('the host ends it: every member hears consumer_webrtc_completed and room-closed', async () => {
    expect(await hana.ask('client_webrtc_end', { id: item(), instance })).toMatchObject({ status: 200, response: { status: 'ended' } });
    for (const member of [hana, ada, cy]) {
      expect((await member.push('consumer_webrtc_completed', (data) => data.instance === instance)).data).toEqual({ item: item(), instance, reason: 'ended' });
      expect((await member.push('room-closed', (data) => data.room === instance)).data.reason).toBe('call ended');
    }
  });

  it('a guest of the item waits, is let in by the host, and relays with the members (fast path and decoded)', async () => {
    const invitationId = 'guest-of-the-town-hall';
    await world.server.gateway.store.append(
      `invitation-${invitationId}`,
      [
        {
          type: 'InvitationIssued',
          data: {
            invitationId, itemId: item(), itineraryId: 'itinerary', eventId: 'event', organisationId: world.organisation, email: 'gus@outside.example',
            name: 'Gus', title: 'Town hall', joinUrl: 'http://127.0.0.1/guest', ticketJti: invitationId, ticketExpiresAt: Date.now() + 600_000, sequence: 0, issuedAt: Date.now(),
          },
        },
      ],
      0,
    );
    // Its mail (to data/outbox) is recorded before the test goes on: nothing of it is left running at the stop.
    await until(() => world.server.gateway.store.readAll({ type: 'InvitationMailSent' }).length === 1, 'the invitation mail recorded', 20_000_000);
    const token = (
      await world.server.gateway.identity.tokens.issue('guest', {
        subject: invitationId,
        ttlSeconds: 600,
        claims: { item: item(), room: `item-${item()}`, org: world.organisation, email: 'gus@outside.example', name: 'Gus' },
        now: Date.now(),
      })
    ).token;
    // The others go: the guest is the only one waiting this time.
    for (const client of [ada, bob, cy, dan]) client.close();
    const gus = await world.openWithToken('gus', token);
    try {
      expect(await joinItem(gus, item())).toMatchObject({ call: null, waiting: true });
      for (let turn = 0; (await hana.ask('client_webrtc_get', { id: item() })).response.waiting !== 1; turn++) {
        if (turn > 10_000) throw new Error('the closed clients never left the item');
      }
      // Another item's calls are not the guest's.
      expect(await gus.ask('consumer_webrtc_start', { id: world.items.instant })).toMatchObject(refusal(403, 'unauthorized'));
      const started = await hana.ask('client_webrtc_start', { id: item() });
      const call = started.response.instance as string;
      expect(started.response.participants.map((party: Data) => party.user)).toContain(`guest:${invitationId}`);
      expect((await gus.push('consumer_webrtc_activated', (data) => data.instance === call)).data).toMatchObject({ room: call, user: `guest:${invitationId}` });
      await relayBetween(gus, hana, call);
      await relayBetween(hana, gus, call);
      await hana.ask('client_webrtc_end', { id: item(), instance: call });
    } finally {
      gus.close();
    }
  });
});
