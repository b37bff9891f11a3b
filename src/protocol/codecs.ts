import { Decoder, Encoder, ExtData } from '@msgpack/msgpack';
import { FrameError, toInboundFrame, type InboundFrame, type OutboundFrame } from './envelope.js';

import type { Codec } from '../core/index.js';

export type { Codec };

/** Subprotocols a client may offer (PROTOCOL.md section 1); the first known one wins. */
export const SUBPROTOCOLS: Readonly<Record<string, Codec>> = {
  'switchyard.v1.json': 'json',
  'switchyard.v1.msgpack': 'msgpack',
};

export function negotiateSubprotocol(header: string | undefined): { protocol: string | null; codec: Codec } {
  if (!header) return { protocol: null, codec: 'json' };
  for (const offered of header.split(',')) {
    const name = offered.trim();
    // Own properties only: an offered `constructor` or `__proto__` must not match.
    const codec = Object.hasOwn(SUBPROTOCOLS, name) ? SUBPROTOCOLS[name] : undefined;
    if (codec) return { protocol: name, codec };
  }
  return { protocol: null, codec: 'json' };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new Encoder({ ignoreUndefined: true });

export interface DecodeLimits {
  /** Containers nested deeper than this inside `data` are refused. */
  maxDepth: number;
}

function msgpackDecoder(maxBytes: number): Decoder {
  // Bounds each length field by the frame size, so a 5-byte header announcing a 4 GiB
  // string is refused before anything is allocated.
  return new Decoder({
    maxStrLength: maxBytes,
    maxBinLength: maxBytes,
    maxArrayLength: maxBytes,
    maxMapLength: maxBytes,
    maxExtLength: maxBytes,
    useBigInt64: false,
  });
}

/**
 * Replaces the views into the input that a MessagePack decode leaves in its result (`bin`
 * fields are Uint8Array views, unknown extension types ExtData over a view) with copies, in
 * place. With this the decoded frame owns all its bytes and the frame's buffer may be freed
 * (uWS frees it when the message callback returns) without copying every frame up front:
 * most frames carry no binary field and pay only this walk. Iterative, so a frame nested
 * far deeper than the depth limit (checked afterwards) cannot exhaust the stack here.
 */
function detachViews(value: unknown): unknown {
  const copied = detachedCopy(value);
  if (copied !== undefined) return copied;
  if (value === null || typeof value !== 'object') return value;
  const stack: object[] = [value];
  while (stack.length > 0) {
    // The decoder builds only arrays and plain objects with own enumerable keys.
    const node = stack.pop() as Record<string, unknown>;
    const keys = Object.keys(node);
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index]!;
      const child = node[key];
      if (child === null || typeof child !== 'object') continue;
      const copy = detachedCopy(child);
      if (copy !== undefined) node[key] = copy;
      else stack.push(child);
    }
  }
  return value;
}

/**
 * A copy of a decoded view (bin or ExtData), or undefined for anything else. `new
 * Uint8Array(view)` and not `view.slice()`: when the input was a Buffer the views are
 * Buffers too, and Buffer#slice returns a view, not a copy.
 */
function detachedCopy(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ExtData) return new ExtData(value.type, value.data instanceof Uint8Array ? new Uint8Array(value.data) : value.data);
  return undefined;
}

export class FrameCodec {
  private readonly decoder: Decoder;

  constructor(
    private readonly limits: DecodeLimits & { maxFrameBytes: number },
  ) {
    this.decoder = msgpackDecoder(limits.maxFrameBytes);
  }

  /**
   * Text frames are JSON, binary frames MessagePack, whatever the connection's codec. The
   * frame returned holds no reference to `message`'s memory: the caller may free or reuse
   * it as soon as this returns.
   */
  decode(message: ArrayBuffer | Uint8Array, isBinary: boolean): InboundFrame {
    if (message.byteLength === 0) throw new FrameError('BAD_REQUEST', 'empty frame');
    const ping = pingFrameOf(message instanceof Uint8Array ? message : new Uint8Array(message), isBinary);
    if (ping !== undefined) return ping;
    let raw: unknown;
    if (isBinary) {
      try {
        raw = this.decoder.decode(message);
      } catch {
        throw new FrameError('BAD_REQUEST', 'binary frame is not valid MessagePack');
      }
      raw = detachViews(raw);
    } else {
      let text: string;
      try {
        text = utf8.decode(message);
      } catch {
        throw new FrameError('BAD_REQUEST', 'text frame is not valid UTF-8');
      }
      try {
        raw = JSON.parse(text);
      } catch {
        throw new FrameError('BAD_REQUEST', 'text frame is not valid JSON');
      }
    }
    return toInboundFrame(raw, this.limits.maxDepth);
  }
}

// ---- `ping` and `pong` without the generic codec (issue 15) ----
//
// `ping` is the frame clients send most (the SDK's heartbeat, a monitor's probe) and carries
// nothing, yet the generic decode (UTF-8 check, JSON.parse or the MessagePack decoder, the
// envelope's checks) and encode were two thirds of the JavaScript a ping cost at the edge
// (bench/ws/ping.mjs --profile). The bytes that JSON.stringify and MessagePack encoders write
// for `{event: "ping", id}` (the SDK's, with data undefined) are recognised byte by byte and give
// the frame the generic path gives; any other spelling (spaces, `data`, another key order, an
// id of another number form) takes the generic path with its checks and error codes.

const ascii = (text: string): number[] => Array.from(text, (char) => char.charCodeAt(0));
/** `{"event":"ping"` */
const JSON_PING_HEAD = Uint8Array.from(ascii('{"event":"ping"'));
/** `,"id":` */
const JSON_ID_KEY = Uint8Array.from(ascii(',"id":'));
/** After the map header: the key `event` (fixstr 5) and the value `ping` (fixstr 4). */
const MSGPACK_PING_EVENT = Uint8Array.from([0xa5, ...ascii('event'), 0xa4, ...ascii('ping')]);
/** The key `id` (fixstr 2). */
const MSGPACK_ID_KEY = Uint8Array.from([0xa2, ...ascii('id')]);
const BRACE_OPEN = 0x7b;
const BRACE_CLOSE = 0x7d;
const DIGIT_ZERO = 0x30;
/** Every id of at most 15 digits is below 2^53: a safe integer, as `readId` requires. */
const MAX_ID_DIGITS = 15;
const MSGPACK_FIXMAP_1 = 0x81;
const MSGPACK_FIXMAP_2 = 0x82;

function bytesAt(bytes: Uint8Array, expected: Uint8Array, at: number): boolean {
  if (bytes.length < at + expected.length) return false;
  for (let index = 0; index < expected.length; index++) if (bytes[at + index] !== expected[index]) return false;
  return true;
}

const pingFrame = (id: number | undefined): InboundFrame => ({ event: 'ping', data: null, id });

/** `{"event":"ping"}` or `{"event":"ping","id":<1 to 15 digits, no leading zero>}`. */
function jsonPing(bytes: Uint8Array): InboundFrame | undefined {
  const { length } = bytes;
  if (bytes[0] !== BRACE_OPEN || bytes[length - 1] !== BRACE_CLOSE || !bytesAt(bytes, JSON_PING_HEAD, 0)) return undefined;
  const afterHead = JSON_PING_HEAD.length;
  if (length === afterHead + 1) return pingFrame(undefined);
  const firstDigit = afterHead + JSON_ID_KEY.length;
  const digits = length - 1 - firstDigit;
  if (digits < 1 || digits > MAX_ID_DIGITS || !bytesAt(bytes, JSON_ID_KEY, afterHead)) return undefined;
  let id = 0;
  for (let index = firstDigit; index < length - 1; index++) {
    const digit = bytes[index]! - DIGIT_ZERO;
    if (digit < 0 || digit > 9 || (digit === 0 && index === firstDigit)) return undefined;
    id = id * 10 + digit;
  }
  return pingFrame(id);
}

/** A MessagePack unsigned integer at `at` that ends the frame and is a valid id (1 to 2^53-1), else undefined. */
function msgpackId(bytes: Uint8Array, at: number): number | undefined {
  const type = bytes[at]!;
  const size = bytes.length - at;
  let id: number;
  if (type >= 0x01 && type <= 0x7f && size === 1) id = type;
  else if (type === 0xcc && size === 2) id = bytes[at + 1]!;
  else if (type === 0xcd && size === 3) id = (bytes[at + 1]! << 8) | bytes[at + 2]!;
  else if (type === 0xce && size === 5) id = readUint32(bytes, at + 1);
  else if (type === 0xcf && size === 9) id = readUint32(bytes, at + 1) * 2 ** 32 + readUint32(bytes, at + 5);
  else return undefined;
  return id >= 1 && id <= Number.MAX_SAFE_INTEGER ? id : undefined;
}

const readUint32 = (bytes: Uint8Array, at: number): number => bytes[at]! * 2 ** 24 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);

/** `{event: "ping"}` or `{event: "ping", id}` in that key order, the id a positive integer. */
function msgpackPing(bytes: Uint8Array): InboundFrame | undefined {
  const map = bytes[0];
  if ((map !== MSGPACK_FIXMAP_1 && map !== MSGPACK_FIXMAP_2) || !bytesAt(bytes, MSGPACK_PING_EVENT, 1)) return undefined;
  const afterEvent = 1 + MSGPACK_PING_EVENT.length;
  if (map === MSGPACK_FIXMAP_1) return bytes.length === afterEvent ? pingFrame(undefined) : undefined;
  if (!bytesAt(bytes, MSGPACK_ID_KEY, afterEvent) || bytes.length <= afterEvent + MSGPACK_ID_KEY.length) return undefined;
  const id = msgpackId(bytes, afterEvent + MSGPACK_ID_KEY.length);
  return id === undefined ? undefined : pingFrame(id);
}

/** The ping frame `bytes` spell in its usual form (text: JSON, binary: MessagePack), or undefined for any other frame. */
export function pingFrameOf(bytes: Uint8Array, isBinary: boolean): InboundFrame | undefined {
  return isBinary ? msgpackPing(bytes) : jsonPing(bytes);
}

/** After the map header: `event`, `pong`, `data`, then `{ts: ` (fixmap 1, fixstr 2), as envelopeOf orders them. */
const MSGPACK_PONG_HEAD = Uint8Array.from([0xa5, ...ascii('event'), 0xa4, ...ascii('pong'), 0xa4, ...ascii('data'), 0x81, 0xa2, ...ascii('ts')]);

/** A MessagePack non-negative integer in the smallest form, as @msgpack/msgpack writes it (`useBigInt64` off). */
function writeMsgpackUint(target: Uint8Array, at: number, value: number): number {
  if (value < 0x80) {
    target[at] = value;
    return at + 1;
  }
  if (value < 0x100) {
    target[at] = 0xcc;
    target[at + 1] = value;
    return at + 2;
  }
  if (value < 0x10000) {
    target[at] = 0xcd;
    target[at + 1] = value >>> 8;
    target[at + 2] = value & 0xff;
    return at + 3;
  }
  const high = Math.floor(value / 2 ** 32);
  const wide = high > 0;
  target[at] = wide ? 0xcf : 0xce;
  let index = at + 1;
  if (wide) {
    for (let shift = 24; shift >= 0; shift -= 8) target[index++] = (high >>> shift) & 0xff;
  }
  const low = value >>> 0;
  for (let shift = 24; shift >= 0; shift -= 8) target[index++] = (low >>> shift) & 0xff;
  return index;
}

/** The largest pong in MessagePack: map, head, a uint64 `ts`, the `id` key and a uint64 id. */
const MSGPACK_PONG_MAX_BYTES = 1 + MSGPACK_PONG_HEAD.length + 9 + MSGPACK_ID_KEY.length + 9;
const MSGPACK_FIXMAP_3 = 0x83;
const isWireInteger = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;

/**
 * Where MessagePack pongs are written: one off-heap slab at a time, each pong a view of its own
 * bytes in it. uWS reads a typed array's backing store, so bytes that start off V8's heap spare
 * the move `encodeFrame` describes, and a view is cheaper to make than a Buffer from the pool.
 * A slab is never written twice: when full a new one is made, and the old one is freed with its
 * last view, so a pong's bytes never change while a send may still read them.
 */
const PONG_SLAB_BYTES = 64 * 1024;
let pongSlab = new Uint8Array(PONG_SLAB_BYTES);
let pongSlabUsed = 0;

/**
 * The pong's bytes up to and with `ts`, for the last `ts` written: pings come by the hundred
 * per millisecond, so most pongs copy these instead of encoding the clock again.
 */
let pongHeadTs = -1;
let pongHead = new Uint8Array(0);

function msgpackPongHead(ts: number): Uint8Array {
  if (ts !== pongHeadTs) {
    const head = new Uint8Array(MSGPACK_PONG_MAX_BYTES);
    head.set(MSGPACK_PONG_HEAD, 1);
    pongHead = head.subarray(0, writeMsgpackUint(head, 1 + MSGPACK_PONG_HEAD.length, ts));
    pongHeadTs = ts;
  }
  return pongHead;
}

/**
 * `pong {ts}` for the ping with `id`: the bytes `encodeFrame(codec, {event: "pong", data: {ts},
 * id})` gives (test/unit/edge-ping-codec.test.ts holds them equal), without building and
 * walking the frame. A `ts` or `id` outside the integers a clock and `readId` make takes
 * `encodeFrame`.
 */
export function encodePong(codec: Codec, ts: number, id: number | undefined): string | Uint8Array {
  if (!isWireInteger(ts) || (id !== undefined && !isWireInteger(id))) return encodeFrame(codec, { event: 'pong', data: { ts }, id });
  // A template is the cheapest JSON: measured against bytes written into the slab, whose
  // decimal digits cost more than uWS's copy of a string (bench/ws/ping.mjs --profile).
  if (codec === 'json') return id === undefined ? `{"event":"pong","data":{"ts":${ts}}}` : `{"event":"pong","data":{"ts":${ts}},"id":${id}}`;
  if (pongSlabUsed + MSGPACK_PONG_MAX_BYTES > PONG_SLAB_BYTES) {
    pongSlab = new Uint8Array(PONG_SLAB_BYTES);
    pongSlabUsed = 0;
  }
  const target = pongSlab;
  const start = pongSlabUsed;
  const head = msgpackPongHead(ts);
  // TypedArray#set, not a byte loop: once uWS has detached a buffer V8 checks every typed-array
  // access, and the loop cost more than the call.
  target.set(head, start);
  let end = start + head.length;
  if (id === undefined) {
    target[start] = MSGPACK_FIXMAP_2;
  } else {
    target[start] = MSGPACK_FIXMAP_3;
    target.set(MSGPACK_ID_KEY, end);
    end = writeMsgpackUint(target, end + MSGPACK_ID_KEY.length, id);
  }
  pongSlabUsed = end;
  return new Uint8Array(target.buffer, start, end - start);
}

/**
 * `{"event":<name>,"data":` by event name, for the JSON fast path below. The server sends a
 * small fixed set of event names; the cap only bounds the cache should one ever be dynamic.
 */
const jsonHeads = new Map<string, string>();
const MAX_JSON_HEADS = 256;

function jsonHead(event: string): string {
  let head = jsonHeads.get(event);
  if (head === undefined) {
    head = `{"event":${JSON.stringify(event)},"data":`;
    if (jsonHeads.size < MAX_JSON_HEADS) jsonHeads.set(event, head);
  }
  return head;
}

/**
 * Bytes (a MessagePack client's `bin` fields, Socket.IO attachments) as a JSON client reads
 * them: an array of numbers, `[1,2]`. JSON.stringify alone writes a Uint8Array as an object
 * with index keys, `{"0":1,"1":2}` (issue 16 point 10).
 */
function bytesAsArrays(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Array.from(value) : value;
}

/**
 * JSON text with every Uint8Array written as an array. A replacer costs every frame a call
 * per value, so the plain stringify runs first and the replacer only when its output shows
 * what a Uint8Array becomes: `{"0":` (cannot occur inside a JSON string, whose quotes are
 * escaped) or `{}` (an empty one, or any empty object: the second pass is then the same text).
 */
function stringifyWithBytes(value: unknown): string | undefined {
  const text = JSON.stringify(value);
  if (text === undefined || (text.indexOf('{"0":') === -1 && text.indexOf('{}') === -1)) return text;
  // `{}` is mostly a plain empty object (an item's empty configuration): a walk that finds no
  // bytes is far cheaper than a second stringify calling the replacer on every value (an
  // itinerary answer of 800 KB: 3 ms plain, 8 ms with the replacer).
  return holdsBytes(value, 0) ? JSON.stringify(value, bytesAsArrays) : text;
}

/** Whether a Uint8Array is anywhere in the value (as deep as JSON.stringify would go; past that, assume so). */
function holdsBytes(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (depth > MAX_BYTES_SEARCH_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const element of value) if (holdsBytes(element, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (holdsBytes((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

/** Frames are at most this deep once decoded (maxFrameDepth's range); deeper data takes the replacer. */
const MAX_BYTES_SEARCH_DEPTH = 256;

/** The keys a client sees: event, data, then seq (a push from the log) and id (a direct answer) when set. */
function envelopeOf({ event, data, seq, id }: OutboundFrame): object {
  // Literals of fixed shapes: the encoder walks them faster than a record grown key by key.
  if (seq === undefined) return id === undefined ? { event, data } : { event, data, id };
  return id === undefined ? { event, data, seq } : { event, data, seq, id };
}

export function encodeFrame(codec: Codec, frame: OutboundFrame): string | Uint8Array {
  if (codec === 'json') {
    // Every frame sent pays this, so JSON is written around JSON.stringify(data) instead of
    // stringifying a whole {event, data, id} object: the same text for the envelope's three
    // keys, about 100 ns less per frame (bench/micro/dispatch.mjs). Data JSON cannot hold
    // (undefined: the key is dropped) and a non-finite id (written as null) are left to the
    // generic path below, which gives their exact output.
    const data = stringifyWithBytes(frame.data);
    const { id, seq } = frame;
    if (data !== undefined && (id === undefined || Number.isFinite(id)) && (seq === undefined || Number.isFinite(seq))) {
      const head = jsonHead(frame.event);
      // `seq` beside `event` (PROTOCOL.md section 11): {"event":"x","data":{...},"seq":42}.
      const tail = seq === undefined ? '' : `,"seq":${seq}`;
      return id === undefined ? `${head}${data}${tail}}` : `${head}${data}${tail},"id":${id}}`;
    }
  }
  // Only the envelope's keys go on the wire (`interim` is for the transports, not the client).
  const body = envelopeOf(frame);
  if (codec === 'json') return stringifyWithBytes(body)!;
  // These bytes go to uWS, which reads a typed array's backing store. `encoder.encode` would
  // return a copy V8 keeps on its own heap when small (up to 64 bytes, most answers), and
  // V8 must then move it off the heap when uWS asks for the store: ~250 ns per frame. A copy
  // into Node's Buffer pool is off the heap from the start (bench/micro/dispatch.mjs). It is
  // handed out as a plain Uint8Array, as before (Buffer's slice() is a view, not a copy);
  // like any pooled Buffer its `.buffer` is the shared pool: mind byteOffset and byteLength.
  const shared = encoder.encodeSharedRef(body);
  const pooled = Buffer.allocUnsafe(shared.byteLength);
  pooled.set(shared);
  return new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.byteLength);
}
