import { DISCONNECT } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { TokenBucket } from '../../core/index.js';
import { sendTurnsCompleted, type ClientConnection } from '../../edge/index.js';
import { Encoder } from '@msgpack/msgpack';
import {
  KeySet,
  MsgpackKeySet,
  decodeMsgpackSpan,
  msgpackSpanEquals,
  msgpackSpanIsNil,
  msgpackSpanNumber,
  msgpackSpanString,
  parseSpan,
  scanFrame,
  scanMsgpackFrame,
  spanEqualsString,
  writeMsgpackString,
  type Span,
} from '../../protocol/index.js';
import { ROOM_TOPICS } from '../../protocol/topics/rooms.js';
import type { FastPath } from '../../runtime/index.js';
import type { RoomsConfig } from './config.js';
import type { RoomMembers } from './members.js';
import { requireRoomSession } from './session.js';
import type { RelayTarget, RemotePeers } from './remote-peer.js';

export type RelayKind = 'sdp' | 'ice';

type Fail = Parameters<FastPath<ClientConnection>>[3];

const RELAY_PREFIX = Buffer.from('"relay-');
/** No relay frame is shorter: {"event":"relay-ice-candidate","data":{"room":"","to":"","ice_candidate":0}} */
const MIN_RELAY_BYTES = 70;
const ENVELOPE = { event: 0, data: 1, id: 2 } as const;
const ENVELOPE_KEYS = new KeySet(['event', 'data', 'id']);
const DATA = { room: 0, to: 1, session_description: 2, ice_candidate: 3, payload: 4, auth: 5 } as const;
const DATA_KEYS = new KeySet(['room', 'to', 'session_description', 'ice_candidate', 'payload', 'auth']);
/** The constant pieces of a relayed frame, encoded once. */
const RELAY_OUT = {
  ice: { head: Buffer.from('{"event":"ice-candidate","data":{"room":'), field: Buffer.from('","ice_candidate":') },
  sdp: { head: Buffer.from('{"event":"session-description","data":{"room":'), field: Buffer.from('","session_description":') },
};
const PEER_ID_KEY = Buffer.from(',"peer_id":"');
const PAYLOAD_KEY = Buffer.from(',"payload":');

/** The event names as a MessagePack frame's bytes hold them; frames without them leave before the scan. */
const MSGPACK_RELAY_NAME = Buffer.from('relay-');
const MSGPACK_EVENT_NAMES = { ice: Buffer.from(ROOM_TOPICS.relayIceCandidate), sdp: Buffer.from(ROOM_TOPICS.relaySessionDescription) } as const;
/** No MessagePack relay frame is shorter: encode({event:'relay-ice-candidate',data:{room:'',to:'',ice_candidate:0}}). */
const MIN_MSGPACK_RELAY_BYTES = 58;
const MSGPACK_ENVELOPE_KEYS = new MsgpackKeySet(ENVELOPE_KEYS.keys);
const MSGPACK_DATA_KEYS = new MsgpackKeySet(DATA_KEYS.keys);
/** The same encoder settings as the frame codec's (src/protocol/codecs.ts), for bodies parsed from JSON. */
const msgpackEncoder = new Encoder({ ignoreUndefined: true });
const packed = (value: unknown) => Buffer.from(msgpackEncoder.encode(value));
/**
 * The constant pieces of a relayed MessagePack frame, encoded once:
 * `{event: E, data: {room: R, peer_id: P, <field>: B, payload?: Q}}`, keys in the order the
 * generic path's encoder writes them.
 */
const MSGPACK_OUT = {
  ice: { head: Buffer.concat([Buffer.of(0x82), packed('event'), packed(ROOM_TOPICS.iceCandidate), packed('data')]), field: packed('ice_candidate') },
  sdp: { head: Buffer.concat([Buffer.of(0x82), packed('event'), packed(ROOM_TOPICS.sessionDescription), packed('data')]), field: packed('session_description') },
};
const MSGPACK_ROOM_KEY = packed('room');
const MSGPACK_PEER_ID_KEY = packed('peer_id');
const MSGPACK_PAYLOAD_KEY = packed('payload');
/** fixmap headers of `data`: room, peer_id and the body, with or without payload. */
const MSGPACK_DATA_MAP = { withPayload: 0x84, withoutPayload: 0x83 } as const;
/** The first slab spliced frames are carved from; a turn that fills one gets one twice the size, up to the cap. */
const SLAB_BYTES = 128 * 1024;
const MAX_SLAB_BYTES = 4 * 1024 * 1024;
const OUT_EVENT = { sdp: ROOM_TOPICS.sessionDescription, ice: ROOM_TOPICS.iceCandidate } as const;
const BODY_FIELD = { sdp: 'session_description', ice: 'ice_candidate' } as const;
const STRIKE_WINDOW_MS = 10_000;

interface RelayBudget {
  sdp: TokenBucket;
  ice: TokenBucket;
  /** Times of refused relays within the strike window. */
  strikes: number[];
}

/**
 * WebRTC signalling between members of a room: the hot path. A relay is a budget check, a
 * membership lookup in RoomMembers and one send: no actor, no log, no promise. Three ways in
 * share `deliver`:
 *
 * - `fromJsonText` and `fromMsgpack`, the route-on-the-envelope fast paths for native JSON
 *   text and MessagePack binary frames: the frame is scanned (validated, not built), and the
 *   body (`session_description` / `ice_candidate`) and `payload` are forwarded as the bytes
 *   the sender wrote when the receiver speaks the same native codec. Across codecs only the
 *   envelope is converted: the body alone is decoded (MessagePack) or parsed (JSON), once,
 *   and encoded for the receiver.
 * - `fromDecoded`, the relay topics' handler for every other transport (Socket.IO) and for
 *   the frames the scanners leave to the generic path, after the topic's schema.
 */
export class Relay {
  private readonly budgets = new WeakMap<ClientConnection, RelayBudget>();
  /**
   * Spliced frames are carved from this slab, each into bytes of its own: the edge may hold
   * a frame until the end of the turn to send it with the others to the same socket (send
   * coalescing, src/edge/send-coalescing.ts). Once every sink has written what it was given
   * (`sendTurnsCompleted` moved on) the slab is carved from its start again: no allocation
   * per frame. A turn that fills it gets a larger one (the full one is collected once sent).
   */
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private slabUsed = 0;
  private slabTurn = sendTurnsCompleted();

  constructor(
    private readonly members: RoomMembers,
    private readonly config: RoomsConfig,
    /** In a cluster, the members on other nodes as relay targets. */
    private readonly remote?: RemotePeers,
  ) {}

  /**
   * Returns false for anything that is not a well-formed relay frame, which then takes the
   * generic path (and gets its precise error there); refusals of a well-formed one go to `fail`.
   */
  fromJsonText(connection: ClientConnection, raw: ArrayBuffer | Uint8Array, now: number, fail: Fail): boolean {
    // Every text frame passes here: pings and other short frames leave before any allocation.
    if (raw.byteLength < MIN_RELAY_BYTES) return false;
    const bytes = asBuffer(raw);
    if (bytes.indexOf(RELAY_PREFIX) === -1) return false;
    const scanned = scanFrame(bytes, this.config.maxFrameDepth, ENVELOPE_KEYS, ENVELOPE.data, DATA_KEYS);
    if (!scanned?.data) return false;
    const eventSpan = scanned.envelope[ENVELOPE.event];
    if (!eventSpan) return false;
    const kind: RelayKind | undefined = spanEqualsString(bytes, eventSpan, ROOM_TOPICS.relayIceCandidate)
      ? 'ice'
      : spanEqualsString(bytes, eventSpan, ROOM_TOPICS.relaySessionDescription)
        ? 'sdp'
        : undefined;
    if (!kind) return false;
    const roomSpan = scanned.data[DATA.room];
    const toSpan = scanned.data[DATA.to];
    const bodySpan = scanned.data[DATA[BODY_FIELD[kind]]];
    const idSpan = scanned.envelope[ENVELOPE.id];
    // The scanner validated every string, so these parses cannot throw; should one ever,
    // the frame goes to the full parser, which answers it properly, instead of out of here.
    let id: unknown, room: unknown, to: unknown;
    try {
      id = idSpan ? parseSpan(bytes, idSpan) : undefined;
      room = roomSpan ? parseSpan(bytes, roomSpan) : undefined;
      to = toSpan ? parseSpan(bytes, toSpan) : undefined;
    } catch {
      return false;
    }
    if (id !== undefined && id !== null && (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1)) return false;
    const frameId = typeof id === 'number' ? id : undefined;
    if (typeof room !== 'string' || typeof to !== 'string' || !bodySpan || spanEqualsString(bytes, bodySpan, 'null')) return false;
    const authSpan = scanned.data[DATA.auth];
    const payloadSpan = scanned.data[DATA.payload];
    try {
      requireRoomSession(connection, authSpan ? { auth: parseSpan(bytes, authSpan) } : undefined);
      const target = this.deliver(connection, kind, room, to, payloadSpan ? payloadSpan[1] - payloadSpan[0] : 0, now);
      if (target.info.transport === 'native' && target.codec === 'json') {
        target.sendEncoded(this.spliceRelay(bytes, kind, roomSpan!, connection.id, bodySpan, payloadSpan), false);
      } else {
        const body = parseSpan(bytes, bodySpan);
        const payload = payloadSpan ? parseSpan(bytes, payloadSpan) : undefined;
        if (target.info.transport === 'native') target.sendEncoded(this.packRelay(kind, room, connection.id, body, payload), true);
        else sendDecoded(target, kind, room, connection.id, body, payload);
      }
      if (frameId !== undefined) connection.reply(frameId, 'result', { delivered: true });
    } catch (error) {
      fail(connection, frameId, error, now);
    }
    return true;
  }

  /**
   * The MessagePack twin of `fromJsonText`, for binary frames: false for anything the scanner
   * (src/protocol/msgpack-scan.ts) leaves to the generic path, whose decoder answers it.
   */
  fromMsgpack(connection: ClientConnection, raw: ArrayBuffer | Uint8Array, now: number, fail: Fail): boolean {
    if (raw.byteLength < MIN_MSGPACK_RELAY_BYTES) return false;
    const bytes = asBuffer(raw);
    if (bytes.indexOf(MSGPACK_RELAY_NAME) === -1) return false;
    const scanned = scanMsgpackFrame(bytes, this.config.maxFrameDepth, MSGPACK_ENVELOPE_KEYS, ENVELOPE.data, MSGPACK_DATA_KEYS);
    if (!scanned?.data) return false;
    const eventSpan = scanned.envelope[ENVELOPE.event];
    if (!eventSpan) return false;
    const kind: RelayKind | undefined = msgpackSpanEquals(bytes, eventSpan, MSGPACK_EVENT_NAMES.ice)
      ? 'ice'
      : msgpackSpanEquals(bytes, eventSpan, MSGPACK_EVENT_NAMES.sdp)
        ? 'sdp'
        : undefined;
    if (!kind) return false;
    // An id the envelope check would refuse (not a number, not a positive safe integer) gets
    // its BAD_REQUEST there; nil is no id, as there.
    const idSpan = scanned.envelope[ENVELOPE.id];
    const id = idSpan ? msgpackSpanNumber(bytes, idSpan) : null;
    if (id === undefined || (id !== null && (!Number.isSafeInteger(id) || id < 1))) return false;
    const frameId = id ?? undefined;
    const roomSpan = scanned.data[DATA.room];
    const toSpan = scanned.data[DATA.to];
    const bodySpan = scanned.data[DATA[BODY_FIELD[kind]]];
    const room = roomSpan && msgpackSpanString(bytes, roomSpan);
    const to = toSpan && msgpackSpanString(bytes, toSpan);
    if (room === undefined || to === undefined || !bodySpan || msgpackSpanIsNil(bytes, bodySpan)) return false;
    const authSpan = scanned.data[DATA.auth];
    const payloadSpan = scanned.data[DATA.payload];
    try {
      requireRoomSession(connection, authSpan ? { auth: decodeMsgpackSpan(bytes, authSpan, scanned.binary) } : undefined);
      // The limit is written in JSON bytes (as on the generic path): a payload is decoded to be measured.
      const payload = payloadSpan ? decodeMsgpackSpan(bytes, payloadSpan, scanned.binary) : undefined;
      const target = this.deliver(connection, kind, room, to, payload === undefined ? 0 : jsonBytes(payload), now);
      if (target.info.transport === 'native' && target.codec === 'msgpack') {
        target.sendEncoded(this.spliceMsgpackRelay(bytes, kind, roomSpan!, connection.id, bodySpan, payloadSpan), true);
      } else {
        sendDecoded(target, kind, room, connection.id, decodeMsgpackSpan(bytes, bodySpan, scanned.binary), payload);
      }
      if (frameId !== undefined) connection.reply(frameId, 'result', { delivered: true });
    } catch (error) {
      fail(connection, frameId, error, now);
    }
    return true;
  }
  /** A relay topic's frame, decoded and through its schema and session check. Throws its refusals. */
  fromDecoded(connection: ClientConnection, kind: RelayKind, room: string, to: string, body: unknown, payload: unknown, id: number | undefined, now: number): void {
    const target = this.deliver(connection, kind, room, to, payload === undefined ? 0 : jsonBytes(payload), now);
    sendDecoded(target, kind, room, connection.id, body, payload);
    if (id !== undefined) connection.reply(id, 'result', { delivered: true });
  }

  /**
   * What both paths check, in one order: the sender's budget, that sender and target are
   * members of the room, the payload's size. Returns the target's connection.
   */
  private deliver(connection: ClientConnection, kind: RelayKind, room: string, to: string, payloadBytes: number, now: number): RelayTarget {
    this.spendBudget(connection, kind, now);
    // The fast path is off the topic pipeline and its guest gate. A guest can only have
    // joined its own item's rooms (room-join-request admits no other; a call admits only its
    // item's guests), so membership alone already keeps it there; this check also covers a
    // socket that joined a room as a user and then authorized as a guest, and costs others nothing.
    const principal = connection.principal;
    if (principal.kind === 'guest' && room !== principal.room && this.members.itemOf(room) !== principal.itemId) throw new AppError('FORBIDDEN', 'a guest may only join the item it was invited to', { reason: 'unauthorized' });
    const members = this.members.of(room);
    const node = this.remote && !members?.has(to) ? this.members.remoteOf(room).get(to) : undefined;
    const target: RelayTarget | undefined = node === undefined ? members?.get(to) : this.remote!.target(node, to);
    if (!target || !members!.has(connection.id)) throw new AppError('FORBIDDEN', 'relays go only between members of the same room');
    assertPayloadFits(payloadBytes, this.config.maxPayloadBytes);
    return target;
  }

  private spendBudget(connection: ClientConnection, kind: RelayKind, now: number): void {
    let budget = this.budgets.get(connection);
    if (!budget) {
      const { relaySdpPerSecond, relayIcePerSecond } = this.config;
      budget = {
        sdp: new TokenBucket(relaySdpPerSecond * 2, relaySdpPerSecond, now),
        ice: new TokenBucket(relayIcePerSecond * 2, relayIcePerSecond, now),
        strikes: [],
      };
      this.budgets.set(connection, budget);
    }
    if (budget[kind].take(now)) return;
    // Sustained abuse: past the strike limit in 10 s the socket goes (4029, may reconnect).
    budget.strikes = budget.strikes.filter((time) => time > now - STRIKE_WINDOW_MS);
    budget.strikes.push(now);
    if (budget.strikes.length >= this.config.rateLimitStrikes) connection.close(DISCONNECT.rateLimited);
    throw new AppError('RATE_LIMITED', `too many ${kind === 'sdp' ? 'session descriptions' : 'ICE candidates'}; slow down`);
  }

  /**
   * `{"event":E,"data":{"room":R,"peer_id":"P","<field>":<body>,"payload":<payload>}}`, the
   * room, body and payload as the sender's bytes.
   */
  private spliceRelay(bytes: Buffer, kind: RelayKind, room: Span, peerId: string, body: Span, payload: Span | undefined): Uint8Array {
    const parts = RELAY_OUT[kind];
    const out = this.claim(bytes.length + 128);
    let at = this.slabUsed;
    const start = at;
    out.set(parts.head, at);
    at += parts.head.length;
    at += bytes.copy(out, at, room[0], room[1]);
    out.set(PEER_ID_KEY, at);
    at += PEER_ID_KEY.length;
    at += out.write(peerId, at, 'latin1');
    out.set(parts.field, at);
    at += parts.field.length;
    at += bytes.copy(out, at, body[0], body[1]);
    if (payload) {
      out.set(PAYLOAD_KEY, at);
      at += PAYLOAD_KEY.length;
      at += bytes.copy(out, at, payload[0], payload[1]);
    }
    out[at++] = 0x7d;
    out[at++] = 0x7d;
    return this.carve(start, at);
  }

  /** The MessagePack frame of a MessagePack relay: room, body and payload as the sender's bytes. */
  private spliceMsgpackRelay(bytes: Buffer, kind: RelayKind, room: Span, peerId: string, body: Span, payload: Span | undefined): Uint8Array {
    const parts = MSGPACK_OUT[kind];
    const out = this.claim(bytes.length + parts.head.length + 5 + 3 * peerId.length + 32);
    const start = this.slabUsed;
    let at = this.msgpackHead(out, start, kind, payload !== undefined);
    at += bytes.copy(out, at, room[0], room[1]);
    at = this.msgpackPeer(out, at, kind, peerId);
    at += bytes.copy(out, at, body[0], body[1]);
    if (payload) {
      out.set(MSGPACK_PAYLOAD_KEY, at);
      at += MSGPACK_PAYLOAD_KEY.length;
      at += bytes.copy(out, at, payload[0], payload[1]);
    }
    return this.carve(start, at);
  }

  /**
   * The MessagePack frame of a JSON relay: only the body (and payload), parsed from the JSON,
   * are encoded; the envelope's pieces are constants and the two strings.
   */
  private packRelay(kind: RelayKind, room: string, peerId: string, body: unknown, payload: unknown): Uint8Array {
    // A copy for the (rare) payload, then the body as a view of the encoder's own buffer,
    // which is valid until its next encode.
    const encodedPayload = payload === undefined ? undefined : msgpackEncoder.encode(payload);
    const encodedBody = msgpackEncoder.encodeSharedRef(body);
    const parts = MSGPACK_OUT[kind];
    const strings = 10 + 3 * (room.length + peerId.length);
    const out = this.claim(parts.head.length + 32 + strings + encodedBody.byteLength + (encodedPayload?.byteLength ?? 0));
    const start = this.slabUsed;
    let at = this.msgpackHead(out, start, kind, encodedPayload !== undefined);
    at = writeMsgpackString(out, at, room);
    at = this.msgpackPeer(out, at, kind, peerId);
    out.set(encodedBody, at);
    at += encodedBody.byteLength;
    if (encodedPayload) {
      out.set(MSGPACK_PAYLOAD_KEY, at);
      at += MSGPACK_PAYLOAD_KEY.length;
      out.set(encodedPayload, at);
      at += encodedPayload.byteLength;
    }
    return this.carve(start, at);
  }

  /** `{event: E, data: {room: ` of a MessagePack relay, at `at`; returns the end. */
  private msgpackHead(out: Buffer, at: number, kind: RelayKind, withPayload: boolean): number {
    const head = MSGPACK_OUT[kind].head;
    out.set(head, at);
    at += head.length;
    out[at++] = withPayload ? MSGPACK_DATA_MAP.withPayload : MSGPACK_DATA_MAP.withoutPayload;
    out.set(MSGPACK_ROOM_KEY, at);
    return at + MSGPACK_ROOM_KEY.length;
  }

  /** `, peer_id: P, <field>: ` of a MessagePack relay, at `at`; returns the end. */
  private msgpackPeer(out: Buffer, at: number, kind: RelayKind, peerId: string): number {
    out.set(MSGPACK_PEER_ID_KEY, at);
    at = writeMsgpackString(out, at + MSGPACK_PEER_ID_KEY.length, peerId);
    const field = MSGPACK_OUT[kind].field;
    out.set(field, at);
    return at + field.length;
  }

  /** The slab with room for `bytes` from `slabUsed` on: this one, or a new one when it is too full. */
  private claim(bytes: number): Buffer {
    const turn = sendTurnsCompleted();
    if (turn !== this.slabTurn) {
      // Every frame carved before has been written: the slab is free again.
      this.slabTurn = turn;
      this.slabUsed = 0;
    }
    if (this.slabUsed + bytes > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(Math.min(this.slab.length * 2, MAX_SLAB_BYTES), bytes));
      this.slabUsed = 0;
    }
    return this.slab;
  }

  /** Hands out [start, end) of the slab as one frame's bytes; the next frame starts after them, 8-aligned. */
  private carve(start: number, end: number): Uint8Array {
    this.slabUsed = (end + 7) & ~7;
    return this.slab.subarray(start, end);
  }
}

/** A frame's bytes as a Buffer, without copying. */
function asBuffer(raw: ArrayBuffer | Uint8Array): Buffer {
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) : Buffer.from(raw);
}

/** The relayed frame as an object, for targets in another codec or transport. */
function sendDecoded(target: RelayTarget, kind: RelayKind, room: string, from: string, body: unknown, payload: unknown): void {
  target.send({ event: OUT_EVENT[kind], data: { room, peer_id: from, [BODY_FIELD[kind]]: body, payload } });
}

/** A payload's size as the JSON the limit is written in. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

/** `maxPayloadBytes` for room and relay frames alike: PAYLOAD_TOO_LARGE past it. */
export function assertPayloadFits(bytes: number, limit: number): void {
  if (bytes > limit) throw new AppError('PAYLOAD_TOO_LARGE', `payload is ${bytes} bytes as JSON; the limit is ${limit}`);
}
