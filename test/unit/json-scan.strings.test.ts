import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeySet, parseSpan, scanFrame as scanWith } from '../../src/protocol/json-scan.js';

/**
 * The string checks of the relay scanner on the malformed text a forwarded body may hold:
 * whatever the scanner accepts is forwarded as its bytes, so it must accept exactly what the
 * generic path (a fatal UTF-8 decode, then JSON.parse) accepts, for short strings (the byte
 * loop) and long ones (the closing quote by memchr, the contents four bytes at a time), at
 * every alignment of the frame in its buffer. What it refuses goes to the generic path, which
 * answers BAD_REQUEST.
 */

const ENVELOPE = new KeySet(['event', 'data', 'id']);
const DATA = new KeySet(['room', 'to', 'session_description']);
const BODY = DATA.keys.indexOf('session_description');
const MAX_DEPTH = 32;
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The generic path's verdict on a text frame: decodable and JSON. */
function genericAccepts(bytes: Uint8Array): boolean {
  try {
    JSON.parse(fatalUtf8.decode(bytes));
    return true;
  } catch {
    return false;
  }
}

/** `bytes` at `offset` bytes into a larger buffer (uWS hands frames over at any offset). */
function placed(bytes: Buffer, offset: number): Buffer {
  const pool = Buffer.alloc(offset + bytes.length + 8, 0x20);
  bytes.copy(pool, offset);
  return pool.subarray(offset, offset + bytes.length);
}

const HEAD = Buffer.from('{"event":"relay-session-description","data":{"room":"r","to":"p","session_description":{"type":"offer","sdp":"');
const TAIL = Buffer.from('"}}}');

/** A relay frame whose SDP string holds `content` (raw bytes between the quotes), then the rest of the frame. */
const sdpFrame = (content: Buffer | string, tail: Buffer = TAIL) => Buffer.concat([HEAD, Buffer.from(content), tail]);
const scan = (bytes: Buffer) => scanWith(bytes, MAX_DEPTH, ENVELOPE, ENVELOPE.keys.indexOf('data'), DATA);

/** Scans at every offset 0..7 and expects the generic path's verdict each time. */
function expectGenericVerdict(bytes: Buffer): boolean {
  const verdict = genericAccepts(bytes);
  for (let offset = 0; offset < 8; offset++) expect(scan(placed(bytes, offset)) !== undefined, `offset ${offset}`).toBe(verdict);
  return verdict;
}

/**
 * Lengths around the short loop's end (48), across the long check's 64-byte chunks (it starts
 * where the short loop stopped) and a 4 KB one.
 */
const LENGTHS = [0, 1, 3, 4, 7, 8, 9, 31, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 64, 100, 110, 111, 112, 113, 114, 175, 176, 177, 4203];
const filler = (length: number) => 'a=candidate:1 udp 2113937151 '.repeat(Math.ceil(length / 29) + 1).slice(0, length);

describe('json-scan: unterminated strings', () => {
  it.each(LENGTHS)('refuses a %i-byte string that never closes', (length) => {
    const bytes = sdpFrame(filler(length), Buffer.alloc(0));
    expect(expectGenericVerdict(bytes)).toBe(false);
  });

  it('refuses a long string whose only later quotes are escaped', () => {
    const bytes = sdpFrame(`${filler(4000)}\\"x\\"y\\"`, Buffer.alloc(0));
    expect(expectGenericVerdict(bytes)).toBe(false);
  });

  it('refuses a 1 MiB string that never closes, and one whose last quote is escaped', () => {
    expect(scan(sdpFrame('x'.repeat(1 << 20), Buffer.alloc(0)))).toBeUndefined();
    expect(scan(sdpFrame(`${'x'.repeat(1 << 20)}\\"`, Buffer.alloc(0)))).toBeUndefined();
  });
});

describe('json-scan: escaped quotes and runs of backslashes', () => {
  it.each(LENGTHS)('takes a quote after an odd run for escaped and after an even run for the end, %i bytes in', (length) => {
    for (let run = 0; run <= 9; run++) {
      // The frame ends right after the quote: it closes the string only after an even run.
      const unterminated = sdpFrame(`${filler(length)}${'\\'.repeat(run)}`, Buffer.from('"'));
      expect(expectGenericVerdict(unterminated)).toBe(false);
      // With the frame's real end after it, both parities are JSON (an escaped quote is content).
      const closed = sdpFrame(`${filler(length)}${'\\'.repeat(run)}${run % 2 === 1 ? '"' : ''}`);
      expect(expectGenericVerdict(closed)).toBe(true);
    }
  });

  it('reads back the exact content of strings full of escapes', () => {
    const sdp = `${'v=0\r\n"quoted" \\ back\\slash\t\u00e9\u{1F600}/'.repeat(120)}\\`;
    const bytes = Buffer.from(JSON.stringify({ event: 'relay-session-description', data: { room: 'r', to: 'p', session_description: { type: 'offer', sdp } } }));
    const scanned = scan(bytes)!;
    expect(parseSpan(bytes, scanned.data![BODY]!)).toEqual({ type: 'offer', sdp });
  });

  it.each([
    ['a bad escape', String.raw`\q`],
    ['a \\x escape', String.raw`\x41`],
    ['a short \\u escape before the quote', String.raw`\u12`],
    ['a \\u escape with a non-hex digit', String.raw`\u00g0`],
    ['a backslash before a raw control character', '\\\u0001'],
    ['an escaped newline written raw', '\\\n'],
  ])('refuses %s in a long string, at every position of its 64-byte chunk', (_name, escape) => {
    for (let shift = 0; shift < 64; shift++) {
      for (const where of ['start', 'middle', 'end'] as const) {
        const before = where === 'start' ? shift : where === 'middle' ? 2000 + shift : 4000 + shift;
        const content = `${filler(before)}${escape}${where === 'end' ? '' : filler(200)}`;
        expect(expectGenericVerdict(sdpFrame(content))).toBe(false);
      }
    }
  });
});

describe('json-scan: raw control characters', () => {
  it('refuses any byte below 0x20 at any place in a long string', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4202 }), fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0, max: 7 }), (at, byte, offset) => {
        const content = Buffer.from(filler(4203));
        content[at] = byte;
        const bytes = sdpFrame(content);
        expect(genericAccepts(bytes)).toBe(false);
        expect(scan(placed(bytes, offset))).toBeUndefined();
      }),
      { numRuns: 2000, seed: 20261201 },
    );
  });
});

describe('json-scan: UTF-8', () => {
  const invalid: [string, number[]][] = [
    ['a lone continuation byte', [0x80]],
    ['a truncated two-byte sequence', [0xc3]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['the byte 0xff', [0xff]],
  ];

  it.each(invalid)('refuses %s in a short string, a long string and a key', (_name, sequence) => {
    const bad = Buffer.from(sequence);
    for (const length of [0, 10, 47, 60, 4000]) {
      expect(expectGenericVerdict(sdpFrame(Buffer.concat([Buffer.from(filler(length)), bad, Buffer.from('tail')])))).toBe(false);
    }
    const inKey = Buffer.concat([Buffer.from('{"event":"relay-ice-candidate","data":{"room":"r","to":"p","x'), bad, Buffer.from('":1,"ice_candidate":{}}}')]);
    expect(expectGenericVerdict(inKey)).toBe(false);
  });

  it('accepts valid multi-byte text in short and long strings, at every offset', () => {
    for (const length of [0, 10, 47, 60, 4000]) {
      const bytes = sdpFrame(`${filler(length)}é ü 漢字 😀 tail`);
      expect(expectGenericVerdict(bytes)).toBe(true);
    }
  });

  it('agrees with the generic path on arbitrary bytes in a long string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 400 }), (noise, at) => {
        const content = Buffer.from(filler(420));
        content.set(noise, Math.min(at, content.length - noise.length));
        expectGenericVerdict(sdpFrame(content));
      }),
      { numRuns: 1500, seed: 20261201 },
    );
  });
});

describe('json-scan: nested objects in the body', () => {
  const nestedBody = (inner: string) => `{"type":"offer","sdp":{"a":[{"b":{"c":"${inner}"}},[1,2.5e3,true,null]],"d":"${filler(300)}"}}`;
  const frameWith = (body: string) => Buffer.from(`{"event":"relay-session-description","data":{"room":"r","to":"p","session_description":${body}}}`);

  it('accepts a nested body and gives its exact span', () => {
    const body = nestedBody(`${filler(2000)}\\r\\n`);
    const bytes = frameWith(body);
    expect(expectGenericVerdict(bytes)).toBe(true);
    const span = scan(bytes)!.data![BODY]!;
    expect(bytes.subarray(span[0], span[1]).toString()).toBe(body);
  });

  it('refuses a long string deep in the body with a bad escape or a raw control character', () => {
    expect(expectGenericVerdict(frameWith(nestedBody(`${filler(2000)}\\q`)))).toBe(false);
    expect(expectGenericVerdict(frameWith(nestedBody(`${filler(2000)}\u0007`)))).toBe(false);
  });

  it('refuses a body nested deeper than the limit, and a broken nested structure', () => {
    expect(scan(frameWith(`${'{"a":'.repeat(MAX_DEPTH)}"${filler(100)}"${'}'.repeat(MAX_DEPTH)}`))).toBeUndefined();
    expect(expectGenericVerdict(frameWith(`{"a":[{"b":"${filler(100)}"]}`))).toBe(false);
    expect(expectGenericVerdict(frameWith(`{"a":{"b":"${filler(100)}"}`))).toBe(false);
  });
});

describe('json-scan: strings far past the frame limit', () => {
  // The edge closes a socket whose frame passes maxFrameBytes (64 KiB) before the scanner sees
  // it; the scanner itself has no limit, and stays exact at any size.
  it('accepts a valid 4 MiB string with escapes and refuses it with one bad byte at its end', () => {
    const content = 'a=fmtp:111 minptime=10;useinbandfec=1\\r\\n'.repeat(100_000);
    expect(scan(sdpFrame(content))).toBeDefined();
    expect(scan(sdpFrame(`${content}\u0001`))).toBeUndefined();
    expect(scan(sdpFrame(`${content}\\`, Buffer.from('"')))).toBeUndefined();
  });
});

describe('json-scan: escapes across the 64-byte steps of the string check', () => {
  /** Pieces that make escapes, runs of backslashes and chunk-straddling escapes likely. */
  const PIECES = ['a', 'a', 'a', 'v=0 ', '\\\\', '\\"', '\\n', '\\r\\n', '\\/', '\\u00e9', '\\uD83D\\uDE00', '\\u12G4', '\\u12', '\\x', '\\q', '\\', '\u0001', '\u001f', '\t', '\u007f', 'é', '0123456789abcdefABCDEF'];

  /** True when a quote in `content` is not escaped (it would end the string there). */
  function hasUnescapedQuote(content: string): boolean {
    let backslashes = 0;
    for (const character of content) {
      if (character === '"' && backslashes % 2 === 0) return true;
      backslashes = character === '\\' ? backslashes + 1 : 0;
    }
    return false;
  }

  it('agrees with the generic path on any mix of escapes in a string of up to ~700 bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 80 }), (pieces) => {
        const content = pieces.join('');
        fc.pre(!hasUnescapedQuote(content));
        expectGenericVerdict(sdpFrame(content));
      }),
      { numRuns: 1500, seed: 20261202 },
    );
  });

  it('takes a run of backslashes at every place of a chunk by its parity', () => {
    for (let before = 0; before < 140; before++) {
      for (let run = 1; run <= 4; run++) {
        const escapes = '\\'.repeat(run);
        expect(expectGenericVerdict(sdpFrame(`${filler(before)}${escapes}n`))).toBe(true);
        expect(expectGenericVerdict(sdpFrame(`${filler(before)}${escapes}q`))).toBe(run % 2 === 0);
      }
    }
  });

  it('checks a \\u escape whose hex digits cross a chunk boundary or the string end', () => {
    for (let before = 100; before < 180; before++) {
      expect(expectGenericVerdict(sdpFrame(`${filler(before)}\\u00e9tail`))).toBe(true);
      expect(expectGenericVerdict(sdpFrame(`${filler(before)}\\u00g9tail`))).toBe(false);
      expect(expectGenericVerdict(sdpFrame(`${filler(before)}\\u00e`))).toBe(false);
    }
  });
});

describe('json-scan: short strings, 16 bytes per step', () => {
  // Keys, rooms and peer ids: the scan reads 16 bytes at a time and takes the string to its
  // first quote when no backslash or control character comes before it. Every byte that may
  // stop that step, at every place of the first three steps, in a key and in a value.
  const STOPPERS = ['"', '\\"', '\\\\', '\\n', '\\u00e9', '\\q', '\\', '\u0001', '\u001f', '\u007f', 'é', '€'];
  const frames = (text: string) => [
    Buffer.from(`{"event":"relay-ice-candidate","data":{"room":"${text}","to":"p","session_description":1}}`),
    Buffer.from(`{"event":"relay-ice-candidate","data":{"${text}":1,"room":"r","to":"p","session_description":1}}`),
  ];

  it('agrees with the generic path on any stopping byte at any place of a short string', () => {
    for (let before = 0; before < 40; before++) {
      for (const stopper of STOPPERS) {
        for (const after of ['', 'x', 'xyz0123456789abcdefXYZ']) {
          for (const frame of frames(`${'k'.repeat(before)}${stopper}${after}`)) expectGenericVerdict(frame);
        }
      }
    }
  });

  it('refuses a short string left open at the very end of the frame, where the padding quotes begin', () => {
    for (let length = 0; length < 40; length++) {
      const open = Buffer.from(`{"event":"relay-ice-candidate","data":{"room":"${'r'.repeat(length)}`);
      expect(expectGenericVerdict(open)).toBe(false);
    }
  });

  it('reads room and peer id spans exactly, whatever their length', () => {
    for (let length = 0; length < 70; length++) {
      const room = `room-${'abcdefghij'.repeat(7)}`.slice(0, length);
      const frame = Buffer.from(`{"event":"relay-ice-candidate","data":{"room":"${room}","to":"peer-${length}","session_description":{"a":1}}}`);
      const scanned = scan(frame);
      expect(scanned?.data).toBeDefined();
      expect(parseSpan(frame, scanned!.data![DATA.keys.indexOf('room')]!)).toBe(room);
      expect(parseSpan(frame, scanned!.data![DATA.keys.indexOf('to')]!)).toBe(`peer-${length}`);
    }
  });
});
