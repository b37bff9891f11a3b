import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWorld, joinItem, refusal, relayBetween, type CallClient, type CallWorld } from './calls.support.js';

/**
 * Calls over Socket.IO (PROTOCOL.md sections 3 and 8): an instant call between 4.x clients
 * (token in CONNECT `auth`) and a native one, and a round-robin call whose consumer is a 2.x
 * client with its token in `x-auth` (as Extream's SDK) taken by a 4.x operator; pushes carry
 * `seq` in their data; SDP/ICE relays go between every pair of members, across transports.
 */

describe('calls over Socket.IO 4.x and 2.x', { timeout: 180_000 }, () => {
  let world: CallWorld;
  let clients: CallClient[] = [];

  beforeAll(async () => {
    world = await callWorld({ callOfferSeconds: '600' });
  }, 180_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await world?.close();
  });

  const open = async (...args: Parameters<CallWorld['open']>) => {
    const client = await world.open(...args);
    clients.push(client);
    return client;
  };

  it('instant: a 4.x caller rings a 4.x and a native participant; both accept; relays across transports', async () => {
    const [ada, bob, cy] = await Promise.all([open('ada', '4.x'), open('bob', '4.x'), open('cy', 'native')]);
    await joinItem(bob, world.items.instant);
    await joinItem(cy, world.items.instant);
    const started = await ada.ask('consumer_webrtc_start', { id: world.items.instant });
    expect(started).toMatchObject({ status: 201, response: { status: 'ringing' } });
    const instance = started.response.instance as string;
    const ring = await bob.push('consumer_webrtc_incoming', (data) => data.instance === instance);
    expect(ring.data).toMatchObject({ item: world.items.instant, instance, from: world.userIds.ada, name: 'ada' });
    expect(ring.seq).toEqual(expect.any(Number));
    expect((await cy.push('consumer_webrtc_incoming', (data) => data.instance === instance)).seq).toBe(ring.seq);

    expect(await bob.ask('consumer_webrtc_accept', { id: world.items.instant, instance })).toMatchObject({ status: 200, response: { status: 'active' } });
    expect((await bob.push('consumer_webrtc_activated')).data).toMatchObject({ room: instance, peer_id: bob.peerId, peers: [ada.peerId] });
    expect((await ada.push('consumer_webrtc_activated')).data.peers).toEqual([bob.peerId]);
    expect(await cy.ask('consumer_webrtc_accept', { id: world.items.instant, instance })).toMatchObject({ status: 200 });
    expect(new Set((await cy.push('consumer_webrtc_activated')).data.peers)).toEqual(new Set([ada.peerId, bob.peerId]));
    await relayBetween(ada, bob, instance);
    await relayBetween(cy, ada, instance);
    await relayBetween(bob, cy, instance);

    const dan = await open('dan', '4.x');
    expect(await dan.ask('relay-session-description', { room: instance, to: ada.peerId, session_description: { type: 'offer', sdp: 'v=0' } })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await dan.ask('consumer_webrtc_accept', { id: world.items.instant, instance })).toMatchObject(refusal(403, 'unauthorized'));

    expect(await ada.ask('consumer_webrtc_end', { id: world.items.instant, instance })).toMatchObject({ response: { status: 'ended' } });
    for (const member of [ada, bob, cy]) expect((await member.push('consumer_webrtc_completed')).data).toEqual({ item: world.items.instant, instance, reason: 'ended' });
  });

  it('round-robin: a 2.x consumer (x-auth) queues, a 4.x operator is offered it and takes it; they relay', async () => {
    const [dan, olga] = await Promise.all([open('dan', '2.x'), open('olga', '4.x')]);
    expect(await olga.ask('client_webrtc_get', { id: world.items.roundRobin })).toMatchObject({ status: 200, response: { queue: [] } });
    const queued = await dan.ask('consumer_webrtc_start', { id: world.items.roundRobin });
    expect(queued).toMatchObject({ status: 201, response: { status: 'queued', queue_position: 1 } });
    const instance = queued.response.instance as string;
    const offer = await olga.push('client_webrtc_incoming', (data) => data.instance === instance);
    expect(offer.data).toMatchObject({ from: world.userIds.dan, name: 'dan', callback: false });
    expect(offer.seq).toEqual(expect.any(Number));
    expect((await dan.ask('consumer_webrtc_read', { id: world.items.roundRobin })).response[0]).toMatchObject({ instance, status: 'queued', queue_position: 1 });

    expect(await olga.ask('client_webrtc_activate', { id: world.items.roundRobin, instance })).toMatchObject({ status: 200, response: { status: 'active' } });
    expect(await olga.ask('client_webrtc_activate', { id: world.items.roundRobin, instance })).toMatchObject({ status: 409 });
    expect((await dan.push('consumer_webrtc_activated')).data).toMatchObject({ room: instance, peers: [olga.peerId] });
    expect((await olga.push('consumer_webrtc_activated')).data.peers).toEqual([dan.peerId]);
    await relayBetween(dan, olga, instance);
    await relayBetween(olga, dan, instance);

    // The consumer hangs up: it leaves, and the operator alone in the call ends it.
    expect(await dan.ask('consumer_webrtc_leave', { id: world.items.roundRobin, instance })).toMatchObject({ status: 200 });
    expect((await olga.push('room-user-leave', (data) => data.room === instance)).data.peer_id).toBe(dan.peerId);
    expect(await olga.ask('client_webrtc_end', { id: world.items.roundRobin, instance })).toMatchObject({ response: { status: 'ended', reason: 'ended' } });
  });
});
