import { Decoder, encode } from '@msgpack/msgpack';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from '../../src/protocol/envelope.js';
import {
  MsgpackKeySet,
  decodeMsgpackSpan,
  msgpackSpanEquals,
  msgpackSpanIsNil,
  msgpackSpanNumber,
  msgpackSpanString,
  scanMsgpackFrame,
  writeMsgpackString,
} from '../../src/protocol/msgpack-scan.js';
import { Refused, Writer, mutate, prng, randomFrame, strictRead } from '../helpers/msgpack-frames.js';

const ENVELOPE = new MsgpackKeySet(['event', 'data', 'id']);
const DATA = new MsgpackKeySet(['room', 'to', 'session_description', 'ice_candidate', 'payload', 'auth']);
const scan = (bytes: Uint8Array, maxDepth = 32) => scanMsgpackFrame(bytes, maxDepth, ENVELOPE, 1, DATA);
const slot = (keys: MsgpackKeySet, key: string) => keys.keys.indexOf(key);

/** The frame codec's decoder, configured as src/protocol/codecs.ts configures it. */
const frameDecoder = (maxBytes: number) =>
  new Decoder({ maxStrLength: maxBytes, maxBinLength: maxBytes, maxArrayLength: maxBytes, maxMapLength: maxBytes, maxExtLength: maxBytes, useBigInt64: false });

// ---------------------------------------------------------------- the comparison

interface Tally {
  accepted: number;
  refused: number;
}

/**
 * The scanner's contract, on one frame: it accepts exactly the frames that the frame decoder
 * decodes to what the strict reader says the bytes are (every level within `maxDepth`), and
 * every span it returns decodes to its member's value (the last of a repeated key), `data`'s
 * members included.
 */
function check(frame: Uint8Array, maxDepth: number, tally: Tally): void {
  // A plain Uint8Array, as uWS hands frames over (an ArrayBuffer): `bin` values decode to plain Uint8Arrays.
  const bytes = new Uint8Array(frame);
  const scanned = scan(bytes, maxDepth);
  let strict: { value: unknown; maxLevel: number } | undefined;
  try {
    strict = strictRead(bytes);
  } catch (error) {
    if (!(error instanceof Refused) && !(error instanceof TypeError)) throw error;
  }
  let decoded: Record<string, unknown> | undefined;
  try {
    decoded = frameDecoder(64 * 1024).decode(bytes) as Record<string, unknown>;
  } catch {
    decoded = undefined;
  }
  const readAlike = strict !== undefined && decoded !== undefined && isDeepStrictEqual(decoded, strict.value);
  const expectAccepted = readAlike && strict!.maxLevel <= maxDepth;
  if ((scanned !== undefined) !== expectAccepted) {
    const verdict = strict ? (readAlike ? `level ${strict.maxLevel}` : 'the decoder reads it otherwise') : 'refused';
    throw new Error(`scanner ${scanned ? 'accepted' : 'refused'} ${Buffer.from(bytes).toString('hex')} (strict reader: ${verdict})`);
  }
  if (!scanned || !decoded) {
    tally.refused += 1;
    return;
  }
  tally.accepted += 1;
  expect(nestsDeeperThan(decoded.data ?? null, maxDepth)).toBe(false);
  const compare = (spans: readonly (readonly [number, number] | undefined)[], keys: MsgpackKeySet, object: Record<string, unknown>) => {
    keys.keys.forEach((key, index) => {
      const span = spans[index];
      expect(span !== undefined, key).toBe(Object.hasOwn(object, key));
      if (span) expect(decodeMsgpackSpan(bytes, span, scanned.binary)).toStrictEqual(object[key]);
    });
  };
  // No `bin` seen: nothing decoded can be a view of the frame.
  if (!scanned.binary) expect(JSON.stringify(decoded, (_key, value: unknown) => (value instanceof Uint8Array ? 'BIN' : value))).not.toContain('"BIN"');
  compare(scanned.envelope, ENVELOPE, decoded);
  const data = decoded.data;
  const dataIsMap = data !== null && typeof data === 'object' && !Array.isArray(data) && !(data instanceof Uint8Array);
  expect(scanned.data !== undefined).toBe(dataIsMap);
  if (dataIsMap) compare(scanned.data!, DATA, data as Record<string, unknown>);
}

describe('msgpack-scan (the relay scanner for MessagePack frames)', () => {
  it('finds the envelope and data members of a relay frame and their exact bytes', () => {
    const ice = { candidate: 'candidate:1 1 udp 1 203.0.113.7 4000 typ host', sdpMid: '0', sdpMLineIndex: 0, bytes: Uint8Array.of(1, 2) };
    const bytes = Buffer.from(encode({ event: 'relay-ice-candidate', data: { room: 'r', to: 'peer', ice_candidate: ice, payload: [1, 2] }, id: 5 }));
    const scanned = scan(bytes)!;
    expect(msgpackSpanEquals(bytes, scanned.envelope[slot(ENVELOPE, 'event')]!, Buffer.from('relay-ice-candidate'))).toBe(true);
    expect(msgpackSpanNumber(bytes, scanned.envelope[slot(ENVELOPE, 'id')]!)).toBe(5);
    expect(msgpackSpanString(bytes, scanned.data![slot(DATA, 'room')]!)).toBe('r');
    expect(msgpackSpanString(bytes, scanned.data![slot(DATA, 'to')]!)).toBe('peer');
    const body = scanned.data![slot(DATA, 'ice_candidate')]!;
    expect(Buffer.from(bytes.subarray(body[0], body[1]))).toEqual(Buffer.from(encode(ice)));
    expect(decodeMsgpackSpan(bytes, scanned.data![slot(DATA, 'payload')]!)).toEqual([1, 2]);
    expect(scanned.data![slot(DATA, 'auth')]).toBeUndefined();
  });

  it('reads ids as the decoder does: fixints, wide and negative integers, floats', () => {
    const idOf = (id: Uint8Array) => {
      const writer = new Writer(() => 0);
      writer.header('map', 2);
      writer.string('event');
      writer.string('x');
      writer.string('id');
      writer.raw(id);
      const bytes = writer.bytes();
      const scanned = scan(bytes)!;
      return msgpackSpanNumber(bytes, scanned.envelope[slot(ENVELOPE, 'id')]!);
    };
    expect(idOf(Uint8Array.of(7))).toBe(7);
    expect(idOf(Uint8Array.of(0xff))).toBe(-1);
    expect(idOf(Uint8Array.of(0xcd, 0x01, 0x00))).toBe(256);
    expect(idOf(Uint8Array.of(0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBe(Number.MAX_SAFE_INTEGER);
    expect(idOf(Uint8Array.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe))).toBe(-2);
    expect(idOf(Uint8Array.of(0xd0, 0x80))).toBe(-128);
    expect(idOf(Buffer.from(encode(7.5)))).toBe(7.5);
    expect(idOf(Uint8Array.of(0xca, 0x40, 0xe0, 0, 0))).toBe(7);
    expect(idOf(Uint8Array.of(0xc0))).toBeNull();
    expect(idOf(Buffer.from(encode('7')))).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['not a map', '93010203'],
    ['trailing bytes', '81a16101' + '00'],
    ['truncated string', '81a161a5616263'],
    ['str32 length past the end', '81a161db0000ffff61'],
    ['map32 count past the end', '81a164df7fffffff'],
    ['a number key', '810101'],
    ['a nil key', '81c001'],
    ['the __proto__ key', '81a95f5f70726f746f5f5f01'],
    ['an extension', '81a161d40102'],
    ['a timestamp', '81a161d6ff00000001'],
    ['the unused type 0xc1', '81a161c1'],
    ['invalid UTF-8', '81a161a2c328'],
    ['a 64-bit integer past 2^53', '81a161cf0040000000000001'],
  ])('refuses %s', (_name, hex) => {
    expect(scan(Buffer.from(hex, 'hex'))).toBeUndefined();
  });

  it('bounds nesting as the generic decoder does: data is level 1', () => {
    const nested = (levels: number): unknown => (levels === 0 ? 1 : [nested(levels - 1)]);
    // data (a map, level 1) holding levels 2..n
    const frame = (depth: number) => Buffer.from(encode({ event: 'e', data: { x: nested(depth - 1) } }));
    expect(scan(frame(8), 8)).toBeDefined();
    expect(scan(frame(9), 8)).toBeUndefined();
    expect(nestsDeeperThan({ x: nested(7) }, 8)).toBe(false);
    expect(nestsDeeperThan({ x: nested(8) }, 8)).toBe(true);
    // Far deeper than any limit: refused without exhausting the stack.
    const deep = Buffer.concat([Buffer.from('81a464617461', 'hex'), Buffer.alloc(60_000, 0x91), Buffer.of(0x01)]);
    expect(scan(deep, 1000)).toBeUndefined();
  });

  it('keeps the last of a repeated key, as the decoder does', () => {
    // {event:"a", data:{room:"x"}, event:"b", data:{room:"y", to:"z"}}
    const writer = new Writer(() => 0);
    writer.header('map', 4);
    for (const [key, value] of [['event', 'a'], ['data', { room: 'x' }], ['event', 'b'], ['data', { room: 'y', to: 'z' }]] as const) {
      writer.string(key);
      writer.raw(encode(value));
    }
    const bytes = writer.bytes();
    const scanned = scan(bytes)!;
    expect(msgpackSpanString(bytes, scanned.envelope[slot(ENVELOPE, 'event')]!)).toBe('b');
    expect(msgpackSpanString(bytes, scanned.data![slot(DATA, 'room')]!)).toBe('y');
    expect(frameDecoder(1024).decode(bytes)).toEqual({ event: 'b', data: { room: 'y', to: 'z' } });
  });

  it('agrees with the decoder on random frames in every encoding, and on damaged ones (deterministic seeds)', () => {
    for (const seed of [1, 2, 3, 15, 2024]) {
      const random = prng(seed);
      const frames: Tally = { accepted: 0, refused: 0 };
      const damaged: Tally = { accepted: 0, refused: 0 };
      for (let round = 0; round < 1500; round++) {
        const bytes = randomFrame(random);
        const maxDepth = random() < 0.2 ? 2 + Math.floor(random() * 4) : 32;
        check(bytes, maxDepth, frames);
        let broken = bytes;
        for (let times = 1 + Math.floor(random() * 2); times > 0 && broken.length > 0; times--) broken = mutate(broken, random);
        check(broken, maxDepth, damaged);
      }
      // Both outcomes occur often: the comparison is not vacuous either way.
      expect(frames.accepted, `seed ${seed}`).toBeGreaterThan(200);
      expect(frames.refused, `seed ${seed}`).toBeGreaterThan(200);
      expect(damaged.refused, `seed ${seed}`).toBeGreaterThan(500);
      expect(damaged.accepted, `seed ${seed}`).toBeGreaterThan(20);
    }
  });

  it('decodes bin from a copy when the frame holds any: plain Uint8Arrays, independent of the frame', () => {
    const bytes = Buffer.from(encode({ event: 'e', data: { room: 'r', payload: { blob: Uint8Array.of(1, 2, 3) } } }));
    const scanned = scan(bytes)!;
    expect(scanned.binary).toBe(true);
    const payload = decodeMsgpackSpan(bytes, scanned.data![slot(DATA, 'payload')]!, scanned.binary) as { blob: Uint8Array };
    expect(Buffer.isBuffer(payload.blob)).toBe(false);
    bytes.fill(0);
    expect([...payload.blob]).toEqual([1, 2, 3]);
    expect(scan(Buffer.from(encode({ event: 'e', data: { room: 'r' } })))!.binary).toBe(false);
  });

  it('tells nil apart and writes strings in the shortest header', () => {
    const bytes = Buffer.from(encode({ event: 'e', data: { room: null } }));
    expect(msgpackSpanIsNil(bytes, scan(bytes)!.data![slot(DATA, 'room')]!)).toBe(true);
    for (const text of ['', 'p', 'x'.repeat(31), 'x'.repeat(32), 'é'.repeat(200), 'x'.repeat(70_000)]) {
      const out = Buffer.alloc(5 + text.length * 3);
      const end = writeMsgpackString(out, 0, text);
      expect(out.subarray(0, end)).toEqual(Buffer.from(encode(text)));
    }
  });
});
