import { isPlainObject } from './envelope.js';

/**
 * Socket.IO packets: protocol revision 5 (socket.io 3.x/4.x, carried by Engine.IO v4) and
 * revision 4 (socket.io 2.x, carried by Engine.IO v3). Pure: text and bytes in, packets out.
 *
 * A packet is one text message, `<type>[<attachments>-][<nsp>,][<id>][<json>]`, e.g.
 * `42["room-join-request",{...}]`, `43/admin,7[{"ok":true}]`, then for BINARY_EVENT and
 * BINARY_ACK one binary message per attachment; the JSON holds
 * `{"_placeholder":true,"num":<index>}` where each attachment goes.
 *
 * The two revisions differ in what the server does (who connects the main namespace, the
 * CONNECT payload: `auth` in 5, a `?query` after the namespace in 4), hardly in the syntax.
 */

export type SocketIoRevision = 4 | 5;

export const SocketIoPacketType = {
  CONNECT: 0,
  DISCONNECT: 1,
  EVENT: 2,
  ACK: 3,
  /** `ERROR` in revision 4. */
  CONNECT_ERROR: 4,
  BINARY_EVENT: 5,
  BINARY_ACK: 6,
} as const;

export type SocketIoPacketType = (typeof SocketIoPacketType)[keyof typeof SocketIoPacketType];

export const MAIN_NAMESPACE = '/';

export interface SocketIoPacket {
  type: SocketIoPacketType;
  /** `/` for the main namespace. */
  nsp: string;
  /** Ack id: on an EVENT, the sender wants an ACK with this id; on an ACK, the event it answers. */
  id?: number;
  /** EVENT: `[name, ...args]`; ACK: `[...args]`; CONNECT: auth (rev. 5); CONNECT_ERROR: `{message, data?}` or a string. */
  data?: unknown;
  /** Revision 4 CONNECT to a namespace may carry a query string: `40/admin?token=abc,`. */
  query?: string;
}

/** A message that is not a valid Socket.IO packet. The caller counts it as a bad frame. */
export class SocketIoPacketError extends Error {
  override readonly name = 'SocketIoPacketError';
}

/** Names the Socket.IO libraries use themselves; a packet may not carry them as events. */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

export const MAX_NAMESPACE_LENGTH = 256;
/** socket.io-parser's own default; a client that needs more can send fewer, larger buffers. */
export const DEFAULT_MAX_ATTACHMENTS = 10;

const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39;

export interface SocketIoDecodeLimits {
  maxAttachments: number;
  /** Bytes of all attachments of one packet together. */
  maxAttachmentBytes: number;
}

/** Parses one text packet. Binary packets come back with their placeholders and the count. */
export function decodeSocketIoText(text: string, maxAttachments = DEFAULT_MAX_ATTACHMENTS): { packet: SocketIoPacket; attachments: number } {
  const type = text.charCodeAt(0) - 0x30;
  if (!(type >= 0 && type <= 6)) throw new SocketIoPacketError(`unknown Socket.IO packet type "${text.slice(0, 1)}"`);
  let at = 1;
  let attachments = 0;
  if (type === SocketIoPacketType.BINARY_EVENT || type === SocketIoPacketType.BINARY_ACK) {
    const dash = text.indexOf('-', at);
    const count = dash === -1 ? '' : text.slice(at, dash);
    if (count.length === 0 || count.length > 3 || ![...count].every((char) => isDigit(char.charCodeAt(0)))) {
      throw new SocketIoPacketError('binary packet without a valid attachment count');
    }
    attachments = Number(count);
    if (attachments < 1) throw new SocketIoPacketError('binary packet without attachments');
    if (attachments > maxAttachments) throw new SocketIoPacketError(`more than ${maxAttachments} attachments`);
    at = dash + 1;
  }
  let nsp = MAIN_NAMESPACE;
  let query: string | undefined;
  if (text.charCodeAt(at) === 0x2f /* / */) {
    const comma = text.indexOf(',', at);
    const end = comma === -1 ? text.length : comma;
    nsp = text.slice(at, end);
    at = comma === -1 ? end : end + 1;
    const question = nsp.indexOf('?');
    if (question !== -1) {
      query = nsp.slice(question + 1);
      nsp = nsp.slice(0, question);
    }
    if (nsp.length > MAX_NAMESPACE_LENGTH) throw new SocketIoPacketError(`namespace longer than ${MAX_NAMESPACE_LENGTH} characters`);
  }
  let id: number | undefined;
  const idStart = at;
  while (at < text.length && isDigit(text.charCodeAt(at))) at += 1;
  if (at > idStart) {
    id = Number(text.slice(idStart, at));
    if (!Number.isSafeInteger(id)) throw new SocketIoPacketError('ack id is not a safe integer');
  }
  let data: unknown;
  if (at < text.length) {
    try {
      data = JSON.parse(text.slice(at));
    } catch {
      throw new SocketIoPacketError('packet payload is not valid JSON');
    }
  }
  checkPayload(type as SocketIoPacketType, data);
  const packet: SocketIoPacket = { type: type as SocketIoPacketType, nsp };
  if (id !== undefined) packet.id = id;
  if (data !== undefined) packet.data = data;
  if (query !== undefined) packet.query = query;
  return { packet, attachments };
}

function checkPayload(type: SocketIoPacketType, data: unknown): void {
  switch (type) {
    case SocketIoPacketType.CONNECT:
      if (data !== undefined && !isPlainObject(data)) throw new SocketIoPacketError('CONNECT payload must be an object');
      return;
    case SocketIoPacketType.DISCONNECT:
      if (data !== undefined) throw new SocketIoPacketError('DISCONNECT carries no payload');
      return;
    case SocketIoPacketType.CONNECT_ERROR:
      if (typeof data !== 'string' && !isPlainObject(data)) throw new SocketIoPacketError('CONNECT_ERROR payload must be an object or a string');
      return;
    case SocketIoPacketType.EVENT:
    case SocketIoPacketType.BINARY_EVENT:
      if (!Array.isArray(data) || data.length === 0) throw new SocketIoPacketError('EVENT payload must be an array ["name", ...args]');
      if (typeof data[0] !== 'string') throw new SocketIoPacketError('event name must be a string');
      if (RESERVED_EVENTS.has(data[0])) throw new SocketIoPacketError(`"${data[0]}" is a reserved event name`);
      return;
    case SocketIoPacketType.ACK:
    case SocketIoPacketType.BINARY_ACK:
      if (!Array.isArray(data)) throw new SocketIoPacketError('ACK payload must be an array');
      return;
  }
}

/**
 * Puts attachments where their placeholders are. Every placeholder must name an
 * attachment that exists (socket.io-parser 4.2.3 added the same check after placeholders
 * with other `num`s let clients inject values).
 */
export function reconstructBinary(value: unknown, attachments: readonly Uint8Array[]): unknown {
  if (Array.isArray(value)) return value.map((item) => reconstructBinary(item, attachments));
  if (!isPlainObject(value)) return value;
  if (value._placeholder === true) {
    const num = value.num;
    if (typeof num !== 'number' || !Number.isInteger(num) || num < 0 || num >= attachments.length) {
      throw new SocketIoPacketError('placeholder names no attachment');
    }
    return attachments[num];
  }
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = reconstructBinary(item, attachments);
  return copy;
}

/**
 * Turns a connection's incoming messages into packets, holding a binary packet until its
 * attachments have arrived. One per connection; its only state is that one packet.
 */
export class SocketIoDecoder {
  private pending: { packet: SocketIoPacket; expected: number; buffers: Uint8Array[]; bytes: number } | undefined;

  constructor(private readonly limits: SocketIoDecodeLimits = { maxAttachments: DEFAULT_MAX_ATTACHMENTS, maxAttachmentBytes: Number.MAX_SAFE_INTEGER }) {}

  get awaitingAttachments(): boolean {
    return this.pending !== undefined;
  }

  /** The packet the message completes, or undefined while attachments are still due. */
  add(message: string | Uint8Array): SocketIoPacket | undefined {
    if (typeof message === 'string') {
      if (this.pending) {
        this.pending = undefined;
        throw new SocketIoPacketError('text packet while binary attachments were due');
      }
      const { packet, attachments } = decodeSocketIoText(message, this.limits.maxAttachments);
      if (attachments === 0) return packet;
      this.pending = { packet, expected: attachments, buffers: [], bytes: 0 };
      return undefined;
    }
    const pending = this.pending;
    if (!pending) throw new SocketIoPacketError('binary data without a binary packet announcing it');
    pending.bytes += message.byteLength;
    if (pending.bytes > this.limits.maxAttachmentBytes) {
      this.pending = undefined;
      throw new SocketIoPacketError(`attachments exceed ${this.limits.maxAttachmentBytes} bytes`);
    }
    pending.buffers.push(message);
    if (pending.buffers.length < pending.expected) return undefined;
    this.pending = undefined;
    const { packet, buffers } = pending;
    return {
      ...packet,
      type: packet.type === SocketIoPacketType.BINARY_EVENT ? SocketIoPacketType.EVENT : SocketIoPacketType.ACK,
      data: reconstructBinary(packet.data, buffers),
    };
  }
}

function isBinary(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function toBytes(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** True when binary data sits anywhere in arrays and plain objects under `value`. */
export function hasBinary(value: unknown): boolean {
  if (isBinary(value)) return true;
  if (Array.isArray(value)) return value.some(hasBinary);
  if (isPlainObject(value)) {
    for (const key in value) if (hasBinary(value[key])) return true;
  }
  return false;
}

function deconstruct(value: unknown, buffers: Uint8Array[]): unknown {
  if (isBinary(value)) {
    buffers.push(toBytes(value));
    return { _placeholder: true, num: buffers.length - 1 };
  }
  if (Array.isArray(value)) return value.map((item) => deconstruct(item, buffers));
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = deconstruct(item, buffers);
    return copy;
  }
  return value;
}

/**
 * The wire form of a packet: its text, then its attachments. EVENT and ACK packets whose
 * data holds binary become BINARY_EVENT and BINARY_ACK with placeholders.
 */
export function encodeSocketIoPacket(packet: SocketIoPacket): { text: string; attachments: Uint8Array[] } {
  let { type, data } = packet;
  const attachments: Uint8Array[] = [];
  if ((type === SocketIoPacketType.EVENT || type === SocketIoPacketType.ACK) && hasBinary(data)) {
    type = type === SocketIoPacketType.EVENT ? SocketIoPacketType.BINARY_EVENT : SocketIoPacketType.BINARY_ACK;
    data = deconstruct(data, attachments);
  }
  let text = String(type);
  if (attachments.length > 0) text += `${attachments.length}-`;
  if (packet.nsp !== MAIN_NAMESPACE) text += `${packet.nsp},`;
  if (packet.id !== undefined) text += String(packet.id);
  if (data !== undefined) text += JSON.stringify(data);
  return { text, attachments };
}
