import { isUtf8 } from 'node:buffer';
import { checkStringContent, endOfEscape, INVALID, NON_ASCII } from './json-strings.js';

/**
 * A validating JSON scanner over raw bytes that records where values are instead of
 * building them. The relay uses it to route a 4 KB session description on its envelope and
 * forward the description's original bytes: a full JSON.parse + stringify of such a frame
 * costs more than everything else uWS and the gateway do for it.
 *
 * It checks the grammar of everything (objects, arrays, numbers, literals, separators and
 * the characters and escapes inside strings) and that the text is UTF-8, so what it accepts
 * the generic path (a fatal UTF-8 decode, then JSON.parse) accepts too.
 * Anything it does not like makes it return undefined, and the caller falls back to the full
 * parser, which produces the proper error.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Byte range [start, end) of a value in the scanned buffer. */
export type Span = readonly [start: number, end: number];

class Bail extends Error {}
const bail = new Bail();

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function skipSpace(bytes: Uint8Array, position: number): number {
  while (position < bytes.length && isSpace(bytes[position]!)) position++;
  return position;
}

/**
 * Bits of every string byte the current scan has read, OR-ed together: a 0x80 bit means a
 * string held a byte of 0x80 or more. Only string contents may hold such bytes (the grammar
 * refuses them anywhere else), so a frame whose strings are all ASCII is valid UTF-8 without
 * another pass; any other gets the native `isUtf8` in `scanFrame`. Module state because a
 * scan is synchronous and never re-entered; `scanFrame` resets it.
 */
let highBits = 0;

/** Strings are read byte by byte for this many bytes; a longer one goes on in `endOfLongString`. */
const SHORT_STRING_BYTES = 48;

/**
 * End (exclusive) of the string starting at `position` (which holds its opening quote).
 * Validates the string as JSON.parse would (no raw control character, only the escapes
 * `\" \\ \/ \b \f \n \r \t \uXXXX`): the relay forwards these bytes to other clients
 * and parses small ones with JSON.parse outside the full parser, so a string the scanner
 * accepts must be one JSON.parse accepts. (It once skipped string contents; a bad escape in a
 * room name then reached an unguarded JSON.parse and killed the process with one frame.)
 *
 * Keys, names and ids are short: one byte loop finds the end and checks each byte, cheaper
 * than a native call per string. A string still open after SHORT_STRING_BYTES (an ICE
 * candidate, a 4 KB SDP) goes on in `endOfLongString`.
 */
function endOfString(bytes: Buffer, position: number): number {
  const length = bytes.length;
  const shortEnd = Math.min(length, position + 1 + SHORT_STRING_BYTES);
  let index = position + 1;
  let seen = 0;
  while (index < shortEnd) {
    const byte = bytes[index]!;
    if (byte === QUOTE) {
      highBits |= seen;
      return index + 1;
    }
    if (byte < 0x20) throw bail;
    if (byte === BACKSLASH) {
      index = endOfEscape(bytes, index, length);
      if (index === -1) throw bail;
    } else {
      seen |= byte;
      index++;
    }
  }
  highBits |= seen;
  if (index >= length) throw bail;
  return endOfLongString(bytes, position, index);
}

/**
 * The rest of a long string, valid up to `from` (an escape boundary). The closing quote is
 * found with the native memchr of `Buffer#indexOf` (a quote after an odd run of backslashes is
 * escaped: search on; a run that began before `from` is whole escapes there, so its parity
 * still tells), then [from, quote) is checked in one pass by `checkStringContent`.
 */
function endOfLongString(bytes: Buffer, position: number, from: number): number {
  let search = from;
  for (;;) {
    const quote = bytes.indexOf(QUOTE, search);
    if (quote === -1) throw bail;
    let backslashes = 0;
    for (let index = quote - 1; index > position && bytes[index] === BACKSLASH; index--) backslashes++;
    if ((backslashes & 1) === 0) {
      const verdict = checkStringContent(bytes, from, quote);
      if (verdict === INVALID) throw bail;
      if (verdict === NON_ASCII) highBits |= 0x80;
      return quote + 1;
    }
    search = quote + 1;
  }
}

function endOfNumber(bytes: Uint8Array, position: number): number {
  let index = position;
  if (bytes[index] === 0x2d) index++;
  const digitsStart = index;
  while (index < bytes.length && bytes[index]! >= 0x30 && bytes[index]! <= 0x39) index++;
  if (index === digitsStart || (bytes[digitsStart] === 0x30 && index - digitsStart > 1)) throw bail;
  if (bytes[index] === 0x2e) {
    const fraction = ++index;
    while (index < bytes.length && bytes[index]! >= 0x30 && bytes[index]! <= 0x39) index++;
    if (index === fraction) throw bail;
  }
  if (bytes[index] === 0x65 || bytes[index] === 0x45) {
    index++;
    if (bytes[index] === 0x2b || bytes[index] === 0x2d) index++;
    const exponent = index;
    while (index < bytes.length && bytes[index]! >= 0x30 && bytes[index]! <= 0x39) index++;
    if (index === exponent) throw bail;
  }
  return index;
}

function endOfLiteral(bytes: Uint8Array, position: number, literal: string): number {
  for (let index = 0; index < literal.length; index++) {
    if (bytes[position + index] !== literal.charCodeAt(index)) throw bail;
  }
  return position + literal.length;
}

/** End of any value at `position`; containers are checked to `maxDepth`. */
function endOfValue(bytes: Buffer, position: number, depth: number, maxDepth: number): number {
  const byte = bytes[position];
  switch (byte) {
    case QUOTE:
      return endOfString(bytes, position);
    case OPEN_BRACE:
    case OPEN_BRACKET: {
      if (depth >= maxDepth) throw bail;
      const isObject = byte === OPEN_BRACE;
      const close = isObject ? CLOSE_BRACE : CLOSE_BRACKET;
      let index = skipSpace(bytes, position + 1);
      if (bytes[index] === close) return index + 1;
      for (;;) {
        if (isObject) {
          if (bytes[index] !== QUOTE) throw bail;
          index = skipSpace(bytes, endOfString(bytes, index));
          if (bytes[index] !== COLON) throw bail;
          index = skipSpace(bytes, index + 1);
        }
        index = skipSpace(bytes, endOfValue(bytes, index, depth + 1, maxDepth));
        if (bytes[index] === close) return index + 1;
        if (bytes[index] !== COMMA) throw bail;
        index = skipSpace(bytes, index + 1);
      }
    }
    case 0x74:
      return endOfLiteral(bytes, position, 'true');
    case 0x66:
      return endOfLiteral(bytes, position, 'false');
    case 0x6e:
      return endOfLiteral(bytes, position, 'null');
    default:
      if (byte === 0x2d || (byte !== undefined && byte >= 0x30 && byte <= 0x39)) return endOfNumber(bytes, position);
      throw bail;
  }
}

/** Pre-encoded member names a scan looks for; all other members are checked and skipped. */
export class KeySet {
  readonly names: readonly Uint8Array[];
  constructor(readonly keys: readonly string[]) {
    this.names = keys.map((key) => Buffer.from(JSON.stringify(key), 'latin1'));
  }
}

/** Index in `wanted` of the key spanning [start, end) (quotes included), or -1. Compares bytes. */
function wantedIndex(bytes: Uint8Array, start: number, end: number, wanted: KeySet): number {
  const length = end - start;
  names: for (let index = 0; index < wanted.names.length; index++) {
    const name = wanted.names[index]!;
    if (name.length !== length) continue;
    for (let offset = 1; offset < length - 1; offset++) if (bytes[start + offset] !== name[offset]) continue names;
    return index;
  }
  return -1;
}

/** Where `membersOf` also collects the members of one wanted member's object value (`data`). */
interface NestedScan {
  slot: number;
  keys: KeySet;
  members: (Span | undefined)[] | undefined;
}

/**
 * Spans of the wanted members of the object at `start`, by their index in `wanted`. A wanted
 * key repeated bails (JSON.parse would keep the last one); a key written with escapes never
 * matches, so such a frame goes to the full parser. When `nested` names a slot whose value
 * is an object, that object's members are collected in the same pass (each byte of a frame
 * is scanned once, the 4 KB body included).
 */
function membersOf(bytes: Buffer, start: number, depth: number, maxDepth: number, wanted: KeySet, nested?: NestedScan): { members: (Span | undefined)[]; end: number } {
  const members: (Span | undefined)[] = new Array(wanted.names.length);
  if (bytes[start] !== OPEN_BRACE) throw bail;
  if (depth >= maxDepth) throw bail;
  let index = skipSpace(bytes, start + 1);
  if (bytes[index] === CLOSE_BRACE) return { members, end: index + 1 };
  for (;;) {
    if (bytes[index] !== QUOTE) throw bail;
    const keyEnd = endOfString(bytes, index);
    const slot = wantedIndex(bytes, index, keyEnd, wanted);
    index = skipSpace(bytes, keyEnd);
    if (bytes[index] !== COLON) throw bail;
    index = skipSpace(bytes, index + 1);
    let valueEnd: number;
    if (nested && slot === nested.slot && bytes[index] === OPEN_BRACE) {
      const inner = membersOf(bytes, index, depth + 1, maxDepth, nested.keys);
      nested.members = inner.members;
      valueEnd = inner.end;
    } else {
      valueEnd = endOfValue(bytes, index, depth + 1, maxDepth);
    }
    if (slot !== -1) {
      if (members[slot] !== undefined) throw bail;
      members[slot] = [index, valueEnd];
    }
    index = skipSpace(bytes, valueEnd);
    if (bytes[index] === CLOSE_BRACE) return { members, end: index + 1 };
    if (bytes[index] !== COMMA) throw bail;
    index = skipSpace(bytes, index + 1);
  }
}

export interface ScannedFrame {
  /** Spans of the envelope's wanted members, by index in the envelope KeySet. */
  envelope: (Span | undefined)[];
  /** Spans of `data`'s wanted members, when `data` is an object. */
  data: (Span | undefined)[] | undefined;
}

/**
 * Scans a whole JSON text frame that must be one object, recording the spans of the
 * wanted envelope members and, when the envelope member `dataKey` holds an object, of its
 * wanted members. Returns undefined when the frame is not valid JSON of that shape as far
 * as the scanner checks (see above).
 */
export function scanFrame(bytes: Buffer, maxDepth: number, envelopeKeys: KeySet, dataIndex: number, dataKeys: KeySet): ScannedFrame | undefined {
  highBits = 0;
  try {
    const start = skipSpace(bytes, 0);
    const nested: NestedScan = { slot: dataIndex, keys: dataKeys, members: undefined };
    const { members: envelope, end } = membersOf(bytes, start, 0, maxDepth, envelopeKeys, nested);
    if (skipSpace(bytes, end) !== bytes.length) return undefined;
    // The generic path refuses a text frame that is not UTF-8 (BAD_REQUEST); so does this one,
    // rather than forward its bytes. (uWS already drops a socket that sends one, before any of this.)
    if ((highBits & 0x80) !== 0 && !isUtf8(bytes)) return undefined;
    return { envelope, data: nested.members };
  } catch (error) {
    if (error === bail) return undefined;
    throw error;
  }
}

const decoder = new TextDecoder();

/** Parses one small value (an event name, a room, an id) out of the buffer. */
export function parseSpan(bytes: Uint8Array, span: Span): unknown {
  const [start, end] = span;
  // Room names and peer ids: strings without escapes are their bytes, no JSON.parse needed.
  if (bytes[start] === QUOTE && Buffer.isBuffer(bytes)) {
    let plain = true;
    for (let index = start + 1; index < end - 1 && plain; index++) {
      const byte = bytes[index]!;
      plain = byte >= 0x20 && byte !== BACKSLASH;
    }
    if (plain) return bytes.toString('utf8', start + 1, end - 1);
  }
  return JSON.parse(decoder.decode(bytes.subarray(start, end)));
}

/** True when the span holds exactly the JSON string `"expected"` without escapes. */
export function spanEqualsString(bytes: Uint8Array, span: Span, expected: string): boolean {
  if (span[1] - span[0] !== expected.length + 2 || bytes[span[0]] !== QUOTE) return false;
  for (let index = 0; index < expected.length; index++) {
    if (bytes[span[0] + 1 + index] !== expected.charCodeAt(index)) return false;
  }
  return true;
}
