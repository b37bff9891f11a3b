import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ASCII, checkContentBytes, checkStringContent, INVALID, NON_ASCII } from '../../src/protocol/json-strings.js';

/**
 * The check of a JSON string's contents that the relay scanner runs on every long string it
 * forwards (a WebAssembly module, 64 bytes per step): it must say exactly what JSON.parse says,
 * across its chunk boundaries, at any offset of the contents in their buffer.
 */

/** JSON.parse's verdict on contents that hold no unescaped quote (the scanner finds the closing one first). */
function parseAccepts(content: Buffer): boolean {
  try {
    JSON.parse(`"${content.toString('latin1')}"`);
    return true;
  } catch {
    return false;
  }
}

/** `content` at `offset` bytes into a larger buffer, as a uWS frame may sit. */
function placed(content: Buffer, offset: number): Buffer {
  const pool = Buffer.alloc(offset + content.length + 70, 0x5c);
  content.copy(pool, offset);
  return pool;
}

/** True when a quote in `content` is not escaped: contents the scanner never passes (it would have ended the string there). */
function hasUnescapedQuote(content: Buffer): boolean {
  let backslashes = 0;
  for (const byte of content) {
    if (byte === 0x22 && backslashes % 2 === 0) return true;
    backslashes = byte === 0x5c ? backslashes + 1 : 0;
  }
  return false;
}

function expectVerdict(content: Buffer): number {
  const reference = checkContentBytes(content, 0, content.length);
  expect(reference !== INVALID, content.toString('latin1')).toBe(parseAccepts(content));
  for (const offset of [0, 1, 7, 63]) {
    expect(checkStringContent(placed(content, offset), offset, offset + content.length), `offset ${offset}`).toBe(reference);
  }
  return reference;
}

/** Pieces that make escapes, runs of backslashes and chunk-straddling escapes likely. */
const PIECES = ['a', 'a', 'a', 'v=0 ', '\\\\', '\\"', '\\n', '\\r\\n', '\\/', '\\u00e9', '\\uD83D\\uDE00', '\\u12G4', '\\u12', '\\x', '\\q', '\\', '\u0001', '\u001f', '\t', '\u007f', 'é', '\u00ff', '0123456789abcdefABCDEF'];

describe('json-strings: the contents of one JSON string', () => {
  it('agrees with JSON.parse and the byte loop on any mix of escapes, at every offset', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 80 }), (pieces) => {
        const content = Buffer.from(pieces.join(''), 'latin1');
        fc.pre(!hasUnescapedQuote(content));
        expectVerdict(content);
      }),
      { numRuns: 3000, seed: 20261202 },
    );
  });

  it('takes a run of backslashes across every chunk boundary by its parity', () => {
    for (let before = 0; before < 130; before++) {
      for (let run = 1; run <= 5; run++) {
        const escapes = '\\'.repeat(run);
        // An odd run ending the contents escapes the closing quote: refused; an even one is whole escapes.
        expect(expectVerdict(Buffer.from(`${'a'.repeat(before)}${escapes}`))).toBe(run % 2 === 0 ? ASCII : INVALID);
        // Followed by n: an odd run ends in the escape \n, an even one leaves a plain n.
        expect(expectVerdict(Buffer.from(`${'a'.repeat(before)}${escapes}n`))).toBe(ASCII);
        // Followed by q: only an even run leaves it plain.
        expect(expectVerdict(Buffer.from(`${'a'.repeat(before)}${escapes}q`))).toBe(run % 2 === 0 ? ASCII : INVALID);
      }
    }
  });

  it('checks a \\u escape whose hex digits cross a chunk boundary or the end', () => {
    for (let before = 56; before < 72; before++) {
      expect(expectVerdict(Buffer.from(`${'a'.repeat(before)}\\u00e9tail`))).toBe(ASCII);
      expect(expectVerdict(Buffer.from(`${'a'.repeat(before)}\\u00g9tail`))).toBe(INVALID);
      expect(expectVerdict(Buffer.from(`${'a'.repeat(before)}\\u00e`))).toBe(INVALID);
    }
  });

  it('refuses a control character at any place of a 4 KB string, and tells ASCII from not', () => {
    const sdp = Buffer.from('a=rtpmap:111 opus/48000/2\\r\\n'.repeat(150));
    expect(expectVerdict(sdp)).toBe(ASCII);
    for (let at = 0; at < sdp.length; at += 37) {
      const broken = Buffer.from(sdp);
      broken[at] = at % 0x20;
      expect(checkStringContent(broken, 0, broken.length)).toBe(INVALID);
    }
    expect(expectVerdict(Buffer.concat([sdp, Buffer.from('é')]))).toBe(NON_ASCII);
  });

  it('grows its memory for a string larger than it holds, and stays exact', () => {
    const large = Buffer.from('x'.repeat(300_000));
    expect(checkStringContent(large, 0, large.length)).toBe(ASCII);
    large[299_999] = 0x01;
    expect(checkStringContent(large, 0, large.length)).toBe(INVALID);
    expect(checkStringContent(Buffer.from('ok'), 0, 2)).toBe(ASCII);
  });

  it('runs the module built from json-strings.wat as committed', () => {
    // The committed bytes must be the build of the committed source (`npm run build:wasm`).
    expect(() => execFileSync(process.execPath, ['src/protocol/wasm/build.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
