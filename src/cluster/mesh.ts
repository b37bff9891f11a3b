import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { OutboundFrame } from '../protocol/index.js';
import type { ClusterLogger } from './nats.js';
import { assertNodeId } from './nodes.js';

/**
 * Frames for sockets on other gateway nodes (PROTOCOL.md section 12): a relay or push whose
 * target peer is connected to another node goes to that node over core NATS (not JetStream:
 * a relay is not state, and is worth nothing late) on the subject `sy.node.<nodeId>.frames`,
 * which only that node subscribes to.
 *
 * Only authenticated cluster members can publish at all: the NATS servers require the
 * cluster credentials of every client, so nothing outside the cluster reaches these
 * subjects. What arrives is still parsed defensively: a malformed batch (truncated, a
 * length past its end, trailing bytes, an unreadable object frame) is counted and dropped
 * whole, and nothing it contains is delivered; it never throws out of the handler.
 *
 * Batches: every forward to one node within one macrotask (one turn of the event loop: a
 * read of a socket's frames, say) goes out as ONE NATS message, so a cross-node relay costs
 * a publish per batch rather than per frame. The format (all integers big-endian):
 *
 *   batch = version u8 (1) | count u32 | frame * count        (nothing after the last frame)
 *   frame = peerIdLength u16 | peerId (UTF-8) | kind u8 | length u32 | bytes (length)
 *   kind  1: JSON  the frame as the target's native JSON client receives it, forwarded as the
 *                  sender had it (the JSON fast path: never re-encoded on the way)
 *         2: object  an OutboundFrame {event, data, id?, seq?, interim?} in MessagePack,
 *                  for frames the sender had as an object and no bytes of
 *
 * Bounded: core NATS has no acknowledgement, so the mesh measures what the server has not
 * yet taken from this client: bytes published since the last completed `flush()` (a PING
 * answered by a PONG after them) plus batches not yet published. Past `maxPendingBytes` (a
 * slow or cut link to the NATS server, an outage) new forwards are dropped and counted,
 * never queued without bound. A receiving node that is slow is the NATS server's business:
 * it buffers for it up to its own limit and cuts it off as a slow consumer.
 */

export const MESH_SUBJECT_PREFIX = 'sy.node.';
const BATCH_VERSION = 1;
const BATCH_HEADER_BYTES = 5;
/** peerIdLength + kind + length */
const FRAME_HEADER_BYTES = 7;
const KIND_JSON = 1;
const KIND_OBJECT = 2;
const MAX_PEER_ID_BYTES = 0xffff;
/** A NATS server's default max_payload, if it did not say. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export type MeshFrame = { kind: 'json'; bytes: Uint8Array } | { kind: 'object'; frame: OutboundFrame };

/** Receives each frame of a batch. `json` bytes are a view into the NATS message: copy them to keep them past the call. */
export type MeshFrameHandler = (peerId: string, frame: MeshFrame) => void;

export interface MeshOptions {
  /** Past this many bytes not yet taken by the NATS server, forwards are dropped. Default 32 MiB. */
  maxPendingBytes?: number;
  /** A batch is published early once it holds this many bytes. Default 256 KiB (and never past the server's max_payload). */
  maxBatchBytes?: number;
  logger?: ClusterLogger;
}

/** Byte counts are of frames as they travel (peer id, kind, length and body), batch headers excluded. */
export interface MeshStats {
  forwardedFrames: number;
  forwardedBytes: number;
  /** NATS messages published: `forwardedFrames / publishedBatches` is the batching factor. */
  publishedBatches: number;
  receivedFrames: number;
  receivedBytes: number;
  receivedBatches: number;
  /** Forwards refused: past maxPendingBytes, too large for one NATS message, or after close. */
  droppedFrames: number;
  droppedBytes: number;
  /** Batches that arrived malformed and were dropped whole. */
  malformedBatches: number;
  /** Frames the handler threw on (counted; the rest of the batch is still delivered). */
  handlerErrors: number;
  /** Bytes not yet taken by the NATS server (the bounded quantity). */
  pendingBytes: number;
}

/** What `deliverFrame` needs of a connection (ClientConnection fits). */
export interface MeshTarget {
  readonly codec: string;
  readonly info: { readonly transport: string };
  send(frame: OutboundFrame): void;
  sendEncoded(message: Uint8Array, isBinary: boolean): void;
}

interface Batch {
  buffer: Buffer;
  length: number;
  count: number;
}

const objectEncoder = new Encoder({ ignoreUndefined: true });
const silentLogger: ClusterLogger = { info: () => {}, warn: () => {} };

export class Mesh {
  private readonly maxPendingBytes: number;
  private readonly maxBatchBytes: number;
  private readonly logger: ClusterLogger;
  private readonly batches = new Map<string, Batch>();
  private flushScheduled = false;
  private subscription: Subscription | undefined;
  private handler: MeshFrameHandler | undefined;
  private closed = false;
  /** Bytes in batches not yet published. */
  private bufferedBytes = 0;
  /** Bytes published, and of those the ones a completed flush() proved the server has read. */
  private publishedBytes = 0;
  private confirmedBytes = 0;
  private confirming = false;
  private readonly counts = {
    forwardedFrames: 0,
    forwardedBytes: 0,
    publishedBatches: 0,
    receivedFrames: 0,
    receivedBytes: 0,
    receivedBatches: 0,
    droppedFrames: 0,
    droppedBytes: 0,
    malformedBatches: 0,
    handlerErrors: 0,
  };

  constructor(
    private readonly connection: NatsConnection,
    readonly node: string,
    options: MeshOptions = {},
  ) {
    assertNodeId(node);
    this.maxPendingBytes = options.maxPendingBytes ?? 32 * 1024 * 1024;
    const maxPayload = connection.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
    this.maxBatchBytes = Math.min(options.maxBatchBytes ?? 256 * 1024, maxPayload);
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Queues one frame for `peerId`'s socket on `node`; it leaves with this macrotask's batch
   * to that node. The bytes are copied here, so the caller may reuse its buffer at once (the
   * relay's scratch buffer). Returns false when the frame was dropped (and counted); throws
   * only on a node id that cannot be a subject token (a programming error).
   */
  forward(node: string, peerId: string, frame: MeshFrame): boolean {
    const body = frame.kind === 'json' ? frame.bytes : encodeObjectFrame(frame.frame);
    const peerIdBytes = Buffer.byteLength(peerId, 'utf8');
    const size = FRAME_HEADER_BYTES + peerIdBytes + body.byteLength;
    if (this.closed || peerIdBytes > MAX_PEER_ID_BYTES || size + BATCH_HEADER_BYTES > this.maxBatchBytes || this.pendingBytes() + size > this.maxPendingBytes) {
      this.counts.droppedFrames += 1;
      this.counts.droppedBytes += size;
      return false;
    }
    let batch = this.batches.get(node);
    if (batch && batch.length + size > this.maxBatchBytes) {
      this.publish(node, batch);
      batch = undefined;
    }
    if (!batch) {
      assertNodeId(node);
      batch = { buffer: Buffer.allocUnsafe(Math.min(this.maxBatchBytes, Math.max(16 * 1024, BATCH_HEADER_BYTES + size))), length: BATCH_HEADER_BYTES, count: 0 };
      this.batches.set(node, batch);
    }
    if (batch.buffer.length < batch.length + size) batch.buffer = grow(batch.buffer, batch.length, batch.length + size, this.maxBatchBytes);
    const out = batch.buffer;
    let at = batch.length;
    out.writeUInt16BE(peerIdBytes, at);
    at += 2;
    at += out.write(peerId, at, 'utf8');
    out[at++] = frame.kind === 'json' ? KIND_JSON : KIND_OBJECT;
    out.writeUInt32BE(body.byteLength, at);
    at += 4;
    out.set(body, at);
    batch.length = at + body.byteLength;
    batch.count += 1;
    this.bufferedBytes += size;
    this.counts.forwardedFrames += 1;
    this.counts.forwardedBytes += size;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /**
   * Starts receiving this node's frames; `handler` is called once per frame, in batch order
   * (a second call replaces the handler). What it throws is counted, and the batch goes on.
   */
  onFrames(handler: MeshFrameHandler): void {
    this.handler = handler;
    if (this.subscription || this.closed) return;
    this.subscription = this.connection.subscribe(`${MESH_SUBJECT_PREFIX}${this.node}.frames`, {
      callback: (error, message) => {
        if (error) {
          this.logger.warn({ node: this.node, error: String(error) }, 'mesh subscription error');
          return;
        }
        this.receive(message);
      },
    });
  }

  stats(): MeshStats {
    return { ...this.counts, pendingBytes: this.pendingBytes() };
  }

  /** Publishes what is queued, waits until the server has it, and stops receiving. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.subscription?.unsubscribe();
    if (!this.connection.isClosed()) await this.connection.flush().catch(() => undefined);
  }

  private pendingBytes(): number {
    return this.publishedBytes - this.confirmedBytes + this.bufferedBytes;
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [node, batch] of this.batches) this.publish(node, batch);
  }

  private publish(node: string, batch: Batch): void {
    this.batches.delete(node);
    this.bufferedBytes -= batch.length - BATCH_HEADER_BYTES;
    batch.buffer[0] = BATCH_VERSION;
    batch.buffer.writeUInt32BE(batch.count, 1);
    const message = batch.buffer.subarray(0, batch.length);
    try {
      this.connection.publish(`${MESH_SUBJECT_PREFIX}${node}.frames`, message);
    } catch (error) {
      // Closed or draining connection: these frames are lost, as any relay to a dead link is.
      this.counts.droppedFrames += batch.count;
      this.counts.droppedBytes += batch.length - BATCH_HEADER_BYTES;
      this.counts.forwardedFrames -= batch.count;
      this.counts.forwardedBytes -= batch.length - BATCH_HEADER_BYTES;
      this.logger.warn({ node: this.node, to: node, error: String(error) }, 'mesh publish failed');
      return;
    }
    this.publishedBytes += batch.length;
    this.counts.publishedBatches += 1;
    this.confirm();
  }

  /**
   * One flush() (PING) in flight at a time: when its PONG comes, the server has read every
   * byte published before it. Under load that is one extra PING per round trip.
   */
  private confirm(): void {
    if (this.confirming || this.publishedBytes === this.confirmedBytes || this.connection.isClosed()) return;
    this.confirming = true;
    const mark = this.publishedBytes;
    this.connection.flush().then(
      () => {
        this.confirmedBytes = Math.max(this.confirmedBytes, mark);
        this.confirming = false;
        this.confirm();
      },
      () => {
        // Disconnected: try again shortly (the pending bytes stay counted meanwhile).
        setTimeout(() => {
          this.confirming = false;
          this.confirm();
        }, 100).unref();
      },
    );
  }

  private receive(message: Msg): void {
    const data = message.data;
    const frames = decodeBatch(data);
    if (!frames) {
      this.counts.malformedBatches += 1;
      return;
    }
    this.counts.receivedBatches += 1;
    this.counts.receivedBytes += data.byteLength - BATCH_HEADER_BYTES;
    for (const [peerId, frame] of frames) {
      this.counts.receivedFrames += 1;
      try {
        this.handler?.(peerId, frame);
      } catch (error) {
        this.counts.handlerErrors += 1;
        if (this.counts.handlerErrors === 1 || this.counts.handlerErrors % 1000 === 0) {
          this.logger.warn({ node: this.node, errors: this.counts.handlerErrors, error: String(error) }, 'mesh frame handler failed');
        }
      }
    }
  }
}

/**
 * Hands a forwarded frame to the target's socket the cheapest correct way: JSON bytes as they
 * are to a native JSON client; otherwise as an object, which the connection encodes in its
 * own codec (MessagePack, Socket.IO).
 */
export function deliverFrame(target: MeshTarget, frame: MeshFrame): void {
  if (frame.kind === 'object') {
    target.send(frame.frame);
    return;
  }
  if (target.info.transport === 'native' && target.codec === 'json') {
    target.sendEncoded(frame.bytes, false);
    return;
  }
  const parsed = asOutboundFrame(JSON.parse(Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.byteLength).toString('utf8')));
  if (!parsed) throw new Error('forwarded JSON bytes are not a frame');
  target.send(parsed);
}

/** The frames of a batch, or undefined when anything about it is malformed. */
export function decodeBatch(data: Uint8Array): [string, MeshFrame][] | undefined {
  if (data.byteLength < BATCH_HEADER_BYTES || data[0] !== BATCH_VERSION) return undefined;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const count = bytes.readUInt32BE(1);
  // Every frame takes at least its header: a count that cannot fit is refused before any work.
  if (count > (bytes.length - BATCH_HEADER_BYTES) / FRAME_HEADER_BYTES) return undefined;
  const frames: [string, MeshFrame][] = [];
  let at = BATCH_HEADER_BYTES;
  for (let index = 0; index < count; index++) {
    if (at + 2 > bytes.length) return undefined;
    const peerIdLength = bytes.readUInt16BE(at);
    at += 2;
    if (at + peerIdLength + 5 > bytes.length) return undefined;
    const peerId = bytes.toString('utf8', at, at + peerIdLength);
    at += peerIdLength;
    const kind = bytes[at++];
    const length = bytes.readUInt32BE(at);
    at += 4;
    if (at + length > bytes.length) return undefined;
    const body = bytes.subarray(at, at + length);
    at += length;
    if (kind === KIND_JSON) {
      frames.push([peerId, { kind: 'json', bytes: body }]);
    } else if (kind === KIND_OBJECT) {
      const frame = decodeObjectFrame(body);
      if (!frame) return undefined;
      frames.push([peerId, { kind: 'object', frame }]);
    } else {
      return undefined;
    }
  }
  return at === bytes.length ? frames : undefined;
}

function encodeObjectFrame(frame: OutboundFrame): Uint8Array {
  const { event, data, id, seq, interim } = frame;
  return objectEncoder.encode({ event, data, id, seq, interim });
}

function decodeObjectFrame(body: Uint8Array): OutboundFrame | undefined {
  // Lengths inside bounded by the frame's own size: a forged header cannot make it allocate more.
  const decoder = new Decoder({ maxStrLength: body.length, maxBinLength: body.length, maxArrayLength: body.length, maxMapLength: body.length, maxExtLength: body.length });
  try {
    return asOutboundFrame(decoder.decode(body));
  } catch {
    return undefined;
  }
}

function asOutboundFrame(value: unknown): OutboundFrame | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { event, data, id, seq, interim } = value as Record<string, unknown>;
  if (typeof event !== 'string' || !('data' in value)) return undefined;
  if ((id !== undefined && typeof id !== 'number') || (seq !== undefined && typeof seq !== 'number') || (interim !== undefined && typeof interim !== 'boolean')) return undefined;
  const frame: OutboundFrame = { event, data };
  if (id !== undefined) frame.id = id;
  if (seq !== undefined) frame.seq = seq;
  if (interim !== undefined) frame.interim = interim;
  return frame;
}

function grow(buffer: Buffer, used: number, needed: number, limit: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.min(limit, Math.max(needed, buffer.length * 2)));
  buffer.copy(bigger, 0, 0, used);
  return bigger;
}
