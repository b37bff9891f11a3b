import { isUtf8 } from 'node:buffer';
import { Decoder } from '@msgpack/msgpack';
import type { Span } from './json-scan.js';

/**
 * A validating MessagePack scanner over raw bytes that records where values are instead of
 * building them: the MessagePack twin of json-scan.ts. The relay routes a frame on its
 * envelope (`event`, `data.room`, `data.to`) and forwards the body's bytes as they came,
 * where a full decode and re-encode of a 4 KB session description cost more than all the
 * rest of the relay (bench/RESULTS.md, relay profile).
 *
 * What it accepts, the frame codec's decoder (@msgpack/msgpack 3, as FrameCodec configures
 * it) accepts too and reads as the same values, so a spliced body means to every receiver
 * what the re-encoded one would. Whatever the decoder refuses or reads differently than the
 * bytes say makes it return undefined, and the frame takes the generic path, which answers
 * it precisely. Refused here:
 * - any length past the end, trailing bytes, the never-used type 0xc1;
 * - containers nested deeper than `maxDepth` (counted as the generic decoder counts `data`:
 *   `data` itself is level 1; elsewhere in the envelope the same bound, which is stricter);
 * - map keys that are not strings (the decoder takes numbers too, and turns them into string
 *   keys that can collide), and `__proto__` (the decoder refuses it);
 * - strings that are not valid UTF-8 (the decoder does not refuse them: it decodes them to
 *   replacement or garbage characters, unlike the bytes a splice would forward), and strings
 *   over 200 bytes starting with a byte order mark (the decoder's TextDecoder drops it);
 * - extension types (the timestamp one decodes to a Date, others to ExtData: none of it
 *   belongs in signalling) and 64-bit integers beyond 2^53 either way (the decoder rounds
 *   them to a double, which the generic path would forward instead of the sender's value).
 *
 * A key repeated in a map is read as the decoder reads it: the last one wins.
 */

/** Pre-encoded member names a scan looks for; all other members are checked and skipped. */
export class MsgpackKeySet {
  /** Each key's UTF-8 bytes (a key is compared by its content, whatever string header it came with). */
  readonly names: readonly Uint8Array[];
  constructor(readonly keys: readonly string[]) {
    this.names = keys.map((key) => Buffer.from(key, 'utf8'));
  }
}

export interface ScannedMsgpackFrame {
  /** Spans of the envelope's wanted members, by index in the envelope key set. */
  envelope: (Span | undefined)[];
  /** Spans of `data`'s wanted members, when `data` is a map. */
  data: (Span | undefined)[] | undefined;
  /** Whether a `bin` value occurs anywhere in the frame: a decoded span may then hold views of it (`decodeMsgpackSpan`). */
  binary: boolean;
}

const NIL = 0xc0;
/** @msgpack/msgpack decodes strings longer than this with TextDecoder, which drops a leading BOM. */
const TEXT_DECODER_FROM = 201;
/** Strings at least this long are checked by the native `isUtf8` instead of a JavaScript loop. */
const NATIVE_UTF8_FROM = 64;
const PROTO_KEY = Buffer.from('__proto__');

/** Where the content of the last string `endOfString` read starts (saves a tuple per string). */
let stringStart = 0;
/** Set when the scan meets a `bin` value; reset at the start of each scan. */
let sawBinary = false;

/** Big-endian unsigned length of `size` bytes at `at`, or -1 when they run past the end. */
function lengthAt(bytes: Uint8Array, at: number, size: 1 | 2 | 4): number {
  if (at + size > bytes.length) return -1;
  if (size === 1) return bytes[at]!;
  if (size === 2) return (bytes[at]! << 8) | bytes[at + 1]!;
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

/** True when [start, end) is UTF-8 that every decoder reads as the same string. */
function validString(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length >= TEXT_DECODER_FROM && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) return false;
  if (length < NATIVE_UTF8_FROM) {
    let index = start;
    while (index < end && bytes[index]! < 0x80) index++;
    if (index === end) return true;
  }
  return isUtf8(new Uint8Array(bytes.buffer, bytes.byteOffset + start, length));
}

/**
 * End of the string whose header is at `at` (setting `stringStart`), or -1 when the value
 * there is not a string, runs past the end or is not valid UTF-8.
 */
function endOfString(bytes: Uint8Array, at: number): number {
  const head = bytes[at];
  let start: number;
  let length: number;
  if (head === undefined) return -1;
  if (head >= 0xa0 && head <= 0xbf) {
    start = at + 1;
    length = head & 0x1f;
  } else if (head === 0xd9 || head === 0xda || head === 0xdb) {
    const size = head === 0xd9 ? 1 : head === 0xda ? 2 : 4;
    length = lengthAt(bytes, at + 1, size);
    if (length < 0) return -1;
    start = at + 1 + size;
  } else {
    return -1;
  }
  const end = start + length;
  if (end > bytes.length || !validString(bytes, start, end)) return -1;
  stringStart = start;
  return end;
}

/** End of a map key at `at`: a string, and not one the decoder refuses. */
function endOfKey(bytes: Uint8Array, at: number): number {
  const end = endOfString(bytes, at);
  if (end === -1) return -1;
  if (end - stringStart === PROTO_KEY.length && equalBytes(bytes, stringStart, PROTO_KEY)) return -1;
  return end;
}

function equalBytes(bytes: Uint8Array, start: number, expected: Uint8Array): boolean {
  for (let index = 0; index < expected.length; index++) if (bytes[start + index] !== expected[index]) return false;
  return true;
}

/** `at + size` when that is within the buffer, else -1. */
function fixed(bytes: Uint8Array, at: number, size: number): number {
  return at + size <= bytes.length ? at + size : -1;
}

/** A 64-bit integer at `at` (after its head byte) within 2^53 either way: its high word fits 21 bits and a sign. */
function exactInt64(bytes: Uint8Array, at: number, signed: boolean): boolean {
  const high = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
  return signed ? high >= -0x200000 && high <= 0x1fffff : high >>> 0 <= 0x1fffff;
}

/** The entry count of the container whose header `containerAt` read last. */
let containerCount = 0;

/**
 * Reads the header of the map (or array) at `at` whose head byte is `head`: sets
 * `containerCount` and returns where its first entry starts, or -1 when `head` is not such a
 * header or its count runs past the end.
 */
function containerAt(bytes: Uint8Array, at: number, head: number, map: boolean): number {
  if (map ? head >= 0x80 && head <= 0x8f : head >= 0x90 && head <= 0x9f) {
    containerCount = head & 0x0f;
    return at + 1;
  }
  const size = head === (map ? 0xde : 0xdc) ? 2 : head === (map ? 0xdf : 0xdd) ? 4 : 0;
  if (size === 0) return -1;
  const count = lengthAt(bytes, at + 1, size);
  if (count < 0) return -1;
  containerCount = count;
  return at + 1 + size;
}

/** End (exclusive) of any value at `at`, or -1. `depth` is the level a container here would have. */
function endOfValue(bytes: Uint8Array, at: number, depth: number, maxDepth: number): number {
  const head = bytes[at];
  if (head === undefined) return -1;
  // Fixints, nil and booleans: one byte.
  if (head < 0x80 || head >= 0xe0 || head === NIL || head === 0xc2 || head === 0xc3) return at + 1;
  if ((head >= 0xa0 && head <= 0xbf) || head === 0xd9 || head === 0xda || head === 0xdb) return endOfString(bytes, at);
  const isMap = (head >= 0x80 && head <= 0x8f) || head === 0xde || head === 0xdf;
  if (isMap || (head >= 0x90 && head <= 0x9f) || head === 0xdc || head === 0xdd) {
    if (depth > maxDepth) return -1;
    let index = containerAt(bytes, at, head, isMap);
    if (index === -1) return -1;
    let count = containerCount;
    // Every element takes a byte at least (a map entry two): a header announcing more cannot fit.
    if (count * (isMap ? 2 : 1) > bytes.length - index) return -1;
    while (count-- > 0) {
      if (isMap) {
        index = endOfKey(bytes, index);
        if (index === -1) return -1;
      }
      index = endOfValue(bytes, index, depth + 1, maxDepth);
      if (index === -1) return -1;
    }
    return index;
  }
  switch (head) {
    case 0xc4: // bin 8, 16, 32: opaque bytes, a leaf like a string
    case 0xc5:
    case 0xc6: {
      const size = head === 0xc4 ? 1 : head === 0xc5 ? 2 : 4;
      const length = lengthAt(bytes, at + 1, size);
      sawBinary = true;
      return length < 0 ? -1 : fixed(bytes, at + 1 + size, length);
    }
    case 0xca: // float 32
      return fixed(bytes, at, 5);
    case 0xcb: // float 64
      return fixed(bytes, at, 9);
    case 0xcc: // uint 8, int 8
    case 0xd0:
      return fixed(bytes, at, 2);
    case 0xcd: // uint 16, int 16
    case 0xd1:
      return fixed(bytes, at, 3);
    case 0xce: // uint 32, int 32
    case 0xd2:
      return fixed(bytes, at, 5);
    case 0xcf: // uint 64, int 64
    case 0xd3: {
      const end = fixed(bytes, at, 9);
      return end !== -1 && exactInt64(bytes, at + 1, head === 0xd3) ? end : -1;
    }
    default:
      // 0xc1 (never used) and the extension types 0xc7-0xc9, 0xd4-0xd8.
      return -1;
  }
}

/** Index of the key [start, end) in `wanted`, or -1. */
function wantedIndex(bytes: Uint8Array, start: number, end: number, wanted: MsgpackKeySet): number {
  const length = end - start;
  for (let index = 0; index < wanted.names.length; index++) {
    const name = wanted.names[index]!;
    if (name.length === length && equalBytes(bytes, start, name)) return index;
  }
  return -1;
}

/**
 * The map at `at`: spans of its wanted members into `members`, by index in `wanted` (a
 * repeated key: the last one, as the decoder keeps). When `nested` is given, the member at
 * its slot, when a map, has its own wanted members collected in the same pass. Returns the
 * map's end, or -1.
 */
function membersOf(
  bytes: Uint8Array,
  at: number,
  depth: number,
  maxDepth: number,
  wanted: MsgpackKeySet,
  members: (Span | undefined)[],
  nested?: { slot: number; keys: MsgpackKeySet; members: (Span | undefined)[] | undefined },
): number {
  const head = bytes[at];
  if (head === undefined || depth > maxDepth) return -1;
  let index = containerAt(bytes, at, head, true);
  if (index === -1) return -1;
  let count = containerCount;
  if (count * 2 > bytes.length - index) return -1;
  while (count-- > 0) {
    const keyEnd = endOfKey(bytes, index);
    if (keyEnd === -1) return -1;
    const slot = wantedIndex(bytes, stringStart, keyEnd, wanted);
    const valueStart = keyEnd;
    let valueEnd: number;
    const valueHead = bytes[valueStart];
    if (nested && slot === nested.slot && valueHead !== undefined && ((valueHead >= 0x80 && valueHead <= 0x8f) || valueHead === 0xde || valueHead === 0xdf)) {
      const inner: (Span | undefined)[] = new Array(nested.keys.names.length);
      valueEnd = membersOf(bytes, valueStart, depth + 1, maxDepth, nested.keys, inner);
      nested.members = inner;
    } else {
      // A later `data` that is not a map replaces an earlier one that was.
      if (nested && slot === nested.slot) nested.members = undefined;
      valueEnd = endOfValue(bytes, valueStart, depth + 1, maxDepth);
    }
    if (valueEnd === -1) return -1;
    if (slot !== -1) members[slot] = [valueStart, valueEnd];
    index = valueEnd;
  }
  return index;
}

/**
 * Scans a whole MessagePack frame that must be one map, recording the spans of the wanted
 * envelope members and, when the envelope member at `dataIndex` is a map, of its wanted
 * members. Returns undefined when the frame is anything the decoder would refuse or read
 * differently (see above).
 */
export function scanMsgpackFrame(bytes: Uint8Array, maxDepth: number, envelopeKeys: MsgpackKeySet, dataIndex: number, dataKeys: MsgpackKeySet): ScannedMsgpackFrame | undefined {
  const envelope: (Span | undefined)[] = new Array(envelopeKeys.names.length);
  const nested = { slot: dataIndex, keys: dataKeys, members: undefined as (Span | undefined)[] | undefined };
  sawBinary = false;
  const end = membersOf(bytes, 0, 0, maxDepth, envelopeKeys, envelope, nested);
  if (end !== bytes.length) return undefined;
  return { envelope, data: nested.members, binary: sawBinary };
}

/** True when the span holds a string whose UTF-8 bytes are `expected`, in any string header. */
export function msgpackSpanEquals(bytes: Uint8Array, span: Span, expected: Uint8Array): boolean {
  const end = endOfString(bytes, span[0]);
  return end === span[1] && end - stringStart === expected.length && equalBytes(bytes, stringStart, expected);
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** The string the span holds (scanned, so valid UTF-8), or undefined when it holds another type. */
export function msgpackSpanString(bytes: Uint8Array, span: Span): string | undefined {
  const end = endOfString(bytes, span[0]);
  if (end !== span[1]) return undefined;
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8', stringStart, end) : utf8.decode(bytes.subarray(stringStart, end));
}

const floatBytes = new DataView(new ArrayBuffer(8));

/** The unsigned big-endian integer of `size` bytes at `at` (exact: the scanner refused wider 64-bit ones). */
function uintAt(bytes: Uint8Array, at: number, size: number): number {
  let value = 0;
  for (let index = 0; index < size; index++) value = value * 256 + bytes[at + index]!;
  return value;
}

function floatAt(bytes: Uint8Array, at: number, size: 4 | 8): number {
  for (let index = 0; index < size; index++) floatBytes.setUint8(index, bytes[at + index]!);
  return size === 4 ? floatBytes.getFloat32(0) : floatBytes.getFloat64(0);
}

/**
 * The number the span holds (an integer or a float, as the decoder reads it), null for nil,
 * undefined for any other type. The span must come from a scan (its bytes are in bounds).
 */
export function msgpackSpanNumber(bytes: Uint8Array, span: Span): number | null | undefined {
  const at = span[0];
  const head = bytes[at]!;
  if (head < 0x80) return head;
  if (head >= 0xe0) return head - 0x100;
  switch (head) {
    case NIL:
      return null;
    case 0xca:
      return floatAt(bytes, at + 1, 4);
    case 0xcb:
      return floatAt(bytes, at + 1, 8);
    case 0xcc:
      return bytes[at + 1]!;
    case 0xcd:
      return uintAt(bytes, at + 1, 2);
    case 0xce:
      return uintAt(bytes, at + 1, 4);
    case 0xcf:
      return uintAt(bytes, at + 1, 8);
    case 0xd0:
      return (bytes[at + 1]! << 24) >> 24;
    case 0xd1:
      return (uintAt(bytes, at + 1, 2) << 16) >> 16;
    case 0xd2:
      return uintAt(bytes, at + 1, 4) | 0;
    case 0xd3: {
      // Scanned: within 2^53 either way, so the signed high word and the low word make it exactly.
      const high = uintAt(bytes, at + 1, 4) | 0;
      return high * 0x100000000 + uintAt(bytes, at + 5, 4);
    }
    default:
      return undefined;
  }
}

/** True when the span holds nil. */
export function msgpackSpanIsNil(bytes: Uint8Array, span: Span): boolean {
  return span[1] - span[0] === 1 && bytes[span[0]] === NIL;
}

const spanDecoder = new Decoder({ useBigInt64: false });

/**
 * The value a span holds, decoded by the same decoder the frame codec uses. `bin` values
 * decode to views of the bytes decoded, so for a frame holding any (`binary` of its scan) a
 * copy of the span is decoded: its views then point into the copy, never into the frame's
 * memory, which uWS frees when its message callback returns (and a send may wait for the end
 * of the macrotask). The copy is a plain Uint8Array even when `bytes` is a Buffer, so `bin`
 * values are plain Uint8Arrays as on the generic path (a Buffer would reach JSON clients as
 * `{"type":"Buffer",...}`). Without `bin` the result holds nothing of `bytes`: no copy.
 */
export function decodeMsgpackSpan(bytes: Uint8Array, span: Span, holdsBinary = true): unknown {
  // A plain Uint8Array view either way (a Buffer's subarray is a Buffer): the decoder then
  // sees the one input type the frame codec gives it too, and stays monomorphic.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset + span[0], span[1] - span[0]);
  return spanDecoder.decode(holdsBinary ? new Uint8Array(view) : view);
}

/** The MessagePack string header of a string of `length` UTF-8 bytes, written at `at`; returns where its content goes. */
export function writeMsgpackStringHeader(out: Uint8Array, at: number, length: number): number {
  if (length < 32) {
    out[at] = 0xa0 | length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = 0xd9;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = 0xda;
    out[at + 1] = length >>> 8;
    out[at + 2] = length & 0xff;
    return at + 3;
  }
  out[at] = 0xdb;
  out[at + 1] = length >>> 24;
  out[at + 2] = (length >>> 16) & 0xff;
  out[at + 3] = (length >>> 8) & 0xff;
  out[at + 4] = length & 0xff;
  return at + 5;
}

/** Writes `value` as a MessagePack string at `at` (room for 5 + 3 x its length bytes needed); returns the end. */
export function writeMsgpackString(out: Buffer, at: number, value: string): number {
  const length = Buffer.byteLength(value, 'utf8');
  const start = writeMsgpackStringHeader(out, at, length);
  return start + out.write(value, start, length, 'utf8');
}
