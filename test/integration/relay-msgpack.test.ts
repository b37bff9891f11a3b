import type { Socket } from 'node:net';
import { ExtData, decode, encode } from '@msgpack/msgpack';
import type WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Relay } from '../../src/modules/rooms/relay.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { APP_PASSWORD, appToken, connectPeer, type Peer } from '../helpers/rooms.js';
import { connectV4, type V4Client } from '../helpers/socketio.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * The MessagePack relay fast path (src/modules/rooms/relay.ts `fromMsgpack`, over
 * src/protocol/msgpack-scan.ts): MessagePack relays are routed on their envelope and their
 * bodies forwarded as the sender's bytes to MessagePack peers; JSON and Socket.IO peers get
 * the body decoded once. Every refusal is the one the generic path gives the same frame: a
 * frame is sent to the generic path by adding an envelope member holding an extension value,
 * which the scanner leaves to the full decoder and the envelope then ignores.
 */

const MSGPACK = ['switchyard.v1.msgpack'];
const ICE = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'Kz3v' };
const SDP = { type: 'offer', sdp: `v=0\r\n${'a=candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host\r\n'.repeat(60)}` };

/** The same frame, made to take the generic path. */
const viaGenericPath = (frame: Record<string, unknown>) => ({ ...frame, generic: new ExtData(7, Uint8Array.of(1)) });

/** Every binary message a native client receives, as the bytes that came. */
function rawMessages(client: TestClient): Buffer[] {
  const messages: Buffer[] = [];
  client.socket.on('message', (data, isBinary) => {
    if (isBinary) messages.push(Buffer.from(data as Buffer));
  });
  return messages;
}

/** The last of `messages` that is a frame of `event`. */
const last = (messages: Buffer[], event: string) => messages.filter((message) => (decode(message) as Frame).event === event).at(-1);

/** The frame answering `id`, with its id taken out so two paths' answers compare. */
async function answerTo(peer: Peer, id: number): Promise<Omit<Frame, 'id'>> {
  const { id: _id, ...answer } = await peer.client.next((frame) => frame.id === id);
  return answer;
}

describe('the MessagePack relay (PROTOCOL.md section 5, MessagePack frames)', { timeout: 60_000 }, () => {
  let server: TestGateway;
  let token: string;
  let roomCounter = 0;
  const nextRoom = () => `pack-room-${++roomCounter}`;

  beforeAll(async () => {
    server = await startTestGateway({ appPassword: APP_PASSWORD, maxPayloadBytes: '64', relaySdpPerSecond: '1', rateLimitStrikes: '1000' });
    token = await appToken(server);
  });
  afterAll(async () => {
    await server.close();
  });

  /** `owner` creates a room and admits `joiners`, each in its own codec. */
  async function meet(owner: Peer, ...joiners: Peer[]): Promise<string> {
    const room = nextRoom();
    owner.client.sendMsgpack({ event: 'room-create-request', data: { room }, id: 1 });
    expect(await owner.client.next((frame) => frame.id === 1)).toMatchObject({ event: 'room-create-accept' });
    for (const joiner of joiners) {
      joiner.client.sendMsgpack({ event: 'room-join-request', data: { room } });
      await owner.client.next((frame) => frame.event === 'room-join-request' && (frame.data as { peer_id: string }).peer_id === joiner.peerId);
      owner.client.sendMsgpack({ event: 'room-join-accept', data: { room, peer_id: joiner.peerId } });
      await joiner.client.next('room-join-accept');
    }
    return room;
  }

  it('relays MessagePack to MessagePack with the body as the sender wrote it, answering an id with delivered', async () => {
    const [alice, bob] = await Promise.all([connectPeer(server, token, MSGPACK), connectPeer(server, token, MSGPACK)]);
    const room = await meet(alice, bob);
    const received = rawMessages(bob.client);
    // The body written unlike the encoder would (a str16 for a short string, a uint32 for 0,
    // a bin): forwarded, not re-encoded, these bytes arrive as they are.
    const body = Buffer.concat([Buffer.of(0x83), Buffer.from(encode('candidate')), Buffer.of(0xda, 0x00, 0x02), Buffer.from('c1'), Buffer.from(encode('sdpMLineIndex')), Buffer.of(0xce, 0, 0, 0, 0), Buffer.from(encode('blob')), Buffer.of(0xc4, 2, 9, 8)]);
    const frame = Buffer.concat([
      Buffer.of(0x83),
      Buffer.from(encode('event')),
      Buffer.from(encode('relay-ice-candidate')),
      Buffer.from(encode('data')),
      Buffer.of(0x83),
      Buffer.from(encode('room')),
      Buffer.from(encode(room)),
      Buffer.from(encode('to')),
      Buffer.from(encode(bob.peerId)),
      Buffer.from(encode('ice_candidate')),
      body,
      Buffer.from(encode('id')),
      Buffer.of(0x07),
    ]);
    alice.client.sendRaw(frame, true);
    expect(await alice.client.next((answer) => answer.id === 7)).toEqual({ event: 'result', data: { delivered: true }, id: 7 });
    const relayed = await bob.client.next('ice-candidate');
    expect(relayed.data).toEqual({ room, peer_id: alice.peerId, ice_candidate: { candidate: 'c1', sdpMLineIndex: 0, blob: Buffer.of(9, 8) } });
    const bytes = received.find((message) => message.includes(body))!;
    expect(bytes).toBeDefined();
    expect(decode(bytes)).toEqual(relayed);

    // Without an id: no answer (the pong to a later ping is the first frame after it).
    alice.client.sendMsgpack({ event: 'relay-session-description', data: { room, to: bob.peerId, session_description: SDP, payload: { n: 1 } } });
    expect((await bob.client.next('session-description')).data).toEqual({ room, peer_id: alice.peerId, session_description: SDP, payload: { n: 1 } });
    alice.client.sendMsgpack({ event: 'ping', id: 8 });
    await alice.client.next((answer) => answer.id === 8);
    expect(alice.client.frames.filter((answer) => answer.event === 'result' || answer.event === 'error')).toEqual([]);
    // The splice writes what the generic path's encoder would for a canonically encoded frame.
    alice.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: bob.peerId, ice_candidate: ICE, payload: null } });
    await bob.client.next('ice-candidate');
    expect(last(received, 'ice-candidate')).toEqual(Buffer.from(encode({ event: 'ice-candidate', data: { room, peer_id: alice.peerId, ice_candidate: ICE, payload: null } })));
    alice.client.close();
    bob.client.close();
  });

  it('keeps every spliced frame intact and in order when many go out in one turn, in both codecs', async () => {
    const [sender, packed, text] = await Promise.all([connectPeer(server, token, MSGPACK), connectPeer(server, token, MSGPACK), connectPeer(server, token)]);
    const room = await meet(sender, packed, text);
    const count = 60;
    // Bursts of frames that arrive in one read: their relays share a turn, and a slab, per burst.
    for (let burst = 0; burst < 3; burst++) {
      for (let index = burst * 20; index < (burst + 1) * 20; index++) {
        for (const target of [packed, text]) {
          sender.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: target.peerId, ice_candidate: { ...ICE, index, padding: 'p'.repeat(index * 37) } } });
        }
      }
      await new Promise<void>((resolve) => sender.client.socket.send(encode({ event: 'ping' }), () => resolve()));
    }
    for (const target of [packed, text]) {
      const got: unknown[] = [];
      for (let index = 0; index < count; index++) got.push((await target.client.next('ice-candidate')).data);
      expect(got).toEqual(Array.from({ length: count }, (_, index) => ({ room, peer_id: sender.peerId, ice_candidate: { ...ICE, index, padding: 'p'.repeat(index * 37) } })));
    }
    for (const peer of [sender, packed, text]) peer.client.close();
  });

  it('relays MessagePack to JSON and JSON to MessagePack, converting only the envelope', async () => {
    const [packed, text] = await Promise.all([connectPeer(server, token, MSGPACK), connectPeer(server, token)]);
    const room = await meet(packed, text);
    const received = rawMessages(packed.client);
    packed.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: text.peerId, ice_candidate: { ...ICE, blob: Uint8Array.of(1, 2) } }, id: 3 });
    expect(await packed.client.next((answer) => answer.id === 3)).toMatchObject({ event: 'result', data: { delivered: true } });
    // Bytes reach a JSON client as arrays of numbers (PROTOCOL.md section 2).
    expect((await text.client.next('ice-candidate')).data).toEqual({ room, peer_id: packed.peerId, ice_candidate: { ...ICE, blob: [1, 2] } });
    packed.client.sendMsgpack({ event: 'relay-session-description', data: { room, to: text.peerId, session_description: SDP, payload: ['é', 2] } });
    expect((await text.client.next('session-description')).data).toEqual({ room, peer_id: packed.peerId, session_description: SDP, payload: ['é', 2] });

    text.client.sendJson({ event: 'relay-session-description', data: { room, to: packed.peerId, session_description: SDP, payload: { n: 1 } }, id: 4 });
    expect(await text.client.next((answer) => answer.id === 4)).toMatchObject({ event: 'result', data: { delivered: true } });
    const relayed = await packed.client.next('session-description');
    expect(relayed.data).toEqual({ room, peer_id: text.peerId, session_description: SDP, payload: { n: 1 } });
    // The same bytes as the generic path's encoding of the whole frame.
    expect(last(received, 'session-description')).toEqual(Buffer.from(encode({ event: 'session-description', data: { room, peer_id: text.peerId, session_description: SDP, payload: { n: 1 } } })));
    packed.client.close();
    text.client.close();
  });

  it('relays between MessagePack and socket.io 4.x, both ways', async () => {
    const packed = await connectPeer(server, token, MSGPACK);
    const sio: V4Client = await connectV4(server.port, { auth: { token } });
    await sio.log.next('auth-accept');
    const room = nextRoom();
    packed.client.sendMsgpack({ event: 'room-create-request', data: { room }, id: 1 });
    await packed.client.next((frame) => frame.id === 1);
    sio.socket.emit('room-join-request', { room });
    await packed.client.next('room-join-request');
    packed.client.sendMsgpack({ event: 'room-join-accept', data: { room, peer_id: sio.socket.id } });
    await sio.log.next('room-join-accept');

    packed.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: sio.socket.id, ice_candidate: { ...ICE, blob: Uint8Array.of(5) } }, id: 2 });
    expect(await packed.client.next((answer) => answer.id === 2)).toMatchObject({ event: 'result', data: { delivered: true } });
    const ice = (await sio.log.next('ice-candidate')).args[0] as Record<string, unknown>;
    expect(ice).toMatchObject({ room, peer_id: packed.peerId, ice_candidate: { ...ICE } });
    // MessagePack bin reaches socket.io as a binary attachment.
    expect(Buffer.from((ice.ice_candidate as { blob: Uint8Array }).blob)).toEqual(Buffer.of(5));

    const ack = await sio.socket.timeout(10_000).emitWithAck('relay-session-description', { room, to: packed.peerId, session_description: SDP });
    expect(ack).toEqual({ delivered: true });
    expect((await packed.client.next('session-description')).data).toEqual({ room, peer_id: sio.socket.id, session_description: SDP });
    packed.client.close();
    sio.socket.close();
  });

  it('refuses what the generic path refuses, with the same answer, and the process goes on', async () => {
    const [alice, bob, outsider] = await Promise.all([connectPeer(server, token, MSGPACK), connectPeer(server, token, MSGPACK), connectPeer(server, token, MSGPACK)]);
    const room = await meet(alice, bob);
    let id = 100;
    // Which frames the fast path took (true) and which it left to the generic path (false).
    const fastPath = vi.spyOn(Relay.prototype, 'fromMsgpack');
    const tookFastPath = () => fastPath.mock.results.slice(-2).map((result) => result.value as boolean);
    /** Sends `frame` on the fast path and through the generic path; both answers, ids taken out. */
    const bothPaths = async (peer: Peer, frame: Record<string, unknown>) => {
      const fast = ++id;
      const generic = ++id;
      peer.client.sendMsgpack({ ...frame, id: fast });
      peer.client.sendMsgpack(viaGenericPath({ ...frame, id: generic }));
      return [await answerTo(peer, fast), await answerTo(peer, generic)];
    };
    const relay = (data: Record<string, unknown>) => ({ event: 'relay-ice-candidate', data: { room, to: bob.peerId, ice_candidate: ICE, ...data } });

    // An oversized payload (maxPayloadBytes = 64, measured as JSON).
    const [tooLarge, tooLargeGeneric] = await bothPaths(alice, relay({ payload: { blob: 'x'.repeat(100) } }));
    expect(tooLarge).toMatchObject({ event: 'error', data: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(tooLarge).toEqual(tooLargeGeneric);
    expect(tookFastPath()).toEqual([true, false]);
    // A relay from outside the room, and one to outside it.
    const [notMember, notMemberGeneric] = await bothPaths(outsider, relay({}));
    expect(notMember).toMatchObject({ event: 'error', data: { code: 'FORBIDDEN' } });
    expect(notMember).toEqual(notMemberGeneric);
    expect(tookFastPath()).toEqual([true, false]);
    const [toOutsider, toOutsiderGeneric] = await bothPaths(alice, relay({ to: outsider.peerId }));
    expect(toOutsider).toEqual(notMember);
    expect(toOutsiderGeneric).toEqual(notMember);
    // `room` not a string; `data` nested deeper than maxFrameDepth (32): the scanner leaves
    // both to the generic path, which answers them.
    const [badRoom, badRoomGeneric] = await bothPaths(alice, relay({ room: 7 }));
    expect(badRoom).toMatchObject({ event: 'error', data: { code: 'BAD_REQUEST' } });
    expect(badRoom).toEqual(badRoomGeneric);
    expect(tookFastPath()).toEqual([false, false]);
    let nested: unknown = 'leaf';
    for (let level = 0; level < 40; level++) nested = [nested];
    const [tooDeep, tooDeepGeneric] = await bothPaths(alice, relay({ ice_candidate: nested }));
    expect(tooDeep).toMatchObject({ event: 'error', data: { code: 'BAD_REQUEST', message: expect.stringContaining('deeper') } });
    expect(tooDeep).toEqual(tooDeepGeneric);
    expect(tookFastPath()).toEqual([false, false]);
    // A truncated frame: not MessagePack at all (no id to answer with).
    const whole = Buffer.from(encode({ ...relay({}), id: 99 }));
    alice.client.sendRaw(whole.subarray(0, whole.length - 3), true);
    expect(await alice.client.next('error')).toEqual({ event: 'error', data: { code: 'BAD_REQUEST', message: 'binary frame is not valid MessagePack' } });
    // Without a session: the `unauthorized` push, then the refusal, on both paths.
    const anonymous = await TestClient.connect(server.wsUrl(), { protocols: MSGPACK });
    const anonymousPeer: Peer = { client: anonymous, peerId: '', sessionToken: '' };
    const [unauthorized, unauthorizedGeneric] = await bothPaths(anonymousPeer, relay({}));
    expect(unauthorized).toMatchObject({ event: 'error', data: { code: 'UNAUTHORIZED' } });
    expect(unauthorized).toEqual(unauthorizedGeneric);
    expect(tookFastPath()).toEqual([true, false]);
    expect(anonymous.frames.filter((frame) => frame.event === 'unauthorized')).toHaveLength(2);

    // Over the SDP budget (1 a second, a burst of 2): fast and generic paths share it.
    const sdp = { event: 'relay-session-description', data: { room, to: bob.peerId, session_description: SDP } };
    for (let index = 0; index < 2; index++) alice.client.sendMsgpack(sdp);
    const [limited, limitedGeneric] = await bothPaths(alice, sdp);
    expect(limited).toMatchObject({ event: 'error', data: { code: 'RATE_LIMITED' } });
    expect(limited).toEqual(limitedGeneric);
    expect(tookFastPath()).toEqual([true, false]);
    fastPath.mockRestore();

    // Nobody was dropped, and relays still go through.
    alice.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: bob.peerId, ice_candidate: { after: true } }, id: 1 });
    expect(await alice.client.next((answer) => answer.id === 1)).toMatchObject({ event: 'result', data: { delivered: true } });
    await bob.client.next((frame) => frame.event === 'ice-candidate' && (frame.data as { ice_candidate: { after?: boolean } }).ice_candidate.after === true);
    expect((await fetch(server.url('/healthz'))).status).toBe(200);
    for (const client of [alice.client, bob.client, outsider.client, anonymous]) {
      expect(client.closed).toBeUndefined();
      client.close();
    }
  });

  it('closes a relay target that stops reading with 4008 (relays wait for the end of the turn, counted as buffered)', async () => {
    const slowServer = await startTestGateway({ appPassword: APP_PASSWORD, maxBackpressureBytes: '16384', relaySdpPerSecond: '1000000' });
    try {
      const slowToken = await appToken(slowServer);
      const [sender, reader] = await Promise.all([connectPeer(slowServer, slowToken, MSGPACK), connectPeer(slowServer, slowToken, MSGPACK)]);
      const room = nextRoom();
      sender.client.sendMsgpack({ event: 'room-create-request', data: { room }, id: 1 });
      await sender.client.next((frame) => frame.id === 1);
      reader.client.sendMsgpack({ event: 'room-join-request', data: { room } });
      await sender.client.next('room-join-request');
      sender.client.sendMsgpack({ event: 'room-join-accept', data: { room, peer_id: reader.peerId } });
      await reader.client.next('room-join-accept');
      // The reader stops reading at the TCP level: relays pile up in the kernel, then in the gateway.
      const tcp = (reader.client.socket as WebSocket & { _socket: Socket })._socket;
      tcp.pause();
      // Signed in, so kept for a resume (PROTOCOL.md section 11): the log says it was detached, with 4008.
      const endedInLog = () => slowServer.gateway.store.readStream(`connection-${reader.peerId}`).find((event) => event.type === 'ConnectionDetached');
      const relay = encode({ event: 'relay-session-description', data: { room, to: reader.peerId, session_description: SDP } });
      while (!endedInLog()) {
        for (let index = 0; index < 50; index++) sender.client.sendRaw(Buffer.from(relay), true);
        // Paced by the gateway's reading: wait until these writes have left.
        await new Promise<void>((resolve) => sender.client.socket.send(encode({ event: 'ping' }), () => resolve()));
      }
      expect(endedInLog()?.data).toMatchObject({ code: 4008 });
      expect(await sender.client.request('ping', undefined, 77)).toMatchObject({ event: 'pong', id: 77 });
      // Reading again, it finds the close frame behind the relays that were queued.
      tcp.resume();
      expect((await reader.client.waitClosed(15_000)).code).toBe(4008);
      expect(reader.client.frames.filter((frame) => frame.event === 'session-description').length).toBeGreaterThan(0);
      sender.client.close();
    } finally {
      await slowServer.close();
    }
  });
});
