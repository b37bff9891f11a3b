/**
 * A validating JSON scanner over raw bytes that records where values are instead of
 * building them. The relay uses it to route a 4 KB session description on its envelope and
 * forward the description's original bytes: a full JSON.parse + stringify of such a frame
 * costs more than everything else uWS and the gateway do for it.
 *
 * It checks the grammar of everything (objects, arrays, numbers, literals, separators and
 * the characters and escapes inside strings), so what it accepts JSON.parse accepts too.
 * Anything it does not like makes it return undefined, and the caller falls back to the full
 * parser, which produces the proper error. (It once skipped string contents with a native
 * `indexOf`; a bad escape in a room name then reached an unguarded JSON.parse and killed the
 * process with one frame.)
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

function isHexDigit(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66));
}

/**
 * End (exclusive) of the string starting at `position` (which holds its opening quote).
 * Validates the string as JSON.parse would (no raw control character, only the escapes
 * `\" \\ \/ \b \f \n \r \t \uXXXX`): the relay forwards these bytes to other clients
 * and parses small ones with JSON.parse outside the full parser, so a string the scanner
 * accepts must be one JSON.parse accepts. One pass over the bytes, no allocation.
 */
function endOfString(bytes: Uint8Array, position: number): number {
  const length = bytes.length;
  let index = position + 1;
  while (index < length) {
    const byte = bytes[index]!;
    if (byte === QUOTE) return index + 1;
    if (byte === BACKSLASH) {
      const escaped = bytes[index + 1];
      if (escaped === 0x75) {
        if (!isHexDigit(bytes[index + 2]) || !isHexDigit(bytes[index + 3]) || !isHexDigit(bytes[index + 4]) || !isHexDigit(bytes[index + 5])) throw bail;
        index += 6;
        continue;
      }
      // " \ / b f n r t
      if (escaped !== QUOTE && escaped !== BACKSLASH && escaped !== 0x2f && escaped !== 0x62 && escaped !== 0x66 && escaped !== 0x6e && escaped !== 0x72 && escaped !== 0x74) throw bail;
      index += 2;
      continue;
    }
    if (byte < 0x20) throw bail;
    index++;
  }
  throw bail;
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
function endOfValue(bytes: Uint8Array, position: number, depth: number, maxDepth: number): number {
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

/**
 * Spans of the wanted members of the object at `start`, by their index in `wanted`. A wanted
 * key repeated bails (JSON.parse would keep the last one); a key written with escapes never
 * matches, so such a frame goes to the full parser.
 */
function membersOf(bytes: Uint8Array, start: number, maxDepth: number, wanted: KeySet): { members: (Span | undefined)[]; end: number } {
  const members: (Span | undefined)[] = new Array(wanted.names.length);
  if (bytes[start] !== OPEN_BRACE) throw bail;
  let index = skipSpace(bytes, start + 1);
  if (bytes[index] === CLOSE_BRACE) return { members, end: index + 1 };
  for (;;) {
    if (bytes[index] !== QUOTE) throw bail;
    const keyEnd = endOfString(bytes, index);
    const slot = wantedIndex(bytes, index, keyEnd, wanted);
    index = skipSpace(bytes, keyEnd);
    if (bytes[index] !== COLON) throw bail;
    index = skipSpace(bytes, index + 1);
    const valueEnd = endOfValue(bytes, index, 1, maxDepth);
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
  try {
    const start = skipSpace(bytes, 0);
    const { members: envelope, end } = membersOf(bytes, start, maxDepth, envelopeKeys);
    if (skipSpace(bytes, end) !== bytes.length) return undefined;
    const dataSpan = envelope[dataIndex];
    const data = dataSpan && bytes[dataSpan[0]] === OPEN_BRACE ? membersOf(bytes, dataSpan[0], maxDepth - 1, dataKeys).members : undefined;
    return { envelope, data };
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
