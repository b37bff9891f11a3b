import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectV2, connectV4, emitV2, type V2Client, type V4Client } from '../helpers/socketio.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * PROTOCOL.md section 5 across stacks: a socket.io-client 4.x peer, a 2.x peer and a native
 * MessagePack peer meet in one room (create, join request, owner approval) and relay ICE
 * candidates and session descriptions to each other in every direction.
 */

interface Peer {
  name: string;
  id: string;
  /** The log position the last push `next` returned carried (PROTOCOL.md section 11), if any. */
  lastSeq: number | undefined;
  /** Sends an event (no ack). */
  emit(event: string, data: unknown): void;
  /** The next event of this name received whose data matches. */
  next(event: string, where?: (data: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  close(): void;
}

/** Socket.IO carries a push's `seq` inside its data: taken out, so one expectation fits every stack. */
function withoutSeq(peer: { lastSeq: number | undefined }, data: Record<string, unknown>): Record<string, unknown> {
  const { seq, ...rest } = data;
  peer.lastSeq = typeof seq === 'number' ? seq : undefined;
  return rest;
}

function v4Peer(name: string, client: V4Client): Peer {
  const peer: Peer = {
    name,
    id: client.socket.id!,
    lastSeq: undefined,
    emit: (event, data) => void client.socket.emit(event, data),
    next: async (event, where = () => true) =>
      withoutSeq(peer, (await client.log.next((received) => received.event === event && where(received.args[0] as Record<string, unknown>))).args[0] as Record<string, unknown>),
    close: () => void client.socket.close(),
  };
  return peer;
}

function v2Peer(name: string, client: V2Client): Peer {
  const peer: Peer = {
    name,
    id: client.socket.id,
    lastSeq: undefined,
    emit: (event, data) => emitV2(client.socket, event, data),
    next: async (event, where = () => true) =>
      withoutSeq(peer, (await client.log.next((received) => received.event === event && where(received.args[0] as Record<string, unknown>))).args[0] as Record<string, unknown>),
    close: () => void client.socket.close(),
  };
  return peer;
}

function nativePeer(name: string, client: TestClient, id: string): Peer {
  const peer: Peer = {
    name,
    id,
    lastSeq: undefined,
    emit: (event, data) => client.sendMsgpack({ event, data }),
    next: async (event, where = () => true) => {
      // Native frames carry `seq` beside `event`.
      const frame = await client.next((candidate) => candidate.event === event && where(candidate.data as Record<string, unknown>));
      peer.lastSeq = typeof frame.seq === 'number' ? frame.seq : undefined;
      return frame.data as Record<string, unknown>;
    },
    close: () => client.close(),
  };
  return peer;
}

describe('one room, three stacks: socket.io 4.x, socket.io 2.x, native MessagePack', { timeout: 60_000 }, () => {
  let server: TestGateway;
  let token: string;
  let v4: V4Client;
  let v2: V2Client;
  let native: TestClient;
  let owner: Peer;
  let legacy: Peer;
  let packed: Peer;
  const room = 'three-stacks';

  beforeAll(async () => {
    server = await startTestGateway();
    token = await server.gateway.identity.issueAppToken('demo');
    // Each authenticates the way its kind of client would: CONNECT auth, x-auth, auth-request.
    v4 = await connectV4(server.port, { auth: { token } });
    await v4.log.next('auth-accept');
    v2 = await connectV2(server.port, { query: { 'x-auth': token } });
    await v2.log.next('auth-accept');
    native = await TestClient.open(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    const welcome = await native.next('welcome');
    native.sendMsgpack({ event: 'auth-request', data: token });
    await native.next('auth-accept');
    owner = v4Peer('socket.io 4.x', v4);
    legacy = v2Peer('socket.io 2.x', v2);
    packed = nativePeer('native msgpack', native, (welcome.data as { peer_id: string }).peer_id);
  });

  afterAll(async () => {
    for (const peer of [owner, legacy, packed]) peer?.close();
    await server?.close();
  });

  it('creates the room from 4.x, with the answer as event and ack', async () => {
    const ack = await v4.socket.timeout(10_000).emitWithAck('room-create-request', { room, payload: { name: 'owner' } });
    expect(ack).toEqual({ room, payload: { name: 'owner' } });
    expect(await owner.next('room-create-accept')).toEqual({ room, payload: { name: 'owner' } });
  });

  it('lets the 2.x peer in after the owner approves; its pending ack is answered by the approval', async () => {
    const joined = new Promise((resolve) => v2.socket.emit('room-join-request', { room, payload: { name: 'legacy' } }, resolve));
    expect(await owner.next('room-join-request')).toEqual({ room, peer_id: legacy.id, payload: { name: 'legacy' } });
    owner.emit('room-join-accept', { room, peer_id: legacy.id });
    const accept = { room, peer_id: legacy.id, peers: [owner.id], payload: null };
    expect(await legacy.next('room-join-accept')).toEqual(accept);
    expect(withoutSeq(legacy, (await joined) as Record<string, unknown>)).toEqual(accept);
    expect(await owner.next('room-user-join')).toEqual({ room, peer_id: legacy.id, payload: { name: 'legacy' } });
    // From the log: its position rides along (inside the data on Socket.IO), the same on both stacks.
    expect(owner.lastSeq).toEqual(expect.any(Number));
  });

  it('lets the native MessagePack peer in; the others hear of it', async () => {
    packed.emit('room-join-request', { room, payload: { name: 'packed' } });
    expect(await owner.next('room-join-request')).toEqual({ room, peer_id: packed.id, payload: { name: 'packed' } });
    // `to` is the Chat Signal alias of `peer_id`.
    owner.emit('room-join-accept', { room, to: packed.id, payload: { welcome: true } });
    const accept = await packed.next('room-join-accept');
    expect(accept).toMatchObject({ room, peer_id: packed.id, payload: { welcome: true } });
    expect(new Set(accept.peers as string[])).toEqual(new Set([owner.id, legacy.id]));
    for (const peer of [owner, legacy]) {
      expect(await peer.next('room-user-join', (data) => data.peer_id === packed.id)).toEqual({ room, peer_id: packed.id, payload: { name: 'packed' } });
      expect(peer.lastSeq, peer.name).toEqual(expect.any(Number));
    }
  });

  it('relays ICE candidates and session descriptions in every direction', async () => {
    const peers = [owner, legacy, packed];
    for (const from of peers) {
      for (const to of peers) {
        if (from === to) continue;
        const label = `${from.name} -> ${to.name}`;
        const candidate = { candidate: `candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host (${label})`, sdpMLineIndex: 0 };
        const description = { type: 'offer', sdp: `v=0\r\no=- ${label}\r\n` };
        from.emit('relay-ice-candidate', { room, to: to.id, ice_candidate: candidate });
        from.emit('relay-session-description', { room, to: to.id, session_description: description, payload: { label } });
        expect(await to.next('ice-candidate', (data) => data.peer_id === from.id), label).toMatchObject({ room, peer_id: from.id, ice_candidate: candidate });
        expect(await to.next('session-description', (data) => data.peer_id === from.id), label).toEqual({
          room,
          peer_id: from.id,
          session_description: description,
          payload: { label },
        });
      }
    }
  });

  it('relays binary from socket.io as binary: attachments to 2.x, MessagePack bin to native', async () => {
    const blob = Buffer.from([0, 1, 2, 253, 254, 255]);
    v4.socket.emit('relay-session-description', { room, to: legacy.id, session_description: { type: 'answer', sdp: 'v=0', blob } });
    v4.socket.emit('relay-session-description', { room, to: packed.id, session_description: { type: 'answer', sdp: 'v=0', blob } });
    const toLegacy = await legacy.next('session-description', (data) => data.peer_id === owner.id);
    expect([...((toLegacy.session_description as { blob: Uint8Array }).blob)]).toEqual([...blob]);
    const toPacked = await packed.next('session-description', (data) => data.peer_id === owner.id);
    expect([...((toPacked.session_description as { blob: Uint8Array }).blob)]).toEqual([...blob]);
  });

  it('relays MessagePack bin from the native peer as attachments to both socket.io peers', async () => {
    // Decoded MessagePack bin is a view into the frame's buffer: only its own bytes may go out.
    const blob = Uint8Array.from([9, 8, 7, 0, 255]);
    for (const target of [owner, legacy]) {
      packed.emit('relay-ice-candidate', { room, to: target.id, ice_candidate: { candidate: 'bin', blob } });
      const received = await target.next('ice-candidate', (data) => data.peer_id === packed.id && (data.ice_candidate as { candidate: string }).candidate === 'bin');
      expect([...((received.ice_candidate as { blob: Uint8Array }).blob)], target.name).toEqual([...blob]);
    }
  });

  it('tells the others when the 2.x peer disconnects', async () => {
    v2.socket.close();
    for (const peer of [owner, packed]) {
      expect(await peer.next('room-user-leave', (data) => data.peer_id === legacy.id)).toEqual({ room, peer_id: legacy.id });
    }
  });
});
