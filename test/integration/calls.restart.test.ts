import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_FILE } from '../../src/app/gateway.js';
import { allProjections } from '../../src/app/modules.js';
import { replay } from '../../src/cli/replay.js';
import { SqliteEventStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { callWorld, joinItem, relayBetween, type CallClient, type CallWorld, type Data } from './calls.support.js';

/**
 * Calls across restarts of the gateway on the same data directory (PROTOCOL.md section 8).
 * A stop closes every socket, so calls follow their members out as on any disconnect (an
 * active call empties and ends, a ringing one loses its caller and is cancelled, a queued
 * caller keeps its place); a crash leaves the log with calls still in progress, which the
 * start ends (`gateway restarted`). Either way an offer to an operator lapses at the start,
 * ended calls stay as they ended, and queued calls keep their place, callback and all, and are
 * offered again once an operator is back. The calls read models rebuilt from the log
 * (`switchyard replay`) equal the live ones throughout.
 */

describe('calls across a restart, and replay', { timeout: 240_000 }, () => {
  let dir: { path: string; remove(): void };
  let world: CallWorld;
  let clients: CallClient[] = [];
  const calls: Record<'ended' | 'active' | 'ringing' | 'offered' | 'callback', string> = { ended: '', active: '', ringing: '', offered: '', callback: '' };
  const eventsOf = (type: string) => world.server.gateway.store.readAll({ type }).map((event) => event.data as Data);
  const open = async (...args: Parameters<CallWorld['open']>) => {
    const client = await world.open(...args);
    clients.push(client);
    return client;
  };
  const closeAll = () => {
    for (const client of clients.splice(0)) client.close();
  };
  const expectReplayEqual = () => {
    const report = replay({ dataDir: dir.path });
    const differing = report.tables.filter((table) => table.differences > 0);
    expect(differing, JSON.stringify(differing)).toEqual([]);
    expect(report.tables.filter((table) => table.projection === 'calls').map((table) => table.liveRows)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(report.equal).toBe(true);
  };

  beforeAll(async () => {
    dir = tempDir('switchyard-calls-restart-');
    // Offers last long here, so one is live when the gateway stops.
    world = await callWorld({ callOfferSeconds: '600' }, dir.path);
  }, 180_000);

  afterAll(async () => {
    closeAll();
    await world?.close();
    dir?.remove();
  });

  it('before: an ended call, an active one, a ringing one, a queued one offered to an operator, a queued callback', async () => {
    const [ada, bob, cy, dan, olga] = await Promise.all([open('ada'), open('bob'), open('cy'), open('dan'), open('olga')]);
    await joinItem(bob, world.items.capped);
    calls.ended = (await ada.ask('consumer_webrtc_start', { id: world.items.capped, participants: [world.userIds.bob] })).response.instance;
    await bob.ask('consumer_webrtc_accept', { id: world.items.capped, instance: calls.ended });
    await bob.push('consumer_webrtc_activated');
    expect(await ada.ask('consumer_webrtc_end', { id: world.items.capped, instance: calls.ended })).toMatchObject({ response: { status: 'ended' } });

    calls.active = (await ada.ask('consumer_webrtc_start', { id: world.items.instant, participants: [world.userIds.bob] })).response.instance;
    expect(await bob.ask('consumer_webrtc_accept', { id: world.items.instant, instance: calls.active })).toMatchObject({ response: { status: 'active' } });
    calls.ringing = (await cy.ask('consumer_webrtc_start', { id: world.items.capped, participants: [world.userIds.dan] })).response.instance;

    await olga.ask('client_webrtc_get', { id: world.items.roundRobin });
    calls.offered = (await dan.ask('consumer_webrtc_start', { id: world.items.roundRobin })).response.instance;
    await olga.push('client_webrtc_incoming', (data) => data.instance === calls.offered);
    calls.callback = (await cy.ask('consumer_webrtc_callback', { id: world.items.roundRobin })).response.instance;
    expectReplayEqual();
  });

  it('after a stop: the sockets closed ended the active and the ringing call; the offer lapsed; the queue kept its order and callback', async () => {
    // The clients stay connected: the stop itself closes their sockets.
    await world.restart();
    clients = [];
    const ended = new Map(eventsOf('CallEnded').map((data) => [data.instanceId, data.reason]));
    expect(ended.get(calls.ended)).toBe('ended');
    expect(ended.get(calls.active)).toBe('empty');
    expect(ended.get(calls.ringing)).toBe('cancelled');
    expect(ended.has(calls.offered)).toBe(false);
    expect(ended.has(calls.callback)).toBe(false);
    expect(eventsOf('CallOfferExpired')).toContainEqual({ instanceId: calls.offered, operator: world.userIds.olga, reason: 'gateway restarted' });
    expect(world.server.gateway.rooms.state(calls.active).open).toBe(false);

    const hana = await open('hana');
    const instant = (await hana.ask('client_webrtc_get', { id: world.items.capped })).response;
    expect(instant.active).toEqual([]);
    expect(instant.ended.map((call: Data) => [call.instance, call.reason])).toEqual(
      expect.arrayContaining([
        [calls.ended, 'ended'],
        [calls.ringing, 'cancelled'],
      ]),
    );
    const olga = await open('olga');
    const desk = (await olga.ask('client_webrtc_get', { id: world.items.roundRobin })).response;
    expect(desk.queue.map((call: Data) => [call.instance, call.queue_position, call.callback])).toEqual([
      [calls.offered, 1, false],
      [calls.callback, 2, true],
    ]);
    // Olga is back on the item: the head of the queue is offered to her again.
    await olga.push('client_webrtc_incoming', (data) => data.instance === calls.offered);
  });

  it('after: the queued consumer comes back, rejoins its call, the operator takes it, and they relay', async () => {
    const dan = await open('dan');
    const read = await dan.ask('consumer_webrtc_read', { id: world.items.roundRobin });
    expect(read.response[0]).toMatchObject({ instance: calls.offered, status: 'queued', queue_position: 1, you: { role: 'host', status: 'left' } });
    expect(await dan.ask('consumer_webrtc_start', { id: world.items.roundRobin })).toMatchObject({ status: 200, response: { instance: calls.offered, you: { status: 'joined' } } });
    const olga = clients.find((client) => client.name === 'olga')!;
    expect(await olga.ask('client_webrtc_activate', { id: world.items.roundRobin, instance: calls.offered })).toMatchObject({ status: 200 });
    await dan.push('consumer_webrtc_activated', (data) => data.instance === calls.offered);
    await olga.push('consumer_webrtc_activated', (data) => data.instance === calls.offered);
    await relayBetween(dan, olga, calls.offered);
    expectReplayEqual();
  });
});

describe('calls after a crash', { timeout: 240_000 }, () => {
  it('a call the log shows in progress (its members never left: the process died) ends at the start', async () => {
    const dir = tempDir('switchyard-calls-crash-');
    let world: CallWorld | undefined;
    try {
      world = await callWorld({}, dir.path);
      const { itemId, organisationId } = { itemId: world.items.instant, organisationId: world.organisation };
      await world.server.close();
      // What a process killed mid-call leaves: the call with two members and its open room.
      const store = new SqliteEventStore({ path: join(dir.path, DATABASE_FILE), projections: allProjections, walCheckpointIntervalMs: 0 });
      const instance = 'c0ffee00-dead-4000-8000-000000000001';
      const [ada, bob] = [world.userIds.ada, world.userIds.bob];
      const t = Date.now();
      await store.append(
        `call-${instance}`,
        [
          { type: 'CallStarted', data: { instanceId: instance, itemId, organisationId, mode: 'instant', host: ada, participants: [bob], maxParticipants: 3, startedAt: t } },
          { type: 'CallRinging', data: { instanceId: instance, parties: [bob], by: ada, ringingAt: t } },
          { type: 'CallJoined', data: { instanceId: instance, party: ada, peerId: 'peer-ada', role: 'host', joinedAt: t } },
          { type: 'CallAccepted', data: { instanceId: instance, party: bob, peerId: 'peer-bob', acceptedAt: t } },
          { type: 'CallJoined', data: { instanceId: instance, party: bob, peerId: 'peer-bob', role: 'participant', joinedAt: t } },
        ],
        0,
      );
      await store.append(
        `room-${instance}`,
        [
          { type: 'RoomCreated', data: { room: instance, owner: { peerId: 'peer-ada', userKey: `user:${ada}`, payload: null, joinedAt: t }, createdAt: t, itemId } },
          { type: 'MemberAdmitted', data: { room: instance, peerId: 'peer-bob', userKey: `user:${bob}`, payload: null, by: ada, joinedAt: t } },
        ],
        0,
      );
      await store.close();

      await world.restart();
      const ofCall = world.server.gateway.store.readStream(`call-${instance}`).slice(5);
      expect(ofCall.map((event) => [event.type, (event.data as Data).reason])).toEqual([
        ['CallLeft', 'gateway restarted'],
        ['CallLeft', 'gateway restarted'],
        ['CallEnded', 'gateway restarted'],
      ]);
      expect(ofCall.every((event) => event.metadata.actor === 'system')).toBe(true);
      expect(world.server.gateway.rooms.state(instance).open).toBe(false);
      const bobClient = await world.open('bob');
      const read = await bobClient.ask('consumer_webrtc_read', { id: itemId });
      expect(read.response).toEqual([expect.objectContaining({ instance, status: 'ended', reason: 'gateway restarted', you: { role: 'participant', status: 'left' } })]);
      bobClient.close();
      const report = replay({ dataDir: dir.path });
      expect(report.tables.filter((table) => table.differences > 0)).toEqual([]);
    } finally {
      await world?.close();
      dir.remove();
    }
  });
});
