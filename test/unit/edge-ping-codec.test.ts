import { Encoder, decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { FrameCodec, FrameError, encodeFrame, encodePong, pingFrameOf, toInboundFrame, type Codec, type InboundFrame } from '../../src/protocol/index.js';

/**
 * The ping's own decode and the pong's own encode (issue 15): byte for byte what the generic
 * codec gives, and nothing but the usual spellings taken off the generic path, so every other
 * frame keeps its checks and its error code.
 */

const LIMITS = { maxFrameBytes: 64 * 1024, maxDepth: 32 };
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
/** The SDK's MessagePack encoder (packages/client/src/wire.ts). */
const sdkEncoder = new Encoder({ ignoreUndefined: true });

/**
 * What the generic path makes of a frame (the library's decode, or UTF-8 and JSON.parse, then
 * the envelope's checks): its frame, or the error it refuses it with.
 */
function generic(bytes: Uint8Array, isBinary: boolean): InboundFrame | { code: string; message: string } {
  let raw: unknown;
  try {
    raw = isBinary ? decode(bytes) : JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { code: 'BAD_REQUEST', message: isBinary ? 'binary frame is not valid MessagePack' : 'text frame is not valid JSON' };
  }
  try {
    return toInboundFrame(raw, LIMITS.maxDepth);
  } catch (error) {
    if (error instanceof FrameError) return { code: error.code, message: error.message };
    throw error;
  }
}

function decoded(codec: FrameCodec, bytes: Uint8Array | ArrayBuffer, isBinary: boolean): InboundFrame | { code: string; message: string } {
  try {
    return codec.decode(bytes, isBinary);
  } catch (error) {
    if (error instanceof FrameError) return { code: error.code, message: error.message };
    throw error;
  }
}

const IDS = [undefined, 1, 7, 9, 10, 99, 127, 128, 255, 256, 65_535, 65_536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, 999_999_999_999_999, Number.MAX_SAFE_INTEGER];

describe('the ping frame in its usual spelling', () => {
  const codec = new FrameCodec(LIMITS);

  it('decodes the SDK JSON ping of every id size to the frame the generic path makes', () => {
    for (const id of IDS) {
      const bytes = text(JSON.stringify({ event: 'ping', data: undefined, id }));
      const expected = generic(bytes, false);
      // 16 digits (Number.MAX_SAFE_INTEGER) are past the shortcut: the generic path answers it.
      if (id === undefined || String(id).length <= 15) expect(pingFrameOf(bytes, false)).toEqual(expected);
      expect(decoded(codec, bytes, false)).toEqual(expected);
    }
  });

  it('decodes the SDK MessagePack ping of every id size to the frame the generic path makes', () => {
    for (const id of IDS) {
      const bytes = sdkEncoder.encode({ event: 'ping', data: undefined, id });
      const expected = generic(bytes, true);
      expect(pingFrameOf(bytes, true)).toEqual(expected);
      expect(decoded(codec, bytes, true)).toEqual(expected);
      expect(decoded(codec, bytes.slice().buffer, true)).toEqual(expected);
    }
  });

  const OTHER_JSON = [
    '{"event":"ping","id":0}',
    '{"event":"ping","id":01}',
    '{"event":"ping","id":-1}',
    '{"event":"ping","id":1.5}',
    '{"event":"ping","id":1e3}',
    '{"event":"ping","id":9007199254740993}',
    '{"event":"ping","id":12345678901234567890}',
    '{"event":"ping","id":}',
    '{"event":"ping","id":"7"}',
    '{"event":"ping","id":7}}',
    '{"event":"ping","id":7} ',
    '{"event":"ping" ,"id":7}',
    '{"event":"ping","data":null,"id":7}',
    '{"event":"ping","id":7,"data":{}}',
    '{"event":"pingx","id":7}',
    '{"event":"ping"',
    '{"event":"ping"}}',
    '{"event":"ping","ID":7}',
  ];

  it('leaves every other JSON spelling to the generic path, with its answer or its error', () => {
    for (const frame of OTHER_JSON) {
      const bytes = text(frame);
      expect(pingFrameOf(bytes, false), frame).toBeUndefined();
      expect(decoded(codec, bytes, false), frame).toEqual(generic(bytes, false));
    }
    // Some of them are refused, with the stable code and the id when it was valid.
    expect(decoded(codec, text('{"event":"ping","id":0}'), false)).toMatchObject({ code: 'BAD_REQUEST' });
    expect(decoded(codec, text('{"event":"ping","id":01}'), false)).toEqual({ code: 'BAD_REQUEST', message: 'text frame is not valid JSON' });
    expect(decoded(codec, text('{"event":"ping","id":9007199254740993}'), false)).toMatchObject({ code: 'BAD_REQUEST' });
  });

  const OTHER_MSGPACK: [string, Uint8Array][] = [
    ['id 0', encode({ event: 'ping', id: 0 })],
    ['a negative id', encode({ event: 'ping', id: -3 })],
    ['a float id', encode({ event: 'ping', id: 1.5 })],
    ['a float id of an integer value', encode({ event: 'ping', id: 7 }, { forceIntegerToFloat: true })],
    ['a string id', encode({ event: 'ping', id: '7' })],
    ['data before the id', encode({ event: 'ping', data: null, id: 7 })],
    ['the id before the event', encode({ id: 7, event: 'ping' })],
    ['another event', encode({ event: 'pong', id: 7 })],
    ['a uint64 id past 2^53', Uint8Array.from([...encode({ event: 'ping', id: 1 }).subarray(0, 15), 0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 1])],
    ['trailing bytes', Uint8Array.from([...encode({ event: 'ping', id: 7 }), 0xc0])],
    ['a truncated id', encode({ event: 'ping', id: 70_000 }).subarray(0, 18)],
    ['no id after its key', encode({ event: 'ping', id: 7 }).subarray(0, 15)],
    ['a map of one key with more after it', Uint8Array.from([...encode({ event: 'ping' }), 0xa2, 0x69, 0x64, 0x07])],
  ];

  it('leaves every other MessagePack spelling to the generic path, with its answer or its error', () => {
    for (const [name, bytes] of OTHER_MSGPACK) {
      expect(pingFrameOf(bytes, true), name).toBeUndefined();
      expect(decoded(codec, bytes, true), name).toEqual(generic(bytes, true));
    }
    expect(decoded(codec, OTHER_MSGPACK[0]![1], true)).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('does not take a ping spelled in the other codec', () => {
    expect(pingFrameOf(text('{"event":"ping","id":7}'), true)).toBeUndefined();
    expect(pingFrameOf(encode({ event: 'ping', id: 7 }), false)).toBeUndefined();
  });
});

/** A message's bytes on the wire: a string's UTF-8, or the bytes themselves. */
const wireBytes = (message: string | Uint8Array): Buffer => (typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message));

describe('the pong', () => {
  const NOW = [0, 1, 127, 128, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 1_796_158_043_254, Number.MAX_SAFE_INTEGER];
  const CODECS: Codec[] = ['json', 'msgpack'];

  it('is the bytes encodeFrame writes for pong {ts} with the id, in both codecs', () => {
    for (const codec of CODECS) {
      for (const ts of NOW) {
        for (const id of IDS) {
          const expected = encodeFrame(codec, { event: 'pong', data: { ts }, id });
          const actual = encodePong(codec, ts, id);
          expect(wireBytes(actual).toString('hex'), `${codec} ts ${ts} id ${id}`).toBe(wireBytes(expected).toString('hex'));
        }
      }
    }
  });

  it('never changes the bytes of a pong already made when the next ones are written', () => {
    for (const codec of CODECS) {
      const first = encodePong(codec, 1_796_158_043_254, 1);
      const copy = Buffer.from(wireBytes(first));
      // Enough pongs to fill the slab the first one is in several times over.
      for (let index = 0; index < 10_000; index++) encodePong(codec, 2 ** 40 + index, index + 1);
      expect(wireBytes(first).equals(copy)).toBe(true);
    }
  });

  it('writes a clock value that is no wire integer the generic way', () => {
    for (const codec of CODECS) {
      for (const ts of [-5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
        const expected = encodeFrame(codec, { event: 'pong', data: { ts }, id: 3 });
        expect(wireBytes(encodePong(codec, ts, 3)).toString('hex')).toBe(wireBytes(expected).toString('hex'));
      }
    }
  });
});
