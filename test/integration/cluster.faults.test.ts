import { jetstreamManager } from '@nats-io/jetstream';
import { AuthorizationError, connect } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchyardClient } from '../../packages/client/src/index.js';
import { nextEvent, recordLifecycle } from '../../packages/client/test/events.js';
import { removeTempDataDirs, runCli, tempDataDir, waitFor, type ChildGateway } from '../helpers/child-gateway.js';
import {
  FRAME_MS,
  appTokenOf,
  ask,
  clusterLogs,
  connectPeerTo,
  envOf,
  metricOf,
  nextFrame,
  replayOf,
  startClusterGateways,
  type ClusterGateways,
  type NodeAddress,
} from '../helpers/cluster-gateways.js';
import { skipWithoutNats } from '../helpers/nats-cluster.js';
import { eventually } from '../helpers/odin.js';
import type { Peer } from '../helpers/rooms.js';

/**
 * The cluster's faults (PROTOCOL.md section 12) with three gateway nodes (the built
 * dist/main.js as child processes) on three NATS servers: kill -9 of a gateway node under
 * relay load, kill -9 of a NATS server under append load, an outage of every NATS server,
 * and clients without the cluster credentials. The happy paths are in cluster.test.ts.
 * Every wait is on a frame, a client event or a condition; the bounds are hang guards for
 * a loaded 2-core machine, not timing claims.
 */

/** `switchyard replay` on a node: the read models rebuilt from its log equal the live ones, table by table. */
async function expectReplayEqualsLive(node: ChildGateway): Promise<void> {
  const report = await replayOf(node);
  expect(report.tables.filter((table) => table.differences > 0)).toEqual([]);
  expect(report.equal).toBe(true);
}

async function readyStatus(node: NodeAddress): Promise<number> {
  return (await fetch(node.url('/readyz'))).status;
}

/**
 * Relays in rounds between two members on different nodes, for as long as it runs: each round
 * sends `perRound` ICE candidates each way (numbered) and waits until every one has arrived,
 * so a relay lost or refused stops the pump with the round that lost it.
 */
class RelayPump {
  rounds = 0;
  relayed = 0;
  /** Why the pump stopped early: a relay that never arrived. */
  failure: unknown;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly room: string,
    private readonly left: Peer,
    private readonly right: Peer,
    private readonly perRound = 10,
  ) {
    this.done = this.run().catch((error: unknown) => {
      this.failure = error;
    });
  }

  /** Resolves once `rounds` rounds were complete; throws what stopped the pump before that. */
  async reach(rounds: number, what: string): Promise<void> {
    await waitFor(() => this.rounds >= rounds || this.failure !== undefined, Boolean, 60_000, what);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stops after the round in flight; throws what stopped the pump, if anything did. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    if (this.failure !== undefined) throw this.failure;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const round = this.rounds + 1;
      for (let index = 0; index < this.perRound; index++) {
        for (const [from, to] of [[this.left, this.right], [this.right, this.left]] as const) {
          from.client.sendJson({ event: 'relay-ice-candidate', data: { room: this.room, to: to.peerId, ice_candidate: { candidate: `${from.peerId}-${round}-${index}` } } });
        }
      }
      for (let index = 0; index < this.perRound; index++) {
        for (const [from, to] of [[this.left, this.right], [this.right, this.left]] as const) {
          const candidate = `${from.peerId}-${round}-${index}`;
          await to.client.next((frame) => frame.event === 'ice-candidate' && (frame.data as { ice_candidate: { candidate: string } }).ice_candidate.candidate === candidate, FRAME_MS);
          this.relayed += 1;
        }
      }
      this.rounds = round;
    }
  }
}

describe.skipIf(skipWithoutNats())('a gateway node killed (kill -9) under relay load', { timeout: 180_000 }, () => {
  let cluster: ClusterGateways;
  const peers: Peer[] = [];
  let sdk: SwitchyardClient | undefined;
  let pinned: SwitchyardClient | undefined;
  let handedOver: SwitchyardClient | undefined;

  beforeAll(async () => {
    // Losses are noticed quickly: a node silent for 1.5 s is lost. The relay load is as fast as
    // the round trips allow, past the default per-connection ICE budget.
    cluster = await startClusterGateways({ config: { clusterHeartbeatMs: '300', clusterNodeLostAfterMs: '1500', relayIcePerSecond: '1000000' } });
  }, 120_000);

  afterAll(async () => {
    for (const peer of peers) peer.client.close();
    await sdk?.close();
    await pinned?.close();
    await handedOver?.close();
    await cluster?.dispose();
    removeTempDataDirs();
  });

  it("keeps the room and every A<->C relay while B dies; B's client resumes on C as the same peer; a pinned one restarts; B rejoins and catches up", async () => {
    const [a, , c] = cluster.nodes as [ChildGateway, ChildGateway, ChildGateway];
    const room = 'survives-node-loss';
    const token = await appTokenOf(a);
    const owner = await connectPeerTo(a, token);
    const member = await connectPeerTo(c, token);
    peers.push(owner, member);
    expect(await ask(owner, 'room-create-request', { room })).toMatchObject({ event: 'room-create-accept' });
    member.client.sendJson({ event: 'room-join-request', data: { room } });
    await nextFrame(owner, 'room-join-request', (data) => data.peer_id === member.peerId);
    await ask(owner, 'room-join-accept', { room, peer_id: member.peerId });
    await nextFrame(member, 'room-join-accept');

    // B's member is an SDK client; asked before every attempt where to connect.
    let target: ChildGateway = cluster.node(1);
    sdk = new SwitchyardClient({ url: () => target.wsUrl(), WebSocket, reconnect: { baseMs: 50, maxMs: 500 }, auth: { method: 'auth-request' } });
    const lifecycle = recordLifecycle(sdk);
    await sdk.connect();
    const sessionToken = ((await sdk.request('auth-request', { token })).data as { token: string }).token;
    const asked = nextFrame(owner, 'room-join-request');
    const joined = sdk.request('room-join-request', { room }, { timeoutMs: FRAME_MS });
    const sdkPeer = ((await asked).data as { peer_id: string }).peer_id;
    expect(sdkPeer).toBe(sdk.peerId);
    await ask(owner, 'room-join-accept', { room, peer_id: sdkPeer });
    expect(await joined).toMatchObject({ event: 'room-join-accept', data: { room, peers: [owner.peerId, member.peerId] } });
    await Promise.all([nextFrame(owner, 'room-user-join', (data) => data.peer_id === sdkPeer), nextFrame(member, 'room-user-join', (data) => data.peer_id === sdkPeer)]);

    // A second SDK client on B asked for an event's audience: state only B's memory held, so
    // it is pinned to B and cannot be resumed elsewhere.
    pinned = new SwitchyardClient({ url: () => target.wsUrl(), WebSocket, reconnect: { baseMs: 50, maxMs: 500 }, auth: { method: 'auth-request' } });
    await pinned.connect();
    await pinned.request('auth-request', { token });
    const pinnedPeer = pinned.peerId;
    await pinned.requestAny('consumer_event_get', { id: 'no-such-event' }).catch(() => undefined);

    const pump = new RelayPump(room, owner, member);
    await pump.reach(3, 'relays flowing between A and C');

    const cut = nextEvent(sdk, 'closed');
    const resumed = nextEvent(sdk, 'resumed');
    const reopened = nextEvent(sdk, 'open');
    const pinnedRestarted = nextEvent(pinned, 'restarted');
    await cluster.kill9(1);
    // Behind a load balancer the client's next attempt lands on a live node: C.
    target = c;
    expect(await cut).toMatchObject({ code: 1006, willReconnect: true });

    // C adopts the connection at once, before B is even known lost: same peer_id, still in its
    // room, nothing missed.
    expect(await resumed).toEqual({ missed: 0, peerId: sdkPeer });
    expect(await reopened).toMatchObject({ resumed: true });
    expect(sdk.peerId).toBe(sdkPeer);
    expect(lifecycle.some((event) => event.name === 'restarted' || event.name === 'auth-failed')).toBe(false);
    const roundsAtResume = pump.rounds;
    await pump.reach(roundsAtResume + 3, 'relays flowing after the loss');

    // Relays reach it on C from the owner on A, and from it to the owner.
    const relayed = nextEvent(sdk, 'ice-candidate');
    expect(await ask(owner, 'relay-ice-candidate', { room, to: sdkPeer, ice_candidate: { candidate: 'to-the-adopted' } })).toMatchObject({ event: 'result', data: { delivered: true } });
    expect(await relayed).toMatchObject({ room, peer_id: owner.peerId, ice_candidate: { candidate: 'to-the-adopted' } });
    const back = nextFrame(owner, 'ice-candidate', (data) => data.peer_id === sdkPeer);
    expect(await sdk.requestAny('relay-ice-candidate', { room, to: owner.peerId, ice_candidate: { candidate: 'from-the-adopted' } })).toMatchObject({ data: { delivered: true } });
    expect((await back).data).toMatchObject({ ice_candidate: { candidate: 'from-the-adopted' } });
    // The Chat Signal `auth` field with the session token B issued still verifies on C (its digest is in the log); another does not.
    expect(await sdk.request('room-create-request', { room: 'after-failover', auth: sessionToken })).toMatchObject({ event: 'room-create-accept' });
    await expect(sdk.request('room-create-request', { room: 'forged-auth', auth: `${sessionToken}x` })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });

    // The pinned client could not be resumed on C: it restarts there, signed in again by the SDK.
    expect(await pinnedRestarted).toEqual({ reason: 'restarted', rooms: [] });
    expect(pinned.peerId).not.toBe(pinnedPeer);

    await pump.stop();
    // Not one relay between A and C lost: each round waited for all of its relays, both ways.
    expect(pump.rounds).toBeGreaterThan(roundsAtResume);
    expect(pump.relayed).toBe(pump.rounds * 20);
    // Nobody heard the adopted peer leave: it never did.
    for (const peer of [owner, member]) {
      expect(peer.client.frames.filter((frame) => frame.event === 'error' || frame.event === 'room-closed')).toEqual([]);
      expect(peer.client.frames.filter((frame) => frame.event === 'room-user-leave')).toEqual([]);
    }

    // B again, on its data dir: it rejoins the cluster (every node lists it again) and its mirror catches up with the log.
    const b = await cluster.restart(1);
    const logs = await clusterLogs(cluster.nodes);
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[2]).toEqual(logs[0]);
    // The log tells it: C adopted the SDK's connection from B.
    expect(logs[0]!.filter((event) => event.type === 'ConnectionResumed' && event.streamId.endsWith(sdkPeer))).toMatchObject([{ data: { since: expect.any(Number), node: expect.any(String) } }]);
    // Starting, B closed only what died with its former self: A's and C's members, and the adopted one, are untouched.
    const survivors = [owner.peerId, member.peerId, sdkPeer];
    const endedSurvivors = logs[0]!.filter(
      (event) => (event.type === 'ConnectionClosed' || event.type === 'MemberLeft') && survivors.some((peer) => event.streamId.endsWith(peer) || event.data.peerId === peer),
    );
    expect(endedSurvivors).toEqual([]);
    expect(await ask(owner, 'relay-ice-candidate', { room, to: member.peerId, ice_candidate: { candidate: 'after-restart' } })).toMatchObject({ event: 'result', data: { delivered: true } });
    for (const node of [a, b, c]) await expectReplayEqualsLive(node);
  });

  it("hands B's sessions over at a clean stop (SIGTERM): its client resumes on A as the same peer, still in its room", async () => {
    const [a, b, c] = cluster.nodes as [ChildGateway, ChildGateway, ChildGateway];
    const room = 'survives-clean-stop';
    const token = await appTokenOf(a);
    const owner = await connectPeerTo(a, token);
    peers.push(owner);
    expect(await ask(owner, 'room-create-request', { room })).toMatchObject({ event: 'room-create-accept' });

    let target: ChildGateway = b;
    handedOver = new SwitchyardClient({ url: () => target.wsUrl(), WebSocket, reconnect: { baseMs: 50, maxMs: 500 }, auth: { method: 'auth-request' } });
    const lifecycle = recordLifecycle(handedOver);
    await handedOver.connect();
    await handedOver.request('auth-request', { token });
    const asked = nextFrame(owner, 'room-join-request');
    const joined = handedOver.request('room-join-request', { room }, { timeoutMs: FRAME_MS });
    const peer = ((await asked).data as { peer_id: string }).peer_id;
    await ask(owner, 'room-join-accept', { room, peer_id: peer });
    await joined;
    await nextFrame(owner, 'room-user-join', (data) => data.peer_id === peer);

    const resumed = nextEvent(handedOver, 'resumed');
    // A load balancer stops sending new sockets to a node that is draining.
    target = a;
    const exited = new Promise((resolve) => b.child.once('exit', resolve));
    b.child.kill('SIGTERM');
    await exited;
    expect(await resumed).toEqual({ missed: 0, peerId: peer });
    expect(handedOver.peerId).toBe(peer);
    expect(lifecycle.some((event) => event.name === 'restarted')).toBe(false);
    const relayed = nextEvent(handedOver, 'ice-candidate');
    expect(await ask(owner, 'relay-ice-candidate', { room, to: peer, ice_candidate: { candidate: 'after-the-stop' } })).toMatchObject({ data: { delivered: true } });
    expect(await relayed).toMatchObject({ peer_id: owner.peerId });
    expect(owner.client.frames.filter((frame) => frame.event === 'room-user-leave')).toEqual([]);

    // B kept the session detached in the log as it stopped; A adopted it from there.
    const [log] = await clusterLogs([a]);
    expect(log!.filter((event) => event.streamId.endsWith(peer) && event.streamId.startsWith('connection-')).map((event) => event.type)).toEqual(['ConnectionOpened', 'ConnectionDetached', 'ConnectionResumed']);
    for (const node of [a, c]) await expectReplayEqualsLive(node);
  });
});

/** A room's owner on one node and a joiner on another, creating and joining rooms in a loop. */
class AppendLoad {
  readonly acknowledged: string[] = [];
  /** Creates answered with a refusal: allowed while the log fails over, but only as UNAVAILABLE. */
  readonly refused: { room: string; event: string; code: unknown }[] = [];
  attempts = 0;
  /** What stopped the loop early: an answer that never came. */
  failure: unknown;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly name: string,
    private readonly owner: Peer,
    private readonly joiner: Peer,
  ) {
    this.done = this.run().catch((error: unknown) => {
      this.failure = error;
    });
  }

  /** Stops after the room in flight; throws what stopped the loop, if anything did. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    if (this.failure !== undefined) throw this.failure;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const room = `${this.name}-${this.attempts++}`;
      const created = await ask(this.owner, 'room-create-request', { room });
      if (created.event !== 'room-create-accept') {
        this.refused.push({ room, event: created.event, code: (created.data as { code?: unknown } | undefined)?.code });
        continue;
      }
      this.acknowledged.push(room);
      await this.join(room);
    }
  }

  /** The join and its approval; either may be refused (UNAVAILABLE) while the log fails over. */
  private async join(room: string): Promise<void> {
    const answer = ask(this.joiner, 'room-join-request', { room });
    const asked = this.owner.client.next((frame) => frame.event === 'room-join-request' && (frame.data as { room: string }).room === room, FRAME_MS);
    // Whichever comes first; the other is left to settle on its own.
    asked.catch(() => undefined);
    answer.catch(() => undefined);
    const first = await Promise.race([answer.then(() => 'answered' as const), asked.then(() => 'asked' as const)]);
    if (first === 'answered') return;
    const approved = await ask(this.owner, 'room-join-accept', { room, peer_id: this.joiner.peerId });
    if (approved.event === 'result') await answer;
  }
}

describe.skipIf(skipWithoutNats())('NATS servers killed (kill -9) under load', { timeout: 180_000 }, () => {
  let cluster: ClusterGateways;
  const peers: Peer[] = [];
  let token: string;

  beforeAll(async () => {
    cluster = await startClusterGateways({ config: { clusterPublishTimeoutMs: '4000' } });
    token = await appTokenOf(cluster.node(0));
  }, 120_000);

  afterAll(async () => {
    for (const peer of peers) peer.client.close();
    await cluster?.dispose();
    removeTempDataDirs();
  });

  const peerOn = async (node: ChildGateway): Promise<Peer> => {
    const peer = await connectPeerTo(node, token);
    peers.push(peer);
    return peer;
  };

  /** The NATS server leading the log's JetStream stream: the one whose loss a failover must survive. */
  const logLeader = async (): Promise<number> => {
    const connection = await connect({ servers: cluster.nats.urls, user: cluster.nats.user, pass: cluster.nats.password });
    try {
      const info = await (await jetstreamManager(connection)).streams.info('SWITCHYARD_LOG');
      const index = cluster.nats.servers.findIndex((server) => server.name === info.cluster?.leader);
      if (index === -1) throw new Error(`no leader for the log stream: ${JSON.stringify(info.cluster)}`);
      return index;
    } finally {
      await connection.close();
    }
  };

  it("loses no acknowledged room-create when the log's leader NATS server is killed mid-load", async () => {
    const nodes = cluster.nodes;
    const loads: AppendLoad[] = [];
    for (const [index, node] of nodes.entries()) {
      loads.push(new AppendLoad(`load-${index}`, await peerOn(node), await peerOn(nodes[(index + 1) % nodes.length]!)));
    }
    /** Until every node's loop had `more` rooms acknowledged from now on; throws what stopped a loop before that. */
    const eachAcknowledges = async (more: number, what: string) => {
      const from = loads.map((load) => load.acknowledged.length);
      const failed = () => loads.find((load) => load.failure !== undefined);
      await waitFor(() => failed() ?? loads.every((load, index) => load.acknowledged.length >= from[index]! + more), Boolean, 90_000, what);
      if (failed()) throw failed()!.failure;
    };
    await eachAcknowledges(5, 'appends on every node before the kill');

    const leader = await logLeader();
    await cluster.nats.kill(leader);
    // Writes go on on every node with two of three servers (after JetStream elected a new leader).
    await eachAcknowledges(5, 'appends on every node after the leader died');
    await cluster.nats.restart(leader);
    await eachAcknowledges(3, 'appends on every node after the server came back');
    await Promise.all(loads.map((load) => load.stop()));

    // What was refused meanwhile was refused as the contract says a log outage is.
    expect(loads.flatMap((load) => load.refused).filter((refusal) => refusal.event !== 'room-create-reject' || refusal.code !== 'UNAVAILABLE')).toEqual([]);

    const logs = await clusterLogs(nodes);
    const rooms = loads.flatMap((load) => load.acknowledged);
    for (const log of logs) {
      const created = new Map<string, number>();
      for (const event of log) if (event.type === 'RoomCreated') created.set(String(event.data.room), (created.get(String(event.data.room)) ?? 0) + 1);
      // Every acknowledged room exactly once, on every node.
      expect(rooms.filter((room) => created.get(room) !== 1)).toEqual([]);
    }
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[2]).toEqual(logs[0]);
    for (const node of nodes) await expectReplayEqualsLive(node);
  });

  it('refuses writes with UNAVAILABLE while every NATS server is down, relays within a node, and recovers by itself', async () => {
    const [a, b, c] = cluster.nodes as [ChildGateway, ChildGateway, ChildGateway];
    const room = 'through-the-outage';
    const owner = await peerOn(a);
    const member = await peerOn(a);
    const others = [await peerOn(b), await peerOn(c)];
    expect(await ask(owner, 'room-create-request', { room })).toMatchObject({ event: 'room-create-accept' });
    member.client.sendJson({ event: 'room-join-request', data: { room } });
    await nextFrame(owner, 'room-join-request');
    await ask(owner, 'room-join-accept', { room, peer_id: member.peerId });
    await nextFrame(member, 'room-join-accept');

    await Promise.all(cluster.nats.servers.map((_, index) => cluster.nats.kill(index)));
    await eventually(async () => (await readyStatus(a)) === 503, 'A not ready without NATS');
    expect(await ask(owner, 'room-create-request', { room: 'during-the-outage' })).toMatchObject({
      event: 'room-create-reject',
      data: { code: 'UNAVAILABLE' },
    });
    // Relays between members on one node need no log.
    expect(await ask(owner, 'relay-ice-candidate', { room, to: member.peerId, ice_candidate: { candidate: 'no-nats-needed' } })).toMatchObject({ event: 'result', data: { delivered: true } });
    expect((await nextFrame(member, 'ice-candidate')).data).toMatchObject({ peer_id: owner.peerId, ice_candidate: { candidate: 'no-nats-needed' } });

    await Promise.all(cluster.nats.servers.map((_, index) => cluster.nats.restart(index)));
    for (const node of [a, b, c]) await eventually(async () => (await readyStatus(node)) === 200, `${node.url()} ready again`, 60_000);
    // Writes work again on every node, without a gateway restart.
    for (const [index, peer] of [owner, ...others].entries()) {
      expect(await ask(peer, 'room-create-request', { room: `after-the-outage-${index}` })).toMatchObject({ event: 'room-create-accept' });
    }
    // No node took another for lost while nobody could heartbeat.
    for (const node of [a, b, c]) {
      expect(await metricOf(node, 'switchyard_cluster_nodes')).toBe(3);
      expect(await metricOf(node, 'switchyard_cluster_nodes_lost')).toBe(0);
    }
    // The members on A stayed in their room through the outage.
    expect(await ask(owner, 'relay-ice-candidate', { room, to: member.peerId, ice_candidate: { candidate: 'after' } })).toMatchObject({ event: 'result' });
  });

  it('refuses NATS clients without the cluster credentials, and a node with wrong ones fails to start with one line', async () => {
    for (const credentials of [{}, { user: cluster.nats.user, pass: 'not-the-password' }]) {
      // The cluster subjects (`sy.node.<id>.frames`, `sy.log.<stream>`) are out of reach: NATS refuses the connection itself.
      const refused = await connect({ servers: cluster.nats.urls[0]!, reconnect: false, ...credentials }).then(
        async (connection) => {
          connection.publish('sy.log.x', 'forged');
          await connection.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(AuthorizationError);
      expect(String(refused)).toMatch(/Authorization Violation/);
    }

    // Like any start-up error an operator must fix (main.ts, StartupError): one line on stderr
    // that names the cause, and exit 2, as a supervisor's restart would meet the same refusal.
    const started = await runCli(['start', '--port', '0', '--data', tempDataDir()], {
      env: { ...cluster.env, ...envOf({ clusterPassword: 'not-the-password' }) },
      timeoutMs: 30_000,
    });
    const said = started.stderr.trim().split('\n');
    expect({ code: started.code, lines: said.length }, `${started.stdout}${started.stderr}`).toEqual({ code: 2, lines: 1 });
    expect(said[0]).toMatch(/^switchyard: cannot start: .*NATS.*(credential|authoriz)/i);
  });
});
