import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeySet, parseSpan, scanFrame as scanWith, spanEqualsString } from '../../src/protocol/json-scan.js';

const ENVELOPE = new KeySet(['event', 'data', 'id']);
const DATA = new KeySet(['room', 'to', 'session_description', 'payload', 'body']);
const scanFrame = (bytes: Buffer, maxDepth: number) => scanWith(bytes, maxDepth, ENVELOPE, 1, DATA);
const at = (spans: (readonly [number, number] | undefined)[] | undefined, keys: KeySet, key: string) => spans![keys.keys.indexOf(key)]!;

const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('json-scan (the relay route-on-the-envelope scanner)', () => {
  it('finds the envelope and data members of a relay frame and their exact bytes', () => {
    const sdp = { type: 'offer', sdp: 'v=0\r\no=- "quoted" \\ back\r\n' };
    const bytes = encode({ event: 'relay-session-description', data: { room: 'r', to: 'p', session_description: sdp, payload: [1, 2] }, id: 5 });
    const scanned = scanFrame(bytes, 32)!;
    expect(spanEqualsString(bytes, at(scanned.envelope, ENVELOPE, 'event'), 'relay-session-description')).toBe(true);
    expect(parseSpan(bytes, at(scanned.envelope, ENVELOPE, 'id'))).toBe(5);
    expect(parseSpan(bytes, at(scanned.data, DATA, 'session_description'))).toEqual(sdp);
    expect(parseSpan(bytes, at(scanned.data, DATA, 'payload'))).toEqual([1, 2]);
  });

  it.each([
    ['not an object', '[1,2]'],
    ['trailing garbage', '{"event":"x"} x'],
    ['missing colon', '{"event" "x"}'],
    ['missing comma', '{"event":"x" "data":{}}'],
    ['trailing comma', '{"event":"x",}'],
    ['unterminated string', '{"event":"x'],
    ['bad literal', '{"event":tru}'],
    ['leading zero', '{"id":012}'],
    ['bare fraction', '{"id":1.}'],
    ['duplicate key', '{"event":"a","event":"b"}'],
    ['unbalanced', '{"data":{"a":[1,2}}'],
    ['too deep', `{"data":${'['.repeat(40)}${']'.repeat(40)}}`],
  ])('refuses %s', (_name, text) => {
    expect(scanFrame(Buffer.from(text), 32)).toBeUndefined();
  });

  it('does not match a wanted key written with escapes (the full parser handles such frames)', () => {
    const scanned = scanFrame(Buffer.from('{"ev\\u0065nt":"relay-ice-candidate","data":{}}'), 32);
    expect(scanned).toBeDefined();
    expect(scanned!.envelope[ENVELOPE.keys.indexOf('event')]).toBeUndefined();
  });

  it('agrees with JSON.parse on the values of any frame JSON.stringify writes', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.jsonValue({ maxDepth: 6 }), fc.jsonValue({ maxDepth: 6 }), (event, body, payload) => {
        const bytes = encode({ event, data: { room: 'r', body, payload } });
        const scanned = scanFrame(bytes, 64);
        expect(scanned).toBeDefined();
        expect(parseSpan(bytes, at(scanned!.envelope, ENVELOPE, 'event'))).toBe(event);
        expect(parseSpan(bytes, at(scanned!.data, DATA, 'body'))).toEqual(JSON.parse(JSON.stringify(body)));
        expect(parseSpan(bytes, at(scanned!.data, DATA, 'payload'))).toEqual(JSON.parse(JSON.stringify(payload)));
      }),
      { numRuns: 500 },
    );
  });

  it('never accepts a structurally broken document that JSON.parse refuses', () => {
    // Mutations of structure only (no string contents), where the scanner must be exact.
    const alphabet = fc.constantFrom('{', '}', '[', ']', ':', ',', '"a"', '1', '-2.5e3', 'true', 'null', ' ', '"event"', '"data"');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }), (tokens) => {
        const text = tokens.join('');
        const scanned = scanFrame(Buffer.from(text), 64);
        if (scanned === undefined) return;
        const parsed = JSON.parse(text) as unknown;
        expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('json-scan string validation (hardening point 1)', () => {
  const frameWith = (inner: string) => Buffer.from(`{"event":"relay-ice-candidate","data":{"room":"${inner}","to":"p","body":{"candidate":"${inner}"}},"id":1}`, 'utf8');

  it.each([
    ['a bad escape', String.raw`a\qb`],
    ['a raw control character', 'a\u0001b'],
    ['a raw tab', 'a\tb'],
    ['a short \\u escape', String.raw`a\u12`],
    ['a non-hex \\u escape', String.raw`a\u00zz`],
    ['an escaped closing quote that leaves the string open', 'ab\\'],
  ])('refuses a string with %s (JSON.parse would throw on it)', (_name, inner) => {
    expect(() => JSON.parse(frameWith(inner).toString())).toThrow();
    expect(scanFrame(frameWith(inner), 32)).toBeUndefined();
  });

  it('accepts every escape JSON allows', () => {
    const inner = String.raw`\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00`;
    const scanned = scanFrame(frameWith(inner), 32)!;
    expect(parseSpan(frameWith(inner), at(scanned.data, DATA, 'room'))).toBe(JSON.parse(`"${inner}"`));
  });

  it('accepts exactly the strings JSON.parse accepts, for any text between the quotes', () => {
    const piece = fc.oneof(
      fc.constantFrom('\\', '"', '\\"', '\\\\', '\\u', '\\u00', '\\u00e9', '\\x', '\\n', '\u0000', '\u001f', '\n', 'é', '{', '}'),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const bytes = frameWith(pieces.join(''));
        let parsedOk = true;
        try {
          JSON.parse(bytes.toString('utf8'));
        } catch {
          parsedOk = false;
        }
        const scanned = scanFrame(bytes, 32);
        // Accepting what JSON.parse refuses is the bug that killed the process; refusing
        // what it accepts only sends the frame to the full parser.
        if (scanned !== undefined) expect(parsedOk).toBe(true);
        if (scanned?.data) for (const span of scanned.data) if (span) expect(() => parseSpan(bytes, span)).not.toThrow();
      }),
      { numRuns: 5000, seed: 20261201 },
    );
  });
});

describe('json-scan long strings (the word-wise check past the short loop)', () => {
  it('accepts exactly what JSON.parse accepts, at every alignment of the buffer', () => {
    const piece = fc.constantFrom('\\', '"', '\\"', '\\\\', '\\u', '\\u00', '\\u00e9', '\\x', '\\n', '\\r\\n', '\u0000', '\u001f', '\n', 'é', 'a=candidate:1 udp', 'xxxxxxxxxxxxxxxx');
    fc.assert(
      fc.property(fc.array(piece, { minLength: 4, maxLength: 40 }), fc.integer({ min: 0, max: 7 }), (pieces, offset) => {
        const text = `{"event":"relay-ice-candidate","data":{"room":"r","to":"p","body":{"sdp":"${pieces.join('')}"}}}`;
        const pool = Buffer.alloc(offset + Buffer.byteLength(text) + 8);
        const bytes = pool.subarray(offset, offset + pool.write(text, offset));
        let parsedOk = true;
        try {
          JSON.parse(text);
        } catch {
          parsedOk = false;
        }
        expect(scanFrame(bytes, 32) !== undefined).toBe(parsedOk);
      }),
      { numRuns: 3000, seed: 20261201 },
    );
  });

  it('agrees with JSON.parse on numbers, literals and whitespace in every value position', () => {
    const token = fc.constantFrom('0', '1', '9', '-', '+', '.', 'e', 'E', '00', 'true', 'false', 'null', 'tru', 'nul', 'fals', ' ', '\t', '\n', '\r', '\u000b', ',', '"x"', '[', ']', '{}');
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 8 }), fc.constantFrom(0, 1, 2), (tokens, where) => {
        const value = tokens.join('');
        const text = [`{"event":${value}}`, `{"event":"e","data":{"room":${value}}}`, `{"event":"e","data":{"body":[${value}]}}`][where]!;
        let parses = true;
        try {
          JSON.parse(text);
        } catch {
          parses = false;
        }
        expect(scanFrame(Buffer.from(text), 32) !== undefined, text).toBe(parses);
      }),
      { numRuns: 3000, seed: 20261202 },
    );
  });

  it('leaves a frame with more members than it records (64 at the top and in object values) to the generic path', () => {
    const members = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, index]));
    // The three envelope members and data's own: 64 records, scanned; one more, not.
    const fits = encode({ event: 'relay-ice-candidate', data: { room: 'r', ...members(60) }, id: 1 });
    expect(scanFrame(fits, 32)).toBeDefined();
    const over = encode({ event: 'relay-ice-candidate', data: { room: 'r', ...members(61) }, id: 1 });
    expect(scanFrame(over, 32)).toBeUndefined();
    // Members deeper down are checked, not recorded: any number of them.
    expect(scanFrame(encode({ event: 'e', data: { room: 'r', body: members(500) } }), 32)).toBeDefined();
  });

  it('leaves a frame nested deeper than its 256 levels to the generic path, whatever the limit asked', () => {
    const nested = (levels: number) => Buffer.from(`{"event":"e","data":${'['.repeat(levels)}${']'.repeat(levels)}}`);
    expect(scanFrame(nested(254), 1000)).toBeDefined();
    expect(scanFrame(nested(300), 1000)).toBeUndefined();
  });

  it('runs the module built from json-scan.wat as committed', () => {
    // The committed bytes must be the build of the committed source (`npm run build:wasm`).
    expect(() => execFileSync(process.execPath, ['src/protocol/wasm/build.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
