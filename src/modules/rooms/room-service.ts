import type { Config } from '../../app/config.js';
import type { Clock } from '../../core/clock.js';
import { DISCONNECT } from '../../core/disconnect.js';
import { AppError, toPublicError } from '../../core/errors.js';
import { newId, streamId } from '../../core/ids.js';
import { addToIndex, removeFromIndex } from '../../core/collections.js';
import { TokenBucket } from '../../core/rate-limit.js';
import type { Principal } from '../../core/types.js';
import { ROOM_CATEGORY, ROOM_NAME, type RoomCommand, type RoomContext, type RoomEvent, type roomMachine } from './domain/index.js';
import { isPlainObject } from '../../protocol/envelope.js';
import { KeySet, parseSpan, scanFrame, spanEqualsString, type Span } from '../../protocol/json-scan.js';
import type { GatewayRoomHost } from '../grid/index.js';
import type { ActorRuntime } from '../../runtime/actor-runtime.js';
import type { RecordedEvent } from '../../store/types.js';
import type { ClientConnection } from '../../edge/connection.js';
import type { EventHandlers, HandlerContext } from '../../edge/handlers.js';
import { requireSession } from '../identity/topics.js';

/** Who a ban applies to: signed-in users across reconnects, anonymous sessions by connection. */
export function userKeyOf(principal: Principal, peerId: string): string {
  switch (principal.kind) {
    case 'user':
      return `user:${principal.userId}`;
    case 'app':
      return `app:${principal.app}:${peerId}`;
    case 'organisation':
      return `organisation:${principal.organisationId}:${peerId}`;
    default:
      return `peer:${peerId}`;
  }
}

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

interface RelayBudget {
  sdp: TokenBucket;
  ice: TokenBucket;
  strikes: number[];
}

export interface RoomServiceDependencies {
  runtime: ActorRuntime;
  config: Config;
  clock: Clock;
  connection(id: string): ClientConnection | undefined;
}

/**
 * Rooms and WebRTC signalling (PROTOCOL.md section 5) at the edge.
 *
 * State changes (create, join, approve, leave, ban, close) are room commands: durable
 * before anyone hears of them. Their effects (pushes to members, the membership index)
 * run from committed events, whichever process or path committed them.
 *
 * The relay is the hot path: a membership check in `members` (connection objects by
 * peer id, per room, kept in step with the log's events) and one send. No actor, no log.
 */
export class RoomService {
  /** Live members by room: the relay's whole world. Derived from committed room events. */
  private readonly members = new Map<string, Map<string, ClientConnection>>();
  /** Rooms (as member or requester) by peer, to leave them all on disconnect. */
  private readonly roomsOfPeer = new Map<string, Set<string>>();
  /** The `id` of a pending join request's frame, so its accept or reject answers it. */
  private readonly joinRequestIds = new Map<string, number>();
  private readonly budgets = new WeakMap<ClientConnection, RelayBudget>();
  private scratch = Buffer.allocUnsafe(128 * 1024);

  constructor(private readonly deps: RoomServiceDependencies) {}

  register(handlers: EventHandlers): void {
    handlers.on('room-create-request', (context) => this.create(context));
    handlers.on('room-join-request', (context) => this.requestJoin(context));
    handlers.on('room-join-accept', (context) => this.answerJoin(context, true));
    handlers.on('room-join-reject', (context) => this.answerJoin(context, false));
    handlers.on('room-leave', (context) => this.leave(context));
    handlers.on('relay-session-description', (context) => this.relay(context, 'sdp'));
    handlers.on('relay-ice-candidate', (context) => this.relay(context, 'ice'));
  }

  /** The room's current state (members, owners, bans), from its actor. */
  state(room: string): { open: boolean; context: RoomContext } {
    const snapshot = this.deps.runtime.read<typeof roomMachine>(streamId(ROOM_CATEGORY, room));
    return { open: snapshot.matches('open'), context: snapshot.context };
  }

  isHosted(room: string): boolean {
    return this.members.has(room);
  }

  // ---- operator actions (room API, CLI): act at once on rooms this gateway hosts ----

  async close(room: string, reason: string, by: string, banSeconds?: number): Promise<boolean> {
    if (!this.isHosted(room)) return false;
    await this.execute(room, { type: 'CloseRoom', reason, by, banSeconds, now: this.deps.clock.now() }, by);
    return true;
  }

  async update(room: string, userData: number[], by: string): Promise<boolean> {
    if (!this.isHosted(room)) return false;
    await this.execute(room, { type: 'UpdateRoom', userData, by }, by);
    return true;
  }

  async ban(room: string, userKey: string, until: number | null, by: string): Promise<boolean> {
    if (!this.isHosted(room)) return false;
    await this.execute(room, { type: 'BanUser', userKey, until, by, now: this.deps.clock.now() }, by);
    return true;
  }

  /**
   * The room API's view of gateway-hosted rooms (PROTOCOL.md section 6): a room id names a
   * room of section 5 directly (ODIN namespaces do not apply to them), and a user id is a
   * signed-in user. Rooms this gateway does not host answer false and go to the SFU grid.
   */
  asGatewayRoomHost(): GatewayRoomHost {
    const by = 'room-api';
    // A user id names a signed-in user (`user:<id>`) or, for anonymous sessions, a peer_id.
    const keysOf = (room: string, userId: string): string[] => {
      if (!this.isHosted(room)) return [];
      const members = this.state(room).context.members.filter((member) => member.userKey === `user:${userId}` || member.peerId === userId);
      return members.length > 0 ? [...new Set(members.map((member) => member.userKey))] : [`user:${userId}`];
    };
    return {
      close: (room, banSeconds) => this.close(room.name, 'closed by the room API', by, banSeconds),
      update: (room, userData) => this.update(room.name, Array.from(userData), by),
      ban: async (room, userId, banSeconds) => {
        const until = banSeconds > 0 ? this.deps.clock.now() + banSeconds * 1000 : null;
        let hosted = false;
        for (const key of keysOf(room.name, userId)) hosted = (await this.ban(room.name, key, until, by)) || hosted;
        return hosted;
      },
      sendMessage: (room, userId, message) => {
        const keys = keysOf(room.name, userId);
        return keys.map((key) => this.sendMessage(room.name, Array.from(message), key)).some(Boolean);
      },
    };
  }

  /** A message to every member, or to the members signed in as `userKey`. Not state: not logged. */
  sendMessage(room: string, message: unknown, userKey?: string): boolean {
    const members = this.members.get(room);
    if (!members) return false;
    const roomState = userKey === undefined ? undefined : this.state(room).context;
    for (const [peerId, connection] of members) {
      if (roomState && !roomState.members.some((member) => member.peerId === peerId && member.userKey === userKey)) continue;
      connection.send({ event: 'room-message', data: { room, message } });
    }
    return true;
  }

  /** A closed socket leaves every room it was in or waiting for. */
  async connectionClosed(connection: ClientConnection): Promise<void> {
    const rooms = this.roomsOfPeer.get(connection.id);
    if (!rooms) return;
    await Promise.allSettled(
      [...rooms].map((room) => this.execute(room, { type: 'Leave', peerId: connection.id, reason: 'disconnected' }, `connection:${connection.id}`)),
    );
    this.roomsOfPeer.delete(connection.id);
  }

  /**
   * After a restart nobody is connected: every open room's members and requesters leave
   * (reason "gateway restarted"), which closes the rooms. Bans stay.
   */
  async recover(roomStreams: string[]): Promise<number> {
    let closed = 0;
    for (const stream of roomStreams) {
      const snapshot = this.deps.runtime.read<typeof roomMachine>(stream);
      if (!snapshot.matches('open')) continue;
      const command: RoomCommand = { type: 'CloseRoom', reason: 'gateway restarted', by: 'system', now: this.deps.clock.now() };
      await this.deps.runtime.execute(stream, command, { actor: 'system' });
      closed += 1;
    }
    return closed;
  }

  /** Effects of committed room events: the membership index and the pushes of section 5. */
  applyCommitted(events: readonly RecordedEvent[]): void {
    for (const recorded of events) {
      if (!recorded.streamId.startsWith(`${ROOM_CATEGORY}-`)) continue;
      this.applyRoomEvent(recorded as unknown as RoomEvent);
    }
  }

  private applyRoomEvent(event: RoomEvent): void {
    const room = event.data.room;
    const members = this.members.get(room);
    const pushToMembers = (name: string, data: unknown, except?: string) => {
      for (const [peerId, connection] of members ?? []) if (peerId !== except) connection.send({ event: name, data });
    };
    switch (event.type) {
      case 'RoomCreated': {
        const owner = this.deps.connection(event.data.owner.peerId);
        this.members.set(room, new Map(owner ? [[owner.id, owner]] : []));
        this.track(event.data.owner.peerId, room);
        return;
      }
      case 'JoinRequested': {
        this.track(event.data.peerId, room);
        const owners = this.ownersOf(room);
        for (const peerId of owners) {
          members?.get(peerId)?.send({ event: 'room-join-request', data: { room, peer_id: event.data.peerId, payload: event.data.payload } });
        }
        return;
      }
      case 'JoinApproved': {
        const joiner = this.deps.connection(event.data.peerId);
        if (!members || !joiner) return;
        const peers = [...members.keys()];
        members.set(joiner.id, joiner);
        const id = this.takeJoinId(room, joiner.id);
        joiner.send({ event: 'room-join-accept', data: { room, peer_id: joiner.id, peers, payload: event.data.payload }, id });
        pushToMembers('room-user-join', { room, peer_id: joiner.id, payload: this.requestPayload(room, joiner.id) }, joiner.id);
        return;
      }
      case 'JoinRejected': {
        const id = this.takeJoinId(room, event.data.peerId);
        if (event.data.reason !== 'withdrawn') {
          this.deps.connection(event.data.peerId)?.send({
            event: 'room-join-reject',
            data: { room, peer_id: event.data.peerId, message: `join ${event.data.reason}`, code: 'FORBIDDEN' },
            id,
          });
        }
        this.untrack(event.data.peerId, room);
        return;
      }
      case 'MemberLeft': {
        members?.delete(event.data.peerId);
        this.untrack(event.data.peerId, room);
        pushToMembers('room-user-leave', { room, peer_id: event.data.peerId });
        return;
      }
      case 'OwnerChanged':
        pushToMembers('room-owner-change', { room, peer_id: event.data.peerId });
        return;
      case 'MemberBanned': {
        for (const [peerId, connection] of members ?? []) {
          // The connection's own key: the room's state already shows the member gone.
          if (userKeyOf(connection.principal, peerId) === event.data.userKey) connection.send({ event: 'room-banned', data: { room, until: event.data.until } });
        }
        return;
      }
      case 'RoomUpdated':
        pushToMembers('room-updated', { room, user_data: event.data.userData });
        return;
      case 'RoomClosed': {
        if (event.data.reason !== 'empty') pushToMembers('room-closed', { room, reason: event.data.reason });
        for (const peerId of members?.keys() ?? []) this.untrack(peerId, room);
        this.members.delete(room);
        return;
      }
    }
  }

  // ---- socket events ----

  private async create({ connection, frame, now }: HandlerContext): Promise<void> {
    const data = isPlainObject(frame.data) ? frame.data : {};
    try {
      const principal = requireSession(connection, frame.data);
      const room = data.room === undefined ? newId(9) : data.room;
      this.checkRoomName(room);
      const payload = this.checkPayload(data.payload);
      await this.execute(room, { type: 'CreateRoom', room, peerId: connection.id, userKey: userKeyOf(principal, connection.id), payload, now }, `connection:${connection.id}`);
      connection.reply(frame.id, 'room-create-accept', { room, payload });
    } catch (error) {
      this.reject(connection, frame.id, 'room-create-reject', error, typeof data.room === 'string' ? { room: data.room } : {});
    }
  }

  private async requestJoin({ connection, frame, now }: HandlerContext): Promise<void> {
    const data = isPlainObject(frame.data) ? frame.data : {};
    try {
      const principal = requireSession(connection, frame.data);
      const room = data.room;
      this.checkRoomName(room);
      const payload = this.checkPayload(data.payload);
      if (frame.id !== undefined) this.joinRequestIds.set(`${room}\n${connection.id}`, frame.id);
      const result = await this.execute(room, { type: 'RequestJoin', peerId: connection.id, userKey: userKeyOf(principal, connection.id), payload, now }, `connection:${connection.id}`);
      // Answered later by the owner's accept or reject, which carries this frame's id.
      if (result.events.length === 0 && frame.id !== undefined) connection.reply(frame.id, 'result', { room, pending: true });
    } catch (error) {
      if (typeof data.room === 'string') this.joinRequestIds.delete(`${data.room}\n${connection.id}`);
      this.reject(connection, frame.id, 'room-join-reject', error, typeof data.room === 'string' ? { room: data.room, peer_id: connection.id } : {});
    }
  }

  private async answerJoin({ connection, frame, now }: HandlerContext, approve: boolean): Promise<void> {
    requireSession(connection, frame.data);
    const data = isPlainObject(frame.data) ? frame.data : {};
    const room = data.room;
    this.checkRoomName(room);
    const peerId = data.peer_id ?? data.to;
    if (typeof peerId !== 'string') throw new AppError('BAD_REQUEST', `${approve ? 'room-join-accept' : 'room-join-reject'} needs {room, peer_id}`);
    const payload = this.checkPayload(data.payload);
    const command: RoomCommand = approve
      ? { type: 'ApproveJoin', by: connection.id, peerId, payload, now }
      : { type: 'RejectJoin', by: connection.id, peerId };
    await this.execute(room, command, `connection:${connection.id}`);
    if (frame.id !== undefined) connection.reply(frame.id, 'result', { room, peer_id: peerId, approved: approve });
  }

  private async leave({ connection, frame }: HandlerContext): Promise<void> {
    requireSession(connection, frame.data);
    const room = isPlainObject(frame.data) ? frame.data.room : undefined;
    this.checkRoomName(room);
    await this.execute(room, { type: 'Leave', peerId: connection.id, reason: 'left' }, `connection:${connection.id}`);
    if (frame.id !== undefined) connection.reply(frame.id, 'result', { room, left: true });
  }

  /**
   * The JSON relay without a full decode: the frame is scanned (validated, not built), the
   * envelope's small fields are parsed, and the description or candidate is forwarded as
   * the bytes the sender wrote when the receiver also speaks native JSON. Returns false for
   * anything that is not a well-formed relay frame, which then takes the generic path (and
   * gets its precise error there).
   */
  relayFromJsonText(connection: ClientConnection, raw: ArrayBuffer | Uint8Array, now: number, fail: (client: ClientConnection, id: number | undefined, error: unknown, now: number) => void): boolean {
    // Every text frame passes here: pings and other short frames leave before any allocation.
    if (raw.byteLength < MIN_RELAY_BYTES) return false;
    const bytes = raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) : Buffer.from(raw);
    if (bytes.indexOf(RELAY_PREFIX) === -1) return false;
    const scanned = scanFrame(bytes, this.deps.config.maxFrameDepth, ENVELOPE_KEYS, ENVELOPE.data, DATA_KEYS);
    if (!scanned?.data) return false;
    const eventSpan = scanned.envelope[ENVELOPE.event];
    if (!eventSpan) return false;
    const kind = spanEqualsString(bytes, eventSpan, 'relay-ice-candidate')
      ? 'ice'
      : spanEqualsString(bytes, eventSpan, 'relay-session-description')
        ? 'sdp'
        : undefined;
    if (!kind) return false;
    const roomSpan = scanned.data[DATA.room];
    const toSpan = scanned.data[DATA.to];
    const bodySpan = scanned.data[kind === 'sdp' ? DATA.session_description : DATA.ice_candidate];
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
      requireSession(connection, authSpan ? { auth: parseSpan(bytes, authSpan) } : undefined);
      this.spendBudget(connection, kind, now);
      const members = this.members.get(room);
      const target = members?.get(to);
      if (!target || !members!.has(connection.id)) throw new AppError('FORBIDDEN', 'relays go only between members of the same room');
      if (payloadSpan && payloadSpan[1] - payloadSpan[0] > this.deps.config.maxPayloadBytes) {
        throw new AppError('PAYLOAD_TOO_LARGE', `payload is ${payloadSpan[1] - payloadSpan[0]} bytes as JSON; the limit is ${this.deps.config.maxPayloadBytes}`);
      }
      if (target.info.transport === 'native' && target.codec === 'json') {
        target.sendEncoded(this.spliceRelay(bytes, kind, roomSpan!, connection.id, bodySpan, payloadSpan), false);
      } else {
        const payload = payloadSpan ? parseSpan(bytes, payloadSpan) : undefined;
        const field = kind === 'sdp' ? 'session_description' : 'ice_candidate';
        target.send({ event: kind === 'sdp' ? 'session-description' : 'ice-candidate', data: { room, peer_id: connection.id, [field]: parseSpan(bytes, bodySpan), payload } });
      }
      if (frameId !== undefined) connection.reply(frameId, 'result', { delivered: true });
    } catch (error) {
      fail(connection, frameId, error, now);
    }
    return true;
  }

  /**
   * `{"event":E,"data":{"room":R,"peer_id":"P","<field>":<body>,"payload":<payload>}}` into
   * a reused buffer: uWS copies what it sends before `send` returns, so one scratch buffer
   * serves every relay without a per-message allocation.
   */
  private spliceRelay(bytes: Buffer, kind: 'sdp' | 'ice', room: Span, peerId: string, body: Span, payload: Span | undefined): Uint8Array {
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

  /** The hot path. Synchronous: a map lookup, a budget check, one send. */
  private relay({ connection, frame, now }: HandlerContext, kind: 'sdp' | 'ice'): void {
    requireSession(connection, frame.data);
    const data = frame.data;
    if (!isPlainObject(data) || typeof data.room !== 'string' || typeof data.to !== 'string') {
      throw new AppError('BAD_REQUEST', 'a relay needs {room, to, ...}');
    }
    const field = kind === 'sdp' ? 'session_description' : 'ice_candidate';
    const body = data[field];
    if (body === undefined || body === null) throw new AppError('BAD_REQUEST', `a relay needs "${field}"`);
    this.spendBudget(connection, kind, now);
    const members = this.members.get(data.room);
    const target = members?.get(data.to);
    if (!target || !members!.has(connection.id)) throw new AppError('FORBIDDEN', 'relays go only between members of the same room');
    const payload = data.payload === undefined ? undefined : this.checkPayload(data.payload);
    target.send({
      event: kind === 'sdp' ? 'session-description' : 'ice-candidate',
      data: { room: data.room, peer_id: connection.id, [field]: body, payload },
    });
    if (frame.id !== undefined) connection.reply(frame.id, 'result', { delivered: true });
  }

  // ---- helpers ----

  private execute(room: string, command: RoomCommand, actor: string) {
    return this.deps.runtime.execute(streamId(ROOM_CATEGORY, room), command, { actor });
  }

  private reject(connection: ClientConnection, id: number | undefined, event: string, error: unknown, extra: Record<string, unknown>): void {
    const { code, message } = toPublicError(error);
    connection.reply(id, event, { ...extra, message, code });
  }

  private checkRoomName(room: unknown): asserts room is string {
    if (typeof room !== 'string' || !ROOM_NAME.test(room)) {
      throw new AppError('BAD_REQUEST', 'room must be 1-128 characters of [A-Za-z0-9_.:@+{}=-]');
    }
  }

  private checkPayload(payload: unknown): unknown {
    if (payload === undefined) return null;
    const size = Buffer.byteLength(JSON.stringify(payload) ?? '');
    if (size > this.deps.config.maxPayloadBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `payload is ${size} bytes as JSON; the limit is ${this.deps.config.maxPayloadBytes}`);
    }
    return payload;
  }

  private spendBudget(connection: ClientConnection, kind: 'sdp' | 'ice', now: number): void {
    let budget = this.budgets.get(connection);
    if (!budget) {
      const { relaySdpPerSecond, relayIcePerSecond } = this.deps.config;
      budget = {
        sdp: new TokenBucket(relaySdpPerSecond * 2, relaySdpPerSecond, now),
        ice: new TokenBucket(relayIcePerSecond * 2, relayIcePerSecond, now),
        strikes: [],
      };
      this.budgets.set(connection, budget);
    }
    if (budget[kind].take(now)) return;
    // Sustained abuse: past the strike limit in 10 s the socket goes (4029, may reconnect).
    budget.strikes = budget.strikes.filter((time) => time > now - 10_000);
    budget.strikes.push(now);
    if (budget.strikes.length >= this.deps.config.rateLimitStrikes) connection.close(DISCONNECT.rateLimited);
    throw new AppError('RATE_LIMITED', `too many ${kind === 'sdp' ? 'session descriptions' : 'ICE candidates'}; slow down`);
  }

  private ownersOf(room: string): string[] {
    return this.state(room).context.owners;
  }

  private requestPayload(room: string, peerId: string): unknown {
    return this.state(room).context.members.find((member) => member.peerId === peerId)?.payload ?? null;
  }

  private takeJoinId(room: string, peerId: string): number | undefined {
    const key = `${room}\n${peerId}`;
    const id = this.joinRequestIds.get(key);
    this.joinRequestIds.delete(key);
    return id;
  }

  private track(peerId: string, room: string): void {
    addToIndex(this.roomsOfPeer, peerId, room);
  }

  private untrack(peerId: string, room: string): void {
    removeFromIndex(this.roomsOfPeer, peerId, room);
  }
}
