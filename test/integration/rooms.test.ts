import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { APP_PASSWORD, appToken, connectPeer, meetInRoom } from '../helpers/rooms.js';
import { TestClient } from '../helpers/ws-client.js';

describe('rooms and WebRTC signalling (PROTOCOL.md section 5)', () => {
  let server: TestGateway;
  let token: string;
  let roomCounter = 0;
  const nextRoom = () => `room-${++roomCounter}`;

  beforeAll(async () => {
    server = await startTestGateway({ appPassword: APP_PASSWORD, relayIcePerSecond: '5', rateLimitStrikes: '6', maxPayloadBytes: '64' });
    token = await appToken(server);
  });
  afterAll(async () => {
    await server.close();
  });

  it('runs the owner-approved join and relays SDP and ICE between members only', async () => {
    const [owner, joiner, outsider] = await Promise.all([connectPeer(server, token), connectPeer(server, token), connectPeer(server, token)]);
    const room = nextRoom();
    const created = await owner.client.request('room-create-request', { room, payload: { name: 'owner' } });
    expect(created).toMatchObject({ event: 'room-create-accept', data: { room, payload: { name: 'owner' } } });

    joiner.client.sendJson({ event: 'room-join-request', data: { room, payload: { name: 'joiner' } }, id: 41 });
    const request = await owner.client.next('room-join-request');
    expect(request.data).toEqual({ room, peer_id: joiner.peerId, payload: { name: 'joiner' } });

    // `to` is accepted as an alias of `peer_id`.
    owner.client.sendJson({ event: 'room-join-accept', data: { room, to: joiner.peerId, payload: { welcome: true } } });
    const accept = await joiner.client.next('room-join-accept');
    expect(accept).toMatchObject({ id: 41, data: { room, peer_id: joiner.peerId, peers: [owner.peerId], payload: { welcome: true } } });
    const userJoin = await owner.client.next('room-user-join');
    expect(userJoin.data).toEqual({ room, peer_id: joiner.peerId, payload: { name: 'joiner' } });

    const sdp = { type: 'offer', sdp: 'v=0\r\n'.repeat(500) };
    joiner.client.sendJson({ event: 'relay-session-description', data: { room, to: owner.peerId, session_description: sdp } });
    const description = await owner.client.next('session-description');
    expect(description.data).toEqual({ room, peer_id: joiner.peerId, session_description: sdp });

    owner.client.sendJson({ event: 'relay-ice-candidate', data: { room, to: joiner.peerId, ice_candidate: { candidate: 'c1' }, payload: { n: 1 } } });
    expect((await joiner.client.next('ice-candidate')).data).toEqual({ room, peer_id: owner.peerId, ice_candidate: { candidate: 'c1' }, payload: { n: 1 } });

    // A non-member can neither relay into the room nor be relayed to.
    const forbidden = await outsider.client.request('relay-ice-candidate', { room, to: owner.peerId, ice_candidate: { candidate: 'x' } });
    expect(forbidden).toMatchObject({ event: 'error', data: { code: 'FORBIDDEN' } });
    const toOutsider = await owner.client.request('relay-ice-candidate', { room, to: outsider.peerId, ice_candidate: { candidate: 'x' } });
    expect(toOutsider).toMatchObject({ event: 'error', data: { code: 'FORBIDDEN' } });
    expect(outsider.client.frames.filter((frame) => frame.event === 'ice-candidate')).toEqual([]);

    for (const peer of [owner, joiner, outsider]) peer.client.close();
  });

  it('relays across codecs: JSON to MessagePack and back, bodies unchanged', async () => {
    const [jsonPeer, packPeer] = await Promise.all([connectPeer(server, token), connectPeer(server, token, ['switchyard.v1.msgpack'])]);
    const room = nextRoom();
    await meetInRoom(jsonPeer, [], room);
    packPeer.client.sendMsgpack({ event: 'room-join-request', data: { room } });
    await jsonPeer.client.next('room-join-request');
    jsonPeer.client.sendJson({ event: 'room-join-accept', data: { room, peer_id: packPeer.peerId } });
    await packPeer.client.next('room-join-accept');
    const sdp = { type: 'answer', sdp: 'v=0\r\na=ice-ufrag:ÄÖ€\r\n' };
    jsonPeer.client.sendJson({ event: 'relay-session-description', data: { room, to: packPeer.peerId, session_description: sdp, payload: { n: 1 } } });
    expect((await packPeer.client.next('session-description')).data).toEqual({ room, peer_id: jsonPeer.peerId, session_description: sdp, payload: { n: 1 } });
    packPeer.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: jsonPeer.peerId, ice_candidate: { candidate: 'c', sdpMLineIndex: 0 } } });
    expect((await jsonPeer.client.next('ice-candidate')).data).toEqual({ room, peer_id: packPeer.peerId, ice_candidate: { candidate: 'c', sdpMLineIndex: 0 } });
    jsonPeer.client.close();
    packPeer.client.close();
  });

  it('answers a create of a taken name with room-create-reject CONFLICT, and bad names with BAD_REQUEST', async () => {
    const [a, b] = await Promise.all([connectPeer(server, token), connectPeer(server, token)]);
    const room = nextRoom();
    await a.client.request('room-create-request', { room });
    expect(await b.client.request('room-create-request', { room })).toMatchObject({ event: 'room-create-reject', data: { code: 'CONFLICT' } });
    for (const bad of ['', 'has space', 'x'.repeat(129), 42, null, '<script>']) {
      expect(await b.client.request('room-create-request', { room: bad })).toMatchObject({ event: 'room-create-reject', data: { code: 'BAD_REQUEST' } });
    }
    expect(await b.client.request('room-join-request', { room: 'no-such-room' })).toMatchObject({ event: 'room-join-reject', data: { code: 'NOT_FOUND' } });
    a.client.close();
    b.client.close();
  });

  it('lets only owners approve or reject, and tells a rejected joiner', async () => {
    const [owner, member, joiner] = await Promise.all([connectPeer(server, token), connectPeer(server, token), connectPeer(server, token)]);
    const room = nextRoom();
    await meetInRoom(owner, [member], room);
    joiner.client.sendJson({ event: 'room-join-request', data: { room } });
    await owner.client.next('room-join-request');
    expect(await member.client.request('room-join-accept', { room, peer_id: joiner.peerId })).toMatchObject({ event: 'error', data: { code: 'FORBIDDEN' } });
    owner.client.sendJson({ event: 'room-join-reject', data: { room, peer_id: joiner.peerId } });
    expect(await joiner.client.next('room-join-reject')).toMatchObject({ data: { room, peer_id: joiner.peerId, code: 'FORBIDDEN' } });
    for (const peer of [owner, member, joiner]) peer.client.close();
  });

  it('hands ownership to the longest-present member when the owner leaves, and ends an empty room', async () => {
    const [owner, first, second] = await Promise.all([connectPeer(server, token), connectPeer(server, token), connectPeer(server, token)]);
    const room = nextRoom();
    await meetInRoom(owner, [first, second], room);
    owner.client.close();
    expect((await first.client.next('room-user-leave')).data).toEqual({ room, peer_id: owner.peerId });
    expect((await first.client.next('room-owner-change')).data).toEqual({ room, peer_id: first.peerId });
    expect((await second.client.next('room-owner-change')).data).toEqual({ room, peer_id: first.peerId });
    // The new owner can approve.
    const late = await connectPeer(server, token);
    late.client.sendJson({ event: 'room-join-request', data: { room } });
    await first.client.next('room-join-request');
    first.client.sendJson({ event: 'room-join-accept', data: { room, peer_id: late.peerId } });
    expect((await late.client.next('room-join-accept')).data).toMatchObject({ peers: [first.peerId, second.peerId] });
    for (const peer of [first, second, late]) expect((await peer.client.request('room-leave', { room })).event).toBe('result');
    const state = server.gateway.rooms.state(room);
    expect(state.open).toBe(false);
    const closed = server.gateway.store.readAll({ streamId: `room-${room}`, type: 'RoomClosed' });
    expect(closed.map((event) => (event.data as { reason: string }).reason)).toEqual(['empty']);
  });

  it('acts at once on operator close, update, ban and message for gateway-hosted rooms', async () => {
    const [owner, member] = await Promise.all([connectPeer(server, token), connectPeer(server, token)]);
    const room = nextRoom();
    await meetInRoom(owner, [member], room);
    expect(await server.gateway.rooms.update(room, [1, 2, 3], 'operator')).toBe(true);
    expect((await member.client.next('room-updated')).data).toEqual({ room, user_data: [1, 2, 3] });
    expect(server.gateway.rooms.sendMessage(room, [104, 105])).toBe(true);
    expect((await owner.client.next('room-message')).data).toEqual({ room, message: [104, 105] });
    const memberKey = server.gateway.rooms.state(room).context.members.find((entry) => entry.peerId === member.peerId)!.userKey;
    expect(await server.gateway.rooms.ban(room, memberKey, Date.now() + 60_000, 'operator')).toBe(true);
    expect(await member.client.next('room-banned')).toMatchObject({ data: { room } });
    expect((await owner.client.next('room-user-leave')).data).toEqual({ room, peer_id: member.peerId });
    expect(await server.gateway.rooms.close(room, 'operator closed it', 'operator')).toBe(true);
    expect((await owner.client.next('room-closed')).data).toEqual({ room, reason: 'operator closed it' });
    expect(await server.gateway.rooms.close('never-hosted', 'x', 'operator')).toBe(false);
    owner.client.close();
    member.client.close();
  });

  it('refuses a banned user on join', async () => {
    const userToken = await appToken(server, 'banned-app');
    const [owner, banned] = await Promise.all([connectPeer(server, token), connectPeer(server, userToken)]);
    const room = nextRoom();
    await owner.client.request('room-create-request', { room });
    await server.gateway.rooms.ban(room, `app:banned-app:${banned.peerId}`, null, 'operator');
    expect(await banned.client.request('room-join-request', { room })).toMatchObject({ event: 'room-join-reject', data: { code: 'FORBIDDEN' } });
    owner.client.close();
    banned.client.close();
  });

  it('needs a session for room events and checks a Chat Signal `auth` field against it', async () => {
    const anonymous = await TestClient.connect(server.wsUrl());
    expect(await anonymous.request('room-create-request', { room: nextRoom() })).toMatchObject({
      event: 'room-create-reject',
      data: { code: 'UNAUTHORIZED', message: 'Token is not valid' },
    });
    const peer = await connectPeer(server, token);
    expect(await peer.client.request('room-create-request', { room: nextRoom(), auth: 'not-my-session' })).toMatchObject({
      event: 'room-create-reject',
      data: { code: 'UNAUTHORIZED' },
    });
    expect(await peer.client.request('room-create-request', { room: nextRoom(), auth: peer.sessionToken })).toMatchObject({ event: 'room-create-accept' });
    anonymous.close();
    peer.client.close();
  });

  it('refuses an oversized payload with PAYLOAD_TOO_LARGE', async () => {
    const [a, b] = await Promise.all([connectPeer(server, token), connectPeer(server, token)]);
    const room = nextRoom();
    await meetInRoom(a, [b], room);
    const big = { blob: 'x'.repeat(100) };
    expect(await a.client.request('room-create-request', { room: nextRoom(), payload: big })).toMatchObject({ data: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await a.client.request('relay-ice-candidate', { room, to: b.peerId, ice_candidate: {}, payload: big })).toMatchObject({
      event: 'error',
      data: { code: 'PAYLOAD_TOO_LARGE' },
    });
    a.client.close();
    b.client.close();
  });

  it('rate-limits relays per connection, then closes a sustained abuser with 4029 while others go on', async () => {
    const [abuser, victim, bystander] = await Promise.all([connectPeer(server, token), connectPeer(server, token), connectPeer(server, token)]);
    const room = nextRoom();
    await meetInRoom(abuser, [victim, bystander], room);
    // relayIcePerSecond = 5 (burst 10), rateLimitStrikes = 6: 40 candidates at once overrun it.
    for (let index = 0; index < 40; index++) {
      abuser.client.sendJson({ event: 'relay-ice-candidate', data: { room, to: victim.peerId, ice_candidate: { index } } });
    }
    const limited = await abuser.client.next((frame) => frame.event === 'error' && (frame.data as { code: string }).code === 'RATE_LIMITED');
    expect(limited).toBeDefined();
    expect((await abuser.client.waitClosed()).code).toBe(4029);
    // The victim got the candidates inside the budget, and the room still works for others.
    expect(victim.client.frames.filter((frame) => frame.event === 'ice-candidate').length).toBeGreaterThan(0);
    bystander.client.sendJson({ event: 'relay-ice-candidate', data: { room, to: victim.peerId, ice_candidate: { from: 'bystander' } } });
    await victim.client.next((frame) => frame.event === 'ice-candidate' && (frame.data as { peer_id: string }).peer_id === bystander.peerId);
    victim.client.close();
    bystander.client.close();
  });

  it('closes rooms left open by a crash when the gateway restarts, keeping their bans', async () => {
    const dir = server.dataDir;
    const other = await startTestGateway({ appPassword: APP_PASSWORD }, `${dir}-restart`);
    const otherToken = await appToken(other);
    const [a, b] = await Promise.all([connectPeer(other, otherToken), connectPeer(other, otherToken)]);
    const room = nextRoom();
    await meetInRoom(a, [b], room);
    await other.gateway.rooms.ban(room, 'user:someone', null, 'operator');
    await other.close();
    const restarted = await startTestGateway({ appPassword: APP_PASSWORD }, `${dir}-restart`);
    const state = restarted.gateway.rooms.state(room);
    expect(state.open).toBe(false);
    expect(state.context.bans).toEqual([{ userKey: 'user:someone', until: null }]);
    await restarted.close();
  });
});
