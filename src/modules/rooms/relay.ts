import { DISCONNECT } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { TokenBucket } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { KeySet, parseSpan, scanFrame, spanEqualsString, type Span } from '../../protocol/index.js';
import { ROOM_TOPICS } from '../../protocol/topics/rooms.js';
import type { FastPath } from '../../runtime/index.js';
import type { RoomsConfig } from './config.js';
import type { RoomMembers } from './members.js';
import { requireRoomSession } from './session.js';

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
 * membership lookup in RoomMembers and one send: no actor, no log, no promise, and no
 * allocation of its own beyond the frame it sends. Two ways in share `deliver`:
 *
 * - `fromJsonText`, the route-on-the-envelope fast path for native JSON text: the frame is
 *   scanned (validated, not built), and the body is forwarded as the bytes the sender wrote
 *   when the receiver also speaks native JSON.
 * - `fromDecoded`, the relay topics' handler for every other codec and transport, after
 *   the topic's schema.
 */
export class Relay {
  private readonly budgets = new WeakMap<ClientConnection, RelayBudget>();
  /** uWS copies what it sends before `send` returns, so one buffer serves every spliced relay. */
  private scratch = Buffer.allocUnsafe(128 * 1024);

  constructor(
    private readonly members: RoomMembers,
    private readonly config: RoomsConfig,
  ) {}

  /**
   * Returns false for anything that is not a well-formed relay frame, which then takes the
   * generic path (and gets its precise error there); refusals of a well-formed one go to `fail`.
   */
  fromJsonText(connection: ClientConnection, raw: ArrayBuffer | Uint8Array, now: number, fail: Fail): boolean {
    // Every text frame passes here: pings and other short frames leave before any allocation.
    if (raw.byteLength < MIN_RELAY_BYTES) return false;
    const bytes = raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) : Buffer.from(raw);
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
        sendDecoded(target, kind, room, connection.id, parseSpan(bytes, bodySpan), payloadSpan ? parseSpan(bytes, payloadSpan) : undefined);
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
  private deliver(connection: ClientConnection, kind: RelayKind, room: string, to: string, payloadBytes: number, now: number): ClientConnection {
    this.spendBudget(connection, kind, now);
    // The fast path is off the topic pipeline and its guest gate. A guest can only have
    // joined its own item's rooms (room-join-request admits no other; a call admits only its
    // item's guests), so membership alone already keeps it there; this check also covers a
    // socket that joined a room as a user and then authorized as a guest, and costs others nothing.
    const principal = connection.principal;
    if (principal.kind === 'guest' && room !== principal.room && this.members.itemOf(room) !== principal.itemId) throw new AppError('FORBIDDEN', 'a guest may only join the item it was invited to', { reason: 'unauthorized' });
    const members = this.members.of(room);
    const target = members?.get(to);
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
   * `{"event":E,"data":{"room":R,"peer_id":"P","<field>":<body>,"payload":<payload>}}` into
   * the scratch buffer, grown (never shrunk) when a frame needs more.
   */
  private spliceRelay(bytes: Buffer, kind: RelayKind, room: Span, peerId: string, body: Span, payload: Span | undefined): Uint8Array {
    const needed = bytes.length + 128;
    if (this.scratch.length < needed) this.scratch = Buffer.allocUnsafe(Math.max(needed, this.scratch.length * 2));
    const out = this.scratch;
    const parts = RELAY_OUT[kind];
    out.set(parts.head, 0);
    let at = parts.head.length;
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
    return out.subarray(0, at);
  }
}

/** The relayed frame as an object, for targets in another codec or transport. */
function sendDecoded(target: ClientConnection, kind: RelayKind, room: string, from: string, body: unknown, payload: unknown): void {
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
