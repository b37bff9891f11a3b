import { isUtf8 } from 'node:buffer';
import { WASM_BASE64 } from './wasm/json-scan.wasm.js';

/**
 * A validating JSON scanner over raw bytes that records where values are instead of
 * building them. The relay uses it to route a 4 KB session description on its envelope and
 * forward the description's original bytes: a full JSON.parse + stringify of such a frame
 * costs more than everything else uWS and the gateway do for it.
 *
 * The scan itself is a WebAssembly module (wasm/json-scan.wat): it checks the grammar of
 * everything (objects, arrays, numbers, literals, separators, nesting depth, the characters and
 * escapes inside strings, 64 bytes per step with SIMD) and records the spans of the members of
 * the top-level object and of that object's object values; this file matches their keys. In
 * JavaScript the same scan cost about 3 ns a byte (1.9 µs for an ICE relay frame); the module
 * takes a fraction of that, the frame's copy into its memory included. A frame it accepts
 * is one the generic path (a fatal UTF-8 decode, then JSON.parse) accepts too. Anything it does
 * not like, and every frame where there is no WebAssembly (`--jitless`), makes `scanFrame`
 * return undefined: the caller then takes the generic path, which produces the proper error.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;

/** Byte range [start, end) of a value in the scanned buffer. */
export type Span = readonly [start: number, end: number];

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

/** The part of the WebAssembly API used here (this project's TypeScript libs do not declare it). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The module's answers below 0 (see wasm/json-scan.wat). */
const NOT_JSON = -1;
/** Set in an answer when a string held a byte of 0x80 or more. */
const NON_ASCII = 0x10000;
const RECORD_COUNT_MASK = 0xffff;
/** Where the module keeps its records: five i32 each (parent, key start, key end, value start, value end). */
const RECORDS_OFFSET = 512;
const RECORD_INTS = 5;
/** The module's MAX_RECORDS. */
const MAX_RECORDS = 64;
const TOP_LEVEL = -1;
const PAGE_BYTES = 65536;

interface Scanner {
  /** The module's answer for `bytes`; its records are valid until the next call. */
  scan(bytes: Buffer, maxDepth: number): number;
  records(): Int32Array;
}

function wasmScanner(): Scanner | undefined {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  const { exports } = new wasm.Instance(new wasm.Module(Buffer.from(WASM_BASE64, 'base64')));
  const memory = exports.memory as WasmMemory;
  const scan = exports.scan as (length: number, maxDepth: number) => number;
  const input = (exports.INPUT as { value: number }).value;
  const padding = (exports.PADDING as { value: number }).value;
  // Views of the memory, made again when it grows (growing detaches the old buffer).
  let bytesView = new Uint8Array(memory.buffer);
  let recordsView = new Int32Array(memory.buffer, RECORDS_OFFSET, MAX_RECORDS * RECORD_INTS);
  return {
    scan(bytes, maxDepth) {
      const needed = input + bytes.length + padding;
      if (needed > bytesView.length) {
        // Frames are bounded by the socket's payload limit, so the memory stops growing there.
        memory.grow(Math.ceil((needed - bytesView.length) / PAGE_BYTES));
        bytesView = new Uint8Array(memory.buffer);
        recordsView = new Int32Array(memory.buffer, RECORDS_OFFSET, MAX_RECORDS * RECORD_INTS);
      }
      bytes.copy(bytesView, input);
      return scan(bytes.length, maxDepth);
    },
    records: () => recordsView,
  };
}

const scanner = wasmScanner();

export interface ScannedFrame {
  /** Spans of the envelope's wanted members, by index in the envelope KeySet. */
  envelope: (Span | undefined)[];
  /** Spans of `data`'s wanted members, when `data` is an object. */
  data: (Span | undefined)[] | undefined;
}

/**
 * The spans of the wanted members among the records whose parent is `parent`, by index in
 * `wanted`; undefined when a wanted key is repeated (JSON.parse would keep the last one). A key
 * written with escapes never matches: such a frame goes to the full parser.
 */
function wantedMembers(bytes: Buffer, records: Int32Array, count: number, parent: number, wanted: KeySet): (Span | undefined)[] | undefined {
  const members: (Span | undefined)[] = new Array(wanted.names.length);
  for (let record = 0; record < count; record++) {
    const at = record * RECORD_INTS;
    if (records[at] !== parent) continue;
    const slot = wantedIndex(bytes, records[at + 1]!, records[at + 2]!, wanted);
    if (slot === -1) continue;
    if (members[slot] !== undefined) return undefined;
    members[slot] = [records[at + 3]!, records[at + 4]!];
  }
  return members;
}

/**
 * Scans a whole JSON text frame that must be one object, recording the spans of the
 * wanted envelope members and, when the envelope member `dataKey` holds an object, of its
 * wanted members. Returns undefined when the frame is not valid JSON of that shape (see above).
 */
export function scanFrame(bytes: Buffer, maxDepth: number, envelopeKeys: KeySet, dataIndex: number, dataKeys: KeySet): ScannedFrame | undefined {
  if (scanner === undefined) return undefined;
  const answer = scanner.scan(bytes, maxDepth);
  if (answer <= NOT_JSON) return undefined;
  // The generic path refuses a text frame that is not UTF-8 (BAD_REQUEST); so does this one,
  // rather than forward its bytes. (uWS already drops a socket that sends one, before any of this.)
  if ((answer & NON_ASCII) !== 0 && !isUtf8(bytes)) return undefined;
  const count = answer & RECORD_COUNT_MASK;
  const records = scanner.records();
  const envelope = wantedMembers(bytes, records, count, TOP_LEVEL, envelopeKeys);
  if (envelope === undefined) return undefined;
  const dataSpan = envelope[dataIndex];
  if (dataSpan === undefined || bytes[dataSpan[0]] !== OPEN_BRACE) return { envelope, data: undefined };
  // The record of the envelope's `data`: the top-level one whose value starts there.
  let dataRecord = -1;
  for (let record = 0; record < count && dataRecord === -1; record++) {
    const at = record * RECORD_INTS;
    if (records[at] === TOP_LEVEL && records[at + 3] === dataSpan[0]) dataRecord = record;
  }
  const data = wantedMembers(bytes, records, count, dataRecord, dataKeys);
  return data === undefined ? undefined : { envelope, data };
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
