import { WASM_BASE64 } from './wasm/json-strings.wasm.js';

/**
 * What may stand inside a JSON string, as JSON.parse decides it: no raw control character
 * and only the escapes `\" \\ \/ \b \f \n \r \t \uXXXX`. The relay scanner forwards string
 * bytes it has not decoded, so it checks them with these.
 */

/** 1 for the characters that may follow a backslash on their own: " \ / b f n r t. */
const SIMPLE_ESCAPES = new Uint8Array(256);
for (const character of '"\\/bfnrt') SIMPLE_ESCAPES[character.charCodeAt(0)] = 1;

function isHexDigit(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66));
}

/** End of the escape at `at` (a backslash) within [.., end), or -1 when JSON does not allow it. */
export function endOfEscape(bytes: Uint8Array, at: number, end: number): number {
  if (at + 1 >= end) return -1;
  const escaped = bytes[at + 1]!;
  if (SIMPLE_ESCAPES[escaped] === 1) return at + 2;
  return escaped === 0x75 && at + 5 < end && isHexDigit(bytes[at + 2]) && isHexDigit(bytes[at + 3]) && isHexDigit(bytes[at + 4]) && isHexDigit(bytes[at + 5]) ? at + 6 : -1;
}

/** The verdicts of `checkStringContent`. */
export const INVALID = 0;
export const ASCII = 1;
/** Valid, and holds a byte of 0x80 or more: only a check of the whole text says it is UTF-8. */
export const NON_ASCII = 3;
export type ContentVerdict = typeof INVALID | typeof ASCII | typeof NON_ASCII;

/** The byte loop: the reference the WebAssembly check is tested against, and its stand-in where there is no WebAssembly (`--jitless`). */
export function checkContentBytes(bytes: Uint8Array, from: number, to: number): ContentVerdict {
  let seen = 0;
  let index = from;
  while (index < to) {
    const byte = bytes[index]!;
    if (byte < 0x20) return INVALID;
    if (byte === 0x5c) {
      index = endOfEscape(bytes, index, to);
      if (index === -1) return INVALID;
    } else {
      seen |= byte;
      index++;
    }
  }
  return seen >= 0x80 ? NON_ASCII : ASCII;
}

/** Where wasm/json-strings.wat expects the contents (its class table is below). */
const CONTENT_OFFSET = 256;
/** The padding the check reads past the contents (its last 64-byte chunk). */
const PADDING = 64;
const PAGE_BYTES = 65536;

interface ContentChecker {
  check(bytes: Buffer, from: number, to: number): ContentVerdict;
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

function wasmChecker(): ContentChecker | undefined {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  const instance = new wasm.Instance(new wasm.Module(Buffer.from(WASM_BASE64, 'base64')));
  const memory = instance.exports.memory as WasmMemory;
  const checkContent = instance.exports.checkContent as (length: number) => ContentVerdict;
  let view = new Uint8Array(memory.buffer);
  return {
    check(bytes, from, to) {
      const length = to - from;
      const needed = CONTENT_OFFSET + length + PADDING;
      if (needed > view.length) {
        // Frames are bounded by the socket's payload limit, so the memory stops growing there.
        memory.grow(Math.ceil((needed - view.length) / PAGE_BYTES));
        view = new Uint8Array(memory.buffer);
      }
      bytes.copy(view, CONTENT_OFFSET, from, to);
      return checkContent(length);
    },
  };
}

/** A WebAssembly module where there is one; it checks 64 bytes per step with SIMD. */
const checker: ContentChecker = wasmChecker() ?? { check: checkContentBytes };

/**
 * Checks [from, to) of `bytes` as the contents of one JSON string, `from` being just after
 * the opening quote or an escape and `to` the closing quote.
 */
export function checkStringContent(bytes: Buffer, from: number, to: number): ContentVerdict {
  return checker.check(bytes, from, to);
}
