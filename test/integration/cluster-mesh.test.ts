import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mesh, deliverFrame, type MeshFrame, type MeshTarget } from '../../src/cluster/index.js';
import { connectCluster } from '../../src/cluster/nats.js';
import type { OutboundFrame } from '../../src/protocol/index.js';
import { until } from '../helpers/conditions.js';
import { skipWithoutNats, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Cross-node frames over core NATS against a real three-server cluster: the sender and the
 * receiver sit on connections to different servers, so every frame crosses a route.
 */

const quiet = { info: () => {}, warn: () => {} };
/** The peer id of warm-up frames, which the receivers do not record. */
const PROBE = 'probe';
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Received {
  peerId: string;
  frame: MeshFrame;
}

/** An ICE relay as a native JSON client gets it, numbered so order can be checked. */
const relayBytes = (sender: string, index: number): Uint8Array =>
  Buffer.from(`{"event":"ice-candidate","data":{"room":"room-1","peer_id":"${sender}","ice_candidate":{"candidate":"candidate:${index} 1 udp 2122260223 10.0.0.1 54400 typ host","sdpMid":"0"}}}`);

function indexOf(received: Received): { sender: string; index: number } {
  const frame: OutboundFrame = received.frame.kind === 'object' ? received.frame.frame : (JSON.parse(Buffer.from(received.frame.bytes).toString('utf8')) as OutboundFrame);
  const data = frame.data as { peer_id: string; ice_candidate: { candidate: string } };
  return { sender: data.peer_id, index: Number(/candidate:(\d+)/.exec(data.ice_candidate.candidate)![1]) };
}

/** Frames per sender in arrival order must be 0, 1, 2, ... with gaps only where the sender dropped. */
function ordersBySender(received: readonly Received[]): Map<string, number[]> {
  const bySender = new Map<string, number[]>();
  for (const item of received) {
    const { sender, index } = indexOf(item);
    (bySender.get(sender) ?? bySender.set(sender, []).get(sender)!).push(index);
  }
  return bySender;
}

describe.skipIf(skipWithoutNats())('cluster mesh (3 NATS servers)', () => {
  let cluster: NatsCluster;
  let dir: ReturnType<typeof tempDir>;
  const connections: NatsConnection[] = [];
  const meshes: Mesh[] = [];

  const connectTo = async (server: number, name: string): Promise<NatsConnection> => {
    const connection = await connectCluster({ servers: [cluster.urls[server]!], user: cluster.user, password: cluster.password, name }, quiet);
    connections.push(connection);
    return connection;
  };
  const receiver = async (server: number, node: string): Promise<{ mesh: Mesh; received: Received[]; lastProbe: () => string | undefined }> => {
    const connection = await connectTo(server, node);
    const mesh = new Mesh(connection, node);
    meshes.push(mesh);
    const received: Received[] = [];
    let lastProbe: string | undefined;
    mesh.onFrames((peerId, frame) => {
      if (peerId.startsWith(PROBE)) lastProbe = peerId;
      // JSON bytes are a view into the NATS message: copied here because the test keeps them.
      else received.push({ peerId, frame: frame.kind === 'json' ? { kind: 'json', bytes: Buffer.from(frame.bytes) } : frame });
    });
    await connection.flush();
    return { mesh, received, lastProbe: () => lastProbe };
  };
  /** Core NATS drops what is published before the subscription's interest crossed the route: probe until one arrives. */
  const warmUp = async (from: Mesh, to: string, lastProbe: () => string | undefined): Promise<void> => {
    let turns = 0;
    let sent = 0;
    const probe = () => from.forward(to, `${PROBE}-${++sent}`, { kind: 'json', bytes: Buffer.from('{"event":"probe","data":null}') });
    await until(() => {
      if (lastProbe() !== undefined) return true;
      if (turns++ % 100 === 0) probe();
      return false;
    }, `a probe from ${from.node} reaches ${to}`);
    // A last probe as a fence: once it is in, every earlier one that was not lost is in too,
    // and none can land in the counts of the test that follows.
    probe();
    await until(() => lastProbe() === `${PROBE}-${sent}`, `the fence probe from ${from.node} reaches ${to}`);
  };

  beforeAll(async () => {
    dir = tempDir('switchyard-cluster-mesh-');
    cluster = await startNatsCluster(dir.path, 3);
  }, 60_000);

  afterAll(async () => {
    for (const server of cluster?.servers ?? []) server.process?.kill('SIGCONT');
    for (const mesh of meshes) await mesh.close();
    for (const connection of connections) await connection.close().catch(() => undefined);
    await cluster?.stop();
    dir?.remove();
  });

  it('forwards 10,000 frames each way in order per sender, batched, JSON bytes untouched', async () => {
    const a = await receiver(0, 'mesh-a');
    const b = await receiver(1, 'mesh-b');
    await warmUp(a.mesh, 'mesh-b', b.lastProbe);
    await warmUp(b.mesh, 'mesh-a', a.lastProbe);
    const before = { a: a.mesh.stats(), b: b.mesh.stats() };

    const total = 10_000;
    const perTurn = 100;
    const sent = new Map<number, Uint8Array>();
    for (let index = 0; index < total; index++) {
      // Four sockets per node take turns; every tenth frame has no bytes (a msgpack sender): the object form.
      const peerOnB = `peer-b${index % 4}`;
      const peerOnA = `peer-a${index % 4}`;
      const bytes = relayBytes('sender-a', index);
      sent.set(index, bytes);
      const asObject = index % 10 === 9;
      a.mesh.forward('mesh-b', peerOnB, asObject ? { kind: 'object', frame: JSON.parse(Buffer.from(bytes).toString()) as OutboundFrame } : { kind: 'json', bytes });
      b.mesh.forward('mesh-a', peerOnA, { kind: 'json', bytes: relayBytes('sender-b', index) });
      if (index % perTurn === perTurn - 1) await turn();
    }
    await until(() => a.received.length === total && b.received.length === total, 'every frame arrives both ways', 2_000_000);

    expect(ordersBySender(b.received).get('sender-a')).toEqual(Array.from({ length: total }, (_, index) => index));
    expect(ordersBySender(a.received).get('sender-b')).toEqual(Array.from({ length: total }, (_, index) => index));
    // The receiving peer travels with each frame; JSON bytes arrive byte for byte.
    expect(b.received.slice(0, 4).map((item) => item.peerId)).toEqual(['peer-b0', 'peer-b1', 'peer-b2', 'peer-b3']);
    for (const [position, item] of b.received.entries()) {
      if (item.frame.kind === 'json') expect(Buffer.compare(Buffer.from(item.frame.bytes), Buffer.from(sent.get(position)!))).toBe(0);
      else expect(item.frame.frame).toEqual(JSON.parse(Buffer.from(sent.get(position)!).toString()));
    }
    expect(b.received.filter((item) => item.frame.kind === 'object')).toHaveLength(total / 10);

    const statsA = a.mesh.stats();
    const statsB = b.mesh.stats();
    const batches = statsA.publishedBatches - before.a.publishedBatches;
    expect(statsA.forwardedFrames - before.a.forwardedFrames).toBe(total);
    expect(statsB.receivedFrames - before.b.receivedFrames).toBe(total);
    // One NATS message per macrotask (100 frames), not one per frame.
    expect(batches).toBeLessThanOrEqual(total / perTurn + 1);
    expect(statsB.receivedBatches - before.b.receivedBatches).toBe(batches);
    expect(statsA.droppedFrames + statsB.droppedFrames + statsA.malformedBatches + statsB.malformedBatches).toBe(0);
  });

  it('prints the cross-server relay throughput (not asserted)', async () => {
    const sender = await receiver(0, 'speed-a');
    const target = await receiver(2, 'speed-b');
    await warmUp(sender.mesh, 'speed-b', target.lastProbe);
    const batchesBefore = sender.mesh.stats().publishedBatches;
    const total = 100_000;
    const frame = relayBytes('speed-a', 1);
    const started = performance.now();
    for (let index = 0; index < total; index++) {
      sender.mesh.forward('speed-b', 'peer', { kind: 'json', bytes: frame });
      if (index % 500 === 499) await turn();
    }
    await until(() => target.received.length === total, 'every frame of the throughput run arrives', 5_000_000);
    const seconds = (performance.now() - started) / 1000;
    const batches = sender.mesh.stats().publishedBatches - batchesBefore;
    console.log(
      `mesh throughput: ${total} frames of ${frame.byteLength} B across two NATS servers in ${seconds.toFixed(2)} s = ` +
        `${Math.round(total / seconds)} frames/s, ${batches} NATS messages (${(total / batches).toFixed(0)} frames each); 2 shared cores, sender and receiver in one process`,
    );
    expect(target.received).toHaveLength(total);
  });

  it('counts and drops malformed batches whole, and a throwing handler costs only its frame', async () => {
    const target = await receiver(1, 'mesh-target');
    const publisher = await connectTo(0, 'raw-publisher');
    const sender = new Mesh(publisher, 'mesh-sender');
    meshes.push(sender);
    await warmUp(sender, 'mesh-target', target.lastProbe);

    const good = batchOf([['peer-1', 1, Buffer.from('{"event":"x","data":1}')]]);
    const malformed: Uint8Array[] = [
      new Uint8Array(0),
      Buffer.from([2, 0, 0, 0, 0]), // unknown version
      Buffer.from([1, 0xff, 0xff, 0xff, 0xff]), // four billion frames announced, none there
      good.subarray(0, good.length - 1), // truncated body
      Buffer.concat([good, Buffer.from([0])]), // trailing byte
      batchOf([['peer-1', 3, Buffer.from('{}')]]), // unknown kind
      batchOf([['peer-1', 2, Buffer.from([0xc1])]]), // object kind, not MessagePack
      batchOf([['peer-1', 2, Buffer.from([0x81, 0xa1, 0x78, 0x01])]]), // MessagePack {x: 1}: no event
      (() => {
        const bad = Buffer.from(good);
        bad.writeUInt32BE(1000, 5 + 2 + 6 + 1); // the frame's length points past the end
        return bad;
      })(),
      // A valid first frame does not make it through when a later one is broken.
      Buffer.concat([batchOf([['peer-1', 1, Buffer.from('{"event":"early","data":1}')], ['peer-2', 1, Buffer.from('{}')]]).subarray(0, -1)]),
    ];
    for (const bytes of malformed) publisher.publish('sy.node.mesh-target.frames', bytes);
    // Same connection, so NATS keeps the order: once this arrives, every malformed one was handled.
    sender.forward('mesh-target', 'peer-after', { kind: 'json', bytes: Buffer.from('{"event":"after","data":true}') });
    await until(() => target.received.some((item) => item.peerId === 'peer-after'), 'the frame after the malformed batches arrives');
    expect(target.mesh.stats().malformedBatches).toBe(malformed.length);
    expect(target.received.map((item) => item.peerId)).toEqual(['peer-after']);

    // A handler that throws on one frame: counted, the rest of its batch still delivered.
    const delivered: string[] = [];
    target.mesh.onFrames((peerId) => {
      if (peerId === 'bad-target') throw new Error('socket gone');
      delivered.push(peerId);
    });
    for (const peerId of ['first', 'bad-target', 'last']) sender.forward('mesh-target', peerId, { kind: 'json', bytes: Buffer.from('{"event":"x","data":1}') });
    await until(() => delivered.includes('last'), 'the frame after the throwing one is delivered');
    expect(delivered).toEqual(['first', 'last']);
    expect(target.mesh.stats().handlerErrors).toBe(1);
  });

  it('delivers JSON bytes as they are to native JSON sockets and as objects to every other codec', () => {
    const sent: { encoded?: Uint8Array; frame?: OutboundFrame }[] = [];
    const target = (codec: string, transport: string): MeshTarget => ({
      codec,
      info: { transport },
      send: (frame) => sent.push({ frame }),
      sendEncoded: (encoded) => sent.push({ encoded }),
    });
    const bytes = relayBytes('x', 7);
    deliverFrame(target('json', 'native'), { kind: 'json', bytes });
    deliverFrame(target('msgpack', 'native'), { kind: 'json', bytes });
    deliverFrame(target('json', 'socket.io'), { kind: 'object', frame: { event: 'e', data: { a: 1 } } });
    expect(sent[0]!.encoded).toBe(bytes);
    expect(sent[1]!.frame).toEqual(JSON.parse(Buffer.from(bytes).toString()));
    expect(sent[2]!.frame).toEqual({ event: 'e', data: { a: 1 } });
    expect(() => deliverFrame(target('msgpack', 'native'), { kind: 'json', bytes: Buffer.from('[1]') })).toThrow(/not a frame/);
  });

  it('drops past maxPendingBytes while its NATS server does not read, and recovers when it does', async () => {
    const target = await receiver(1, 'slow-target');
    const connection = await connectTo(2, 'slow-sender');
    const maxPendingBytes = 64 * 1024;
    const sender = new Mesh(connection, 'slow-sender', { maxPendingBytes });
    meshes.push(sender);
    await warmUp(sender, 'slow-target', target.lastProbe);
    const forwardedBefore = sender.stats().forwardedFrames;

    // Too big for one NATS message at all: dropped and counted, whatever the link.
    expect(sender.forward('slow-target', 'peer', { kind: 'json', bytes: Buffer.alloc(2 * 1024 * 1024, 0x20) })).toBe(false);
    expect(sender.stats().droppedFrames).toBe(1);

    // A stopped server reads nothing: its PONGs stop, so nothing published is confirmed.
    const server = cluster.servers[2]!.process!;
    server.kill('SIGSTOP');
    let index = 0;
    try {
      while (sender.stats().droppedFrames < 100) {
        for (let inTurn = 0; inTurn < 50; inTurn++) sender.forward('slow-target', 'peer', { kind: 'json', bytes: relayBytes('slow-sender', index++) });
        await turn();
        expect(sender.stats().pendingBytes).toBeLessThanOrEqual(maxPendingBytes);
      }
    } finally {
      server.kill('SIGCONT');
    }
    const accepted = sender.stats().forwardedFrames - forwardedBefore;
    expect(accepted).toBeLessThan(index);
    expect(sender.stats().droppedFrames).toBeGreaterThanOrEqual(100);

    await until(() => sender.stats().pendingBytes === 0, 'the server takes the pending bytes once it runs again', 5_000_000);
    expect(sender.forward('slow-target', 'peer', { kind: 'json', bytes: relayBytes('slow-sender', index++) })).toBe(true);
    await until(() => target.received.length === accepted + 1, 'every accepted frame arrives', 5_000_000);
    const order = ordersBySender(target.received).get('slow-sender')!;
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(order.at(-1)).toBe(index - 1);
  });
});

/** A batch in the mesh's wire format, by hand: [peerId, kind, body] per frame. */
function batchOf(frames: [string, number, Uint8Array][]): Buffer {
  const parts: Buffer[] = [Buffer.from([1, 0, 0, 0, 0])];
  parts[0]!.writeUInt32BE(frames.length, 1);
  for (const [peerId, kind, body] of frames) {
    const head = Buffer.alloc(2 + Buffer.byteLength(peerId) + 5);
    head.writeUInt16BE(Buffer.byteLength(peerId), 0);
    head.write(peerId, 2);
    head[2 + Buffer.byteLength(peerId)] = kind;
    head.writeUInt32BE(body.byteLength, 3 + Buffer.byteLength(peerId));
    parts.push(head, Buffer.from(body));
  }
  return Buffer.concat(parts);
}
