import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLogDirect, removeTempDataDirs, waitFor, type ChildGateway } from '../helpers/child-gateway.js';
import {
  FRAME_MS,
  appTokenOf,
  ask,
  clusterLogs,
  connectPeerTo,
  metricOf,
  nextFrame,
  replayOf,
  rpcTo,
  startClusterGateways,
  type ClusterGateways,
} from '../helpers/cluster-gateways.js';
import { skipWithoutNats } from '../helpers/nats-cluster.js';
import { INTERNAL_TOKEN, gatewayToken, gridOverrides, testCustomer } from '../helpers/odin.js';
import type { Peer } from '../helpers/rooms.js';
import { connectV4, type V4Client } from '../helpers/socketio.js';
import { SwitchyardClient } from '../../packages/client/src/index.js';
import { nextEvent, recordLifecycle } from '../../packages/client/test/events.js';
import { Network } from '../../packages/client/test/network.js';
import type { Frame } from '../helpers/ws-client.js';

/**
 * Three gateway nodes (child processes of the built dist/main.js) on three NATS servers with
 * JetStream and auth (PROTOCOL.md sections 5, 6 and 12): the Chat Signal flow with its
 * members on different nodes and in different codecs (native JSON, native MessagePack,
 * socket.io-client 4.x), the room API called on a node that holds none of the room's
 * sockets, and the operator's `events` and `replay` on every node's data dir. Run
 * `npm run build` first: the nodes are the built CLI. The faults (kill -9 of a node or of a
 * NATS server, an outage, bad credentials) are in cluster.faults.test.ts.
 */

const ice = (candidate: string) => ({ candidate, sdpMid: '0', sdpMLineIndex: 0 });
const sdp = (type: 'offer' | 'answer', marker: string) => ({ type, sdp: `v=0\r\no=- ${marker} 2 IN IP4 127.0.0.1\r\n` });

/** A Socket.IO push's data without its `seq` (Socket.IO carries it inside the data). */
function withoutSeq(data: unknown): Record<string, unknown> {
  const { seq: _seq, ...rest } = data as Record<string, unknown>;
  return rest;
}

/**
 * A `room-join-accept`'s data with `peers` sorted: the contract says `peers` are the members
 * before the joiner, not in which order (a node lists its own sockets' peers first).
 */
function withPeersSorted(data: unknown): Record<string, unknown> {
  const accepted = data as Record<string, unknown> & { peers: string[] };
  return { ...accepted, peers: [...accepted.peers].sort() };
}

/** `owner` (native) lets `joinerId` in; resolves with the owner's `result`. */
async function approve(owner: Peer, room: string, joinerId: string): Promise<Frame> {
  await nextFrame(owner, 'room-join-request', (data) => data.peer_id === joinerId);
  return ask(owner, 'room-join-accept', { room, peer_id: joinerId });
}

describe.skipIf(skipWithoutNats())('three gateway nodes on three NATS servers', { timeout: 120_000 }, () => {
  const acme = testCustomer('acme');
  let cluster: ClusterGateways;
  let a: ChildGateway;
  let b: ChildGateway;
  let c: ChildGateway;
  let token: string;
  const peers: Peer[] = [];
  let socketIo: V4Client | undefined;
  const sdks: SwitchyardClient[] = [];

  beforeAll(async () => {
    // Every node serves the same customers: a room API token verifies on any of them.
    cluster = await startClusterGateways({ config: gridOverrides([acme], { sfuReportIntervalSeconds: '3600' }) });
    [a, b, c] = cluster.nodes as [ChildGateway, ChildGateway, ChildGateway];
    // An app token from node A: signed with the cluster's shared keys, it verifies on B and C.
    token = await appTokenOf(a);
  }, 120_000);

  afterAll(async () => {
    for (const peer of peers) peer.client.close();
    socketIo?.socket.close();
    for (const sdk of sdks) await sdk.close();
    await cluster?.dispose();
    removeTempDataDirs();
  });

  it('takes a join request on one node for a room created on another a moment before (the node catches its log up)', async () => {
    const owner = await connectPeerTo(a, token);
    const joiner = await connectPeerTo(b, token);
    peers.push(owner, joiner);
    for (let round = 0; round < 20; round++) {
      const room = `race-${round}`;
      expect((await ask(owner, 'room-create-request', { room })).event).toBe('room-create-accept');
      // At once: B's copy of the log may not hold the RoomCreated yet.
      joiner.client.sendJson({ event: 'room-join-request', data: { room } });
      const request = await owner.client.next((frame) => frame.event === 'room-join-request' && (frame.data as { room: string }).room === room);
      expect((request.data as { peer_id: string }).peer_id).toBe(joiner.peerId);
    }
  });

  const peerOn = async (node: ChildGateway, codec: 'json' | 'msgpack' = 'json'): Promise<Peer> => {
    const peer = await connectPeerTo(node, token, codec);
    peers.push(peer);
    return peer;
  };

  it('runs the Chat Signal flow with the owner on A, a joiner on B and two members on C, relaying across nodes in JSON, MessagePack and Socket.IO', async () => {
    const room = 'acme-chat-signal';
    const owner = await peerOn(a);
    const joiner = await peerOn(b);

    expect(await ask(owner, 'room-create-request', { room })).toMatchObject({ event: 'room-create-accept', data: { room, payload: null } });
    joiner.client.sendJson({ event: 'room-join-request', data: { room, payload: { name: 'Bo' } }, id: 41 });
    expect((await nextFrame(owner, 'room-join-request')).data).toEqual({ room, peer_id: joiner.peerId, payload: { name: 'Bo' } });
    expect(await ask(owner, 'room-join-accept', { room, peer_id: joiner.peerId })).toMatchObject({
      event: 'result',
      data: { room, peer_id: joiner.peerId, approved: true },
    });
    // The joiner's answer carries its request's id, though the decision came from another node.
    expect(await joiner.client.next((frame) => frame.id === 41, FRAME_MS)).toMatchObject({
      event: 'room-join-accept',
      data: { room, peer_id: joiner.peerId, peers: [owner.peerId], payload: null },
    });
    expect((await nextFrame(owner, 'room-user-join')).data).toEqual({ room, peer_id: joiner.peerId, payload: { name: 'Bo' } });

    // A -> B and B -> A, ICE and SDP, with an id (answered `delivered`) and without.
    owner.client.sendJson({ event: 'relay-ice-candidate', data: { room, to: joiner.peerId, ice_candidate: ice('a-to-b') } });
    expect((await nextFrame(joiner, 'ice-candidate')).data).toEqual({ room, peer_id: owner.peerId, ice_candidate: ice('a-to-b') });
    expect(await ask(owner, 'relay-session-description', { room, to: joiner.peerId, session_description: sdp('offer', 'a'), payload: { n: 1 } })).toMatchObject({
      event: 'result',
      data: { delivered: true },
    });
    expect((await nextFrame(joiner, 'session-description')).data).toEqual({ room, peer_id: owner.peerId, session_description: sdp('offer', 'a'), payload: { n: 1 } });
    joiner.client.sendJson({ event: 'relay-session-description', data: { room, to: owner.peerId, session_description: sdp('answer', 'b') } });
    expect((await nextFrame(owner, 'session-description')).data).toEqual({ room, peer_id: joiner.peerId, session_description: sdp('answer', 'b') });
    expect(await ask(joiner, 'relay-ice-candidate', { room, to: owner.peerId, ice_candidate: ice('b-to-a') })).toMatchObject({ event: 'result', data: { delivered: true } });
    expect((await nextFrame(owner, 'ice-candidate')).data).toEqual({ room, peer_id: joiner.peerId, ice_candidate: ice('b-to-a') });

    // A third member on C, with socket.io-client 4.x (CONNECT auth carries the app token).
    socketIo = await connectV4(c.port, { auth: { token } });
    await socketIo.log.next('auth-accept', FRAME_MS);
    const sioId = socketIo.socket.id!;
    const sioJoined = socketIo.socket.timeout(FRAME_MS).emitWithAck('room-join-request', { room });
    expect(await approve(owner, room, sioId)).toMatchObject({ event: 'result', data: { approved: true } });
    expect(withPeersSorted(withoutSeq(await sioJoined))).toEqual({ room, peer_id: sioId, peers: [owner.peerId, joiner.peerId].sort(), payload: null });
    for (const member of [owner, joiner]) expect((await nextFrame(member, 'room-user-join', (data) => data.peer_id === sioId)).data).toEqual({ room, peer_id: sioId, payload: null });

    // Socket.IO on C <-> JSON on A and B: the ack is the `delivered` answer.
    expect(await socketIo.socket.timeout(FRAME_MS).emitWithAck('relay-ice-candidate', { room, to: owner.peerId, ice_candidate: ice('sio-to-a') })).toEqual({ delivered: true });
    expect((await nextFrame(owner, 'ice-candidate')).data).toEqual({ room, peer_id: sioId, ice_candidate: ice('sio-to-a') });
    joiner.client.sendJson({ event: 'relay-session-description', data: { room, to: sioId, session_description: sdp('offer', 'b-sio') } });
    expect((await socketIo.log.next('session-description', FRAME_MS)).args[0]).toEqual({ room, peer_id: joiner.peerId, session_description: sdp('offer', 'b-sio') });

    // A fourth, native MessagePack member, also on C: binary frames both ways across nodes.
    const packed = await peerOn(c, 'msgpack');
    packed.client.sendMsgpack({ event: 'room-join-request', data: { room }, id: 7 });
    await approve(owner, room, packed.peerId);
    const packedJoined = await packed.client.next((frame) => frame.id === 7, FRAME_MS);
    expect(packedJoined.event).toBe('room-join-accept');
    expect(withPeersSorted(packedJoined.data)).toMatchObject({ room, peers: [owner.peerId, joiner.peerId, sioId].sort() });
    packed.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: joiner.peerId, ice_candidate: ice('pack-to-b') }, id: 8 });
    expect(await packed.client.next((frame) => frame.id === 8, FRAME_MS)).toEqual({ event: 'result', data: { delivered: true }, id: 8 });
    expect((await nextFrame(joiner, 'ice-candidate', (data) => data.peer_id === packed.peerId)).data).toEqual({ room, peer_id: packed.peerId, ice_candidate: ice('pack-to-b') });
    owner.client.sendJson({ event: 'relay-session-description', data: { room, to: packed.peerId, session_description: sdp('offer', 'a-pack'), payload: { via: 'json' } } });
    expect((await nextFrame(packed, 'session-description')).data).toEqual({ room, peer_id: owner.peerId, session_description: sdp('offer', 'a-pack'), payload: { via: 'json' } });
    // Socket.IO and MessagePack on the same node C still relay to each other (no mesh hop).
    packed.client.sendMsgpack({ event: 'relay-ice-candidate', data: { room, to: sioId, ice_candidate: ice('pack-to-sio') } });
    expect((await socketIo.log.next('ice-candidate', FRAME_MS)).args[0]).toEqual({ room, peer_id: packed.peerId, ice_candidate: ice('pack-to-sio') });

    // A relay to a peer on another node that is not in the room is refused like a local one.
    const outsider = await peerOn(b);
    expect(await ask(owner, 'relay-ice-candidate', { room, to: outsider.peerId, ice_candidate: ice('nope') })).toMatchObject({ event: 'error', data: { code: 'FORBIDDEN' } });
  });

  /** A room `owner` on A created and `joiner` on B joined: neither has a socket on C. */
  const roomOnAAndB = async (room: string): Promise<{ owner: Peer; joiner: Peer }> => {
    const owner = await peerOn(a);
    const joiner = await peerOn(b);
    expect(await ask(owner, 'room-create-request', { room })).toMatchObject({ event: 'room-create-accept' });
    joiner.client.sendJson({ event: 'room-join-request', data: { room } });
    await approve(owner, room, joiner.peerId);
    await nextFrame(joiner, 'room-join-accept');
    return { owner, joiner };
  };
  /** A room API call on node C, with a token of the customer every node serves. */
  const roomApiOnC = async (room: string, method: string, params: Record<string, unknown>) => {
    // C's copy of the log may not hold the join made on A and B a moment ago: a room or member it
    // does not know yet is refused NOT_FOUND, having done nothing, so the call is made again.
    let answer = await rpcTo(c, `Bearer ${gatewayToken(acme, room)}`, method, params);
    for (let attempt = 0; attempt < 50 && JSON.stringify(answer.body).includes('NOT_FOUND'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      answer = await rpcTo(c, `Bearer ${gatewayToken(acme, room)}`, method, params);
    }
    expect(answer).toMatchObject({ status: 200, body: { result: {} } });
  };

  it('acts on RoomUpdate and RoomClose called on node C for the members on A and B', async () => {
    const room = 'acme-room-api';
    const { owner, joiner } = await roomOnAAndB(room);
    await roomApiOnC(room, 'RoomUpdate', { room_id: room, user_data: [1, 2, 3] });
    for (const member of [owner, joiner]) expect((await nextFrame(member, 'room-updated')).data).toEqual({ room, user_data: [1, 2, 3] });
    await roomApiOnC(room, 'RoomClose', { room_id: room });
    for (const member of [owner, joiner]) expect((await nextFrame(member, 'room-closed')).data).toMatchObject({ room });

    // The operator sees the three nodes on any node: `Info` lists them, `/metrics` counts them.
    const info = await rpcTo(c, `Bearer ${INTERNAL_TOKEN}`, 'Info', {}, '/internal');
    expect(info.status).toBe(200);
    const gateways = (info.body as { result: { gateways: { address: string; self: boolean }[] } }).result.gateways;
    // Where each node listens (the port it bound: the nodes start with --port 0), one of them this node.
    expect(gateways.map((gateway) => gateway.address).sort()).toEqual([a, b, c].map((node) => `127.0.0.1:${node.port}`).sort());
    expect(gateways.filter((gateway) => gateway.self).map((gateway) => gateway.address)).toEqual([`127.0.0.1:${c.port}`]);
    expect(await metricOf(a, 'switchyard_cluster_nodes')).toBe(3);
  });

  it('delivers RoomSendMessage called on node C to its one addressee on B', async () => {
    const room = 'acme-room-message';
    const { owner, joiner } = await roomOnAAndB(room);
    await roomApiOnC(room, 'RoomSendMessage', { room_id: room, user_id: joiner.peerId, message: [104, 105] });
    expect((await nextFrame(joiner, 'room-message')).data).toEqual({ room, message: [104, 105] });
    await roomApiOnC(room, 'RoomSendMessage', { room_id: room, user_id: owner.peerId, message: [111] });
    expect((await nextFrame(owner, 'room-message')).data).toEqual({ room, message: [111] });
    // Each message went to its addressee only.
    expect(joiner.client.frames.some((frame) => frame.event === 'room-message')).toBe(false);
  });

  it("resumes on C at once a client whose socket to B broke while B is alive: same peer, same room; B lets go of its copy", async () => {
    const owner = await peerOn(a);
    const neighbour = await peerOn(b);
    const room = 'moves-between-live-nodes';
    expect((await ask(owner, 'room-create-request', { room })).event).toBe('room-create-accept');
    neighbour.client.sendJson({ event: 'room-join-request', data: { room } });
    await approve(owner, room, neighbour.peerId);

    const network = new Network();
    let target: ChildGateway = b;
    const client = new SwitchyardClient({ url: () => target.wsUrl(), WebSocket: network.WebSocket, reconnect: { baseMs: 20, maxMs: 100 }, auth: { method: 'auth-request' } });
    sdks.push(client);
    const lifecycle = recordLifecycle(client);
    await client.connect();
    await client.request('auth-request', { token });
    const joined = client.request('room-join-request', { room }, { timeoutMs: FRAME_MS });
    await approve(owner, room, client.peerId!);
    await joined;
    const peer = client.peerId!;

    // The network drops the socket; the next attempt reaches C (a load balancer's choice).
    const resumed = nextEvent(client, 'resumed');
    network.cut();
    target = c;
    network.restore();
    expect(await resumed).toEqual({ missed: 0, peerId: peer });
    expect(lifecycle.some((event) => event.name === 'restarted')).toBe(false);

    // Relays reach it on C from A and from B (B forgot its copy and points the member at C), and
    // back. A node that has not yet read the move may forward one more to B, where it is dropped
    // (relays are not state): each is sent until one arrives.
    const candidateOf = (data: unknown) => (data as { ice_candidate?: { candidate?: string } }).ice_candidate?.candidate;
    for (const from of [owner, neighbour]) {
      let arrived = false;
      for (let attempt = 0; attempt < 40 && !arrived; attempt++) {
        const candidate = `to-${from.peerId}-${attempt}`;
        const received = nextEvent(client, 'ice-candidate', (data) => candidateOf(data) === candidate, 500).then(
          () => true,
          () => false,
        );
        from.client.sendJson({ event: 'relay-ice-candidate', data: { room, to: peer, ice_candidate: ice(candidate) } });
        arrived = await received;
      }
      expect(arrived, `a relay from ${from.peerId} arrived on C`).toBe(true);
    }
    const back = nextFrame(neighbour, 'ice-candidate', (data) => data.peer_id === peer);
    expect(await client.requestAny('relay-ice-candidate', { room, to: neighbour.peerId, ice_candidate: ice('back') })).toMatchObject({ data: { delivered: true } });
    await back;
    // Nobody heard it leave; in the log it moved to C and never closed.
    for (const member of [owner, neighbour]) expect(member.client.frames.filter((frame) => frame.event === 'room-user-leave' && (frame.data as { room: string }).room === room)).toEqual([]);
    const [log] = await clusterLogs([a]);
    const history = log!.filter((event) => event.streamId === `connection-${peer}`);
    expect(history.map((event) => event.type)).not.toContain('ConnectionClosed');
    expect(history.at(-1)).toMatchObject({ type: 'ConnectionResumed', data: { node: expect.any(String) } });
    expect(await metricOf(b, 'switchyard_detached_connections')).toBe(0);
    expect(await metricOf(c, 'switchyard_session_moves{kind="adopted"}')).toBe(1);
    expect(await metricOf(b, 'switchyard_session_moves{kind="moved_away"}')).toBe(1);
  });

  it('shows the whole cluster log, at the same positions, in `switchyard events` and `replay` on every node', async () => {
    // One room made on each node: each appends through its own node.
    const rooms = ['log-on-a', 'log-on-b', 'log-on-c'];
    const owners = await Promise.all([a, b, c].map((node) => peerOn(node)));
    for (const [index, owner] of owners.entries()) {
      expect(await ask(owner, 'room-create-request', { room: rooms[index] })).toMatchObject({ event: 'room-create-accept' });
    }
    for (const owner of owners) owner.client.close();
    // Every mirror has ingested every node's appends, up to one head.
    const dirs = [a, b, c].map((node) => node.dataDir);
    const created = (dir: string) => readLogDirect(dir).filter((event) => event.type === 'RoomCreated' && rooms.includes(String(event.data.room))).length;
    for (const dir of dirs) await waitFor(() => created(dir), (count) => count === rooms.length, 30_000, `every node's RoomCreated in ${dir}`);
    const logs = await clusterLogs([a, b, c]);
    // The same events at the same positions, whichever node's mirror is read.
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[2]).toEqual(logs[0]);
    for (const room of rooms) expect(logs[0]!.filter((event) => event.type === 'RoomCreated' && event.data.room === room)).toHaveLength(1);
    for (const node of [a, b, c]) expect(await replayOf(node)).toMatchObject({ equal: true });
  });
});
