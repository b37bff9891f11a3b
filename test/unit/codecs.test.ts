import { ExtData, decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  FrameCodec,
  FrameError,
  MAX_EVENT_NAME_LENGTH,
  SUBPROTOCOLS,
  encodeFrame,
  nestsDeeperThan,
  negotiateSubprotocol,
  toInboundFrame,
} from '../../src/protocol/index.js';

const MAX_DEPTH = 8;
const codec = new FrameCodec({ maxDepth: MAX_DEPTH, maxFrameBytes: 64 * 1024 });

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const json = (text: string) => codec.decode(utf8(text), false);
const packed = (value: unknown) => codec.decode(msgpackEncode(value), true);

/** Runs `decode` and returns the FrameError it must throw. */
function frameError(run: () => unknown): FrameError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FrameError);
    expect(error).toBeInstanceOf(AppError);
    return error as FrameError;
  }
  throw new Error('expected a FrameError, decode succeeded');
}

/** `depth` arrays nested in one another, innermost holding a number. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) value = [value];
  return value;
}

describe('FrameCodec.decode: valid frames', () => {
  it('decodes a JSON text frame', () => {
    expect(json('{"event":"room-join-request","data":{"room":"r1"},"id":7}')).toEqual({
      event: 'room-join-request',
      data: { room: 'r1' },
      id: 7,
    });
  });

  it('decodes a MessagePack binary frame, byte fields staying binary', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(packed({ event: 'relay-ice-candidate', data: { blob: bytes }, id: 9 })).toEqual({
      event: 'relay-ice-candidate',
      data: { blob: bytes },
      id: 9,
    });
  });

  it('treats a missing id (or null) as none and missing data as null', () => {
    expect(json('{"event":"ping"}')).toEqual({ event: 'ping', data: null, id: undefined });
    expect(json('{"event":"ping","id":null,"data":null}')).toEqual({ event: 'ping', data: null, id: undefined });
    expect(packed({ event: 'ping' })).toEqual({ event: 'ping', data: null, id: undefined });
  });

  it('accepts the largest safe id and every event-name character', () => {
    const event = 'Az09_.:-';
    expect(json(`{"event":"${event}","id":${Number.MAX_SAFE_INTEGER}}`)).toMatchObject({ event, id: Number.MAX_SAFE_INTEGER });
    expect(json(`{"event":"${'e'.repeat(MAX_EVENT_NAME_LENGTH)}","id":1}`).event).toHaveLength(MAX_EVENT_NAME_LENGTH);
  });

  it('accepts an ArrayBuffer and a Uint8Array view into a larger buffer', () => {
    const frame = utf8('{"event":"ping","id":3}');
    const arrayBuffer = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer;
    expect(codec.decode(arrayBuffer, false)).toMatchObject({ event: 'ping', id: 3 });
    // A view whose bytes sit in the middle of other bytes (as a pooled buffer would).
    const padded = new Uint8Array(frame.byteLength + 20).fill(0x20);
    padded.set(frame, 10);
    padded[0] = 0xff;
    padded[padded.length - 1] = 0xff;
    expect(codec.decode(padded.subarray(10, 10 + frame.byteLength), false)).toMatchObject({ event: 'ping', id: 3 });
    const binary = msgpackEncode({ event: 'ping', id: 4 });
    const paddedBinary = new Uint8Array(binary.byteLength + 8).fill(0xc1);
    paddedBinary.set(binary, 4);
    expect(codec.decode(paddedBinary.subarray(4, 4 + binary.byteLength), true)).toMatchObject({ event: 'ping', id: 4 });
  });

  it('returns MessagePack byte fields that do not share the frame buffer (uWS frees it after the callback)', () => {
    const frame = msgpackEncode({
      event: 'relay',
      data: { blob: new Uint8Array([1, 2, 3]), list: [new Uint8Array([4]), { deep: new Uint8Array([5, 6]) }], ext: new ExtData(7, new Uint8Array([8])) },
    });
    // As uWS hands it over: an ArrayBuffer of its own, which is gone once the callback returns.
    const message = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer;
    const data = codec.decode(message, true).data as { blob: Uint8Array; list: [Uint8Array, { deep: Uint8Array }]; ext: ExtData };
    new Uint8Array(message).fill(0);
    expect(data.blob).toEqual(new Uint8Array([1, 2, 3]));
    expect(data.list[0]).toEqual(new Uint8Array([4]));
    expect(data.list[1].deep).toEqual(new Uint8Array([5, 6]));
    expect(data.ext).toEqual(new ExtData(7, new Uint8Array([8])));
    for (const bytes of [data.blob, data.list[0], data.list[1].deep, data.ext.data as Uint8Array]) expect(bytes.buffer).not.toBe(message);
  });

  it('accepts data nested exactly maxDepth deep', () => {
    expect(json(JSON.stringify({ event: 'deep', data: nested(MAX_DEPTH) })).data).toEqual(nested(MAX_DEPTH));
    expect(packed({ event: 'deep', data: nested(MAX_DEPTH) }).data).toEqual(nested(MAX_DEPTH));
    // A byte field at the deepest level counts like a string field there: it is not a container.
    const withBytes = { event: 'deep', data: [[[[[[[{ bytes: new Uint8Array([1]) }]]]]]]] };
    expect(nestsDeeperThan(withBytes.data, MAX_DEPTH)).toBe(false);
    expect(packed(withBytes).data).toEqual(withBytes.data);
  });

  it('decodes by the frame kind, not the connection codec: text is JSON, binary is MessagePack', () => {
    const text = utf8('{"event":"ping"}');
    expect(() => codec.decode(text, true)).toThrow(FrameError);
    expect(() => codec.decode(msgpackEncode({ event: 'ping' }), false)).toThrow(FrameError);
  });
});

describe('FrameCodec.decode: malformed frames give BAD_REQUEST', () => {
  const cases: { name: string; run: () => unknown; frameId: number | undefined; message?: RegExp }[] = [
    { name: 'empty text frame', run: () => codec.decode(new Uint8Array(0), false), frameId: undefined, message: /empty/ },
    { name: 'empty binary frame', run: () => codec.decode(new ArrayBuffer(0), true), frameId: undefined, message: /empty/ },
    { name: 'text that is not JSON', run: () => json('{"event":"ping",'), frameId: undefined, message: /JSON/ },
    { name: 'plain text', run: () => json('hello'), frameId: undefined, message: /JSON/ },
    { name: 'a JSON array', run: () => json('[{"event":"ping","id":1}]'), frameId: undefined, message: /object/ },
    { name: 'a JSON number', run: () => json('42'), frameId: undefined, message: /object/ },
    { name: 'a JSON string', run: () => json('"ping"'), frameId: undefined, message: /object/ },
    { name: 'JSON null', run: () => json('null'), frameId: undefined, message: /object/ },
    { name: 'JSON true', run: () => json('true'), frameId: undefined, message: /object/ },
    { name: 'no event', run: () => json('{"data":{},"id":5}'), frameId: 5, message: /event/ },
    { name: 'empty event', run: () => json('{"event":"","id":5}'), frameId: 5, message: /event/ },
    { name: 'event a number', run: () => json('{"event":12,"id":5}'), frameId: 5, message: /event/ },
    { name: 'event an object', run: () => json('{"event":{"name":"ping"},"id":6}'), frameId: 6, message: /event/ },
    { name: 'event null', run: () => json('{"event":null,"id":6}'), frameId: 6, message: /event/ },
    { name: 'event too long', run: () => json(`{"event":"${'e'.repeat(MAX_EVENT_NAME_LENGTH + 1)}","id":7}`), frameId: 7, message: /event/ },
    { name: 'event with a space', run: () => json('{"event":"room join","id":8}'), frameId: 8, message: /event/ },
    { name: 'event with a slash', run: () => json('{"event":"../etc","id":8}'), frameId: 8 },
    { name: 'event with a non-ASCII letter', run: () => json('{"event":"pïng","id":8}'), frameId: 8 },
    { name: 'event with a newline', run: () => json('{"event":"ping\\n","id":8}'), frameId: 8 },
    { name: 'id negative', run: () => json('{"event":"ping","id":-1}'), frameId: undefined, message: /id/ },
    { name: 'id zero', run: () => json('{"event":"ping","id":0}'), frameId: undefined, message: /id/ },
    { name: 'id fractional', run: () => json('{"event":"ping","id":1.5}'), frameId: undefined, message: /id/ },
    { name: 'id a numeric string', run: () => json('{"event":"ping","id":"7"}'), frameId: undefined, message: /id/ },
    { name: 'id a boolean', run: () => json('{"event":"ping","id":true}'), frameId: undefined, message: /id/ },
    { name: 'id an array', run: () => json('{"event":"ping","id":[7]}'), frameId: undefined, message: /id/ },
    { name: 'id 2^53 (beyond 2^53-1)', run: () => json('{"event":"ping","id":9007199254740992}'), frameId: undefined, message: /id/ },
    { name: 'id 2^53+1', run: () => json('{"event":"ping","id":9007199254740993}'), frameId: undefined, message: /id/ },
    { name: 'id 1e400 (Infinity)', run: () => json('{"event":"ping","id":1e400}'), frameId: undefined, message: /id/ },
    { name: 'bad id and bad event together', run: () => json('{"event":"","id":-3}'), frameId: undefined },
    {
      name: 'data nested deeper than maxDepth (JSON)',
      run: () => json(JSON.stringify({ event: 'deep', data: nested(MAX_DEPTH + 1), id: 11 })),
      frameId: 11,
      message: /nests deeper/,
    },
    {
      name: 'data nested 100000 deep (JSON)',
      run: () => json(`{"event":"deep","id":12,"data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
      frameId: 12,
      message: /nests deeper/,
    },
    {
      name: 'objects nested deeper than maxDepth (JSON)',
      run: () => json(`{"event":"deep","id":13,"data":${'{"a":'.repeat(MAX_DEPTH + 1)}1${'}'.repeat(MAX_DEPTH + 1)}}`),
      frameId: 13,
      message: /nests deeper/,
    },
    {
      name: 'invalid UTF-8 byte in text',
      run: () => codec.decode(new Uint8Array([...utf8('{"event":"ping","data":"'), 0xff, ...utf8('"}')]), false),
      frameId: undefined,
      message: /UTF-8/,
    },
    {
      name: 'UTF-8-encoded lone surrogate in text',
      run: () => codec.decode(new Uint8Array([...utf8('{"event":"ping","data":"'), 0xed, 0xa0, 0x80, ...utf8('"}')]), false),
      frameId: undefined,
      message: /UTF-8/,
    },
    {
      name: 'truncated UTF-8 sequence at the end of text',
      run: () => codec.decode(new Uint8Array([...utf8('{"event":"ping"}'), 0xe2, 0x82]), false),
      frameId: undefined,
      message: /UTF-8/,
    },
    { name: 'binary garbage (reserved type byte)', run: () => codec.decode(new Uint8Array([0xc1, 0x00, 0x01]), true), frameId: undefined },
    {
      name: 'truncated MessagePack',
      run: () => {
        const bytes = msgpackEncode({ event: 'ping', id: 1, data: { text: 'hello' } });
        return codec.decode(bytes.subarray(0, bytes.byteLength - 3), true);
      },
      frameId: undefined,
      message: /MessagePack/,
    },
    {
      name: 'MessagePack with trailing bytes',
      run: () => codec.decode(new Uint8Array([...msgpackEncode({ event: 'ping', id: 1 }), 0x00]), true),
      frameId: undefined,
      message: /MessagePack/,
    },
    {
      name: 'MessagePack str header announcing 4 GiB',
      run: () => codec.decode(new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), true),
      frameId: undefined,
      message: /MessagePack/,
    },
    { name: 'MessagePack array', run: () => packed([{ event: 'ping' }]), frameId: undefined, message: /object/ },
    { name: 'MessagePack number', run: () => packed(7), frameId: undefined, message: /object/ },
    { name: 'MessagePack string', run: () => packed('ping'), frameId: undefined, message: /object/ },
    { name: 'MessagePack nil', run: () => packed(null), frameId: undefined, message: /object/ },
    { name: 'MessagePack timestamp (a Date)', run: () => packed(new Date(0)), frameId: undefined, message: /object/ },
    { name: 'MessagePack binary event', run: () => packed({ event: utf8('ping'), id: 2 }), frameId: 2, message: /event/ },
    { name: 'MessagePack id as float', run: () => packed({ event: 'ping', id: 2.5 }), frameId: undefined, message: /id/ },
    { name: 'MessagePack id as uint64 max', run: () => codec.decode(new Uint8Array([0x82, 0xa5, ...utf8('event'), 0xa4, ...utf8('ping'), 0xa2, ...utf8('id'), 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), true), frameId: undefined, message: /id/ },
    {
      name: 'data nested deeper than maxDepth (MessagePack)',
      run: () => packed({ event: 'deep', data: nested(MAX_DEPTH + 1), id: 14 }),
      frameId: 14,
      message: /nests deeper/,
    },
    {
      name: 'data nested 100000 deep (MessagePack)',
      run: () => {
        const head = msgpackEncode({ event: 'deep', id: 15, data: 0 });
        // Replace the final `data: 0` with 100000 one-element arrays around a 1.
        const bytes = new Uint8Array(head.byteLength - 1 + 100_001);
        bytes.set(head.subarray(0, head.byteLength - 1));
        bytes.fill(0x91, head.byteLength - 1, bytes.length - 1);
        bytes[bytes.length - 1] = 0x01;
        return codec.decode(bytes, true);
      },
      frameId: 15,
      message: /nests deeper/,
    },
  ];

  it.each(cases)('$name', ({ run, frameId, message }) => {
    const error = frameError(run);
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.frameId).toBe(frameId);
    if (message) expect(error.message).toMatch(message);
  });

  it('never names internals in its messages', () => {
    for (const { run } of cases) {
      const error = frameError(run);
      expect(error.message).not.toMatch(/RangeError|DataView|SyntaxError|at position|Unexpected token|buffer\[/);
    }
  });
});

describe('nestsDeeperThan and toInboundFrame', () => {
  it('counts containers, not scalars, and treats binary as a leaf', () => {
    expect(nestsDeeperThan(1, 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan({}, 1)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 2)).toBe(true);
    expect(nestsDeeperThan({ bytes: new Uint8Array(1000) }, 1)).toBe(false);
    expect(nestsDeeperThan(new Uint8Array(10), 0)).toBe(false);
    expect(nestsDeeperThan({ a: { bytes: new Uint8Array(1) } }, 1)).toBe(true);
    // A wide but shallow value is fine; one deep branch among many is not.
    expect(nestsDeeperThan({ a: [1, 2, 3], b: { c: 1 }, d: [[[[1]]]] }, 4)).toBe(true);
  });

  it('accepts an object with a null prototype and refuses class instances', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { event: 'ping', id: 1 });
    expect(toInboundFrame(bare, 4)).toEqual({ event: 'ping', data: null, id: 1 });
    expect(() => toInboundFrame(new Map([['event', 'ping']]), 4)).toThrow(FrameError);
    expect(() => toInboundFrame(new (class Frame { event = 'ping'; })(), 4)).toThrow(FrameError);
  });
});

describe('encodeFrame', () => {
  it('writes JSON with the id when there is one, without it when there is none', () => {
    expect(JSON.parse(encodeFrame('json', { event: 'pong', data: { ts: 1 }, id: 7 }) as string)).toEqual({ event: 'pong', data: { ts: 1 }, id: 7 });
    const push = encodeFrame('json', { event: 'room-user-join', data: { room: 'r' } });
    expect(typeof push).toBe('string');
    expect(JSON.parse(push as string)).toEqual({ event: 'room-user-join', data: { room: 'r' } });
    expect(push).not.toContain('"id"');
    expect(encodeFrame('json', { event: 'x', data: null, id: undefined })).toBe('{"event":"x","data":null}');
  });

  it('writes bytes as arrays of numbers in JSON, beside empty objects and empty byte arrays; never the internal interim flag', () => {
    const frame = { event: 'x', data: { configuration: {}, list: [{}, { deep: { bytes: new Uint8Array([1, 2]) } }], none: new Uint8Array(0) }, id: 3, interim: true };
    expect(JSON.parse(encodeFrame('json', frame) as string)).toEqual({ event: 'x', data: { configuration: {}, list: [{}, { deep: { bytes: [1, 2] } }], none: [] }, id: 3 });
    // Empty objects alone are plain JSON (no bytes anywhere).
    expect(encodeFrame('json', { event: 'x', data: { a: {}, b: [{}] } })).toBe('{"event":"x","data":{"a":{},"b":[{}]}}');
    expect(msgpackDecode(encodeFrame('msgpack', frame) as Uint8Array)).not.toHaveProperty('interim');
  });

  it('writes MessagePack with the id when there is one, without it when there is none', () => {
    const answer = encodeFrame('msgpack', { event: 'pong', data: { bytes: new Uint8Array([9]) }, id: 8 });
    expect(answer).toBeInstanceOf(Uint8Array);
    expect(msgpackDecode(answer as Uint8Array)).toEqual({ event: 'pong', data: { bytes: new Uint8Array([9]) }, id: 8 });
    const push = msgpackDecode(encodeFrame('msgpack', { event: 'room-closed', data: { room: 'r' } }) as Uint8Array);
    expect(push).toEqual({ event: 'room-closed', data: { room: 'r' } });
    expect(Object.keys(push as object)).not.toContain('id');
  });

  it('returns MessagePack bytes that later encodes do not overwrite', () => {
    const first = encodeFrame('msgpack', { event: 'first', data: 'a'.repeat(100), id: 1 }) as Uint8Array;
    const copy = first.slice();
    encodeFrame('msgpack', { event: 'second', data: 'b'.repeat(100), id: 2 });
    expect(first).toEqual(copy);
    expect(msgpackDecode(first)).toMatchObject({ event: 'first', id: 1 });
  });

  it('round-trips through decode in both codecs', () => {
    const frame = { event: 'room-join-accept', data: { room: 'r', peers: ['a', 'b'], n: 1.5, ok: true, none: null }, id: 42 };
    expect(codec.decode(utf8(encodeFrame('json', frame) as string), false)).toEqual(frame);
    expect(codec.decode(encodeFrame('msgpack', frame) as Uint8Array, true)).toEqual(frame);
  });
});

describe('negotiateSubprotocol', () => {
  it('defaults to JSON without naming a protocol when none is offered', () => {
    expect(negotiateSubprotocol(undefined)).toEqual({ protocol: null, codec: 'json' });
    expect(negotiateSubprotocol('')).toEqual({ protocol: null, codec: 'json' });
  });

  it('picks each known protocol', () => {
    expect(negotiateSubprotocol('switchyard.v1.json')).toEqual({ protocol: 'switchyard.v1.json', codec: 'json' });
    expect(negotiateSubprotocol('switchyard.v1.msgpack')).toEqual({ protocol: 'switchyard.v1.msgpack', codec: 'msgpack' });
  });

  it('takes the first known protocol of a list, ignoring spaces and unknown ones', () => {
    expect(negotiateSubprotocol('graphql-ws, switchyard.v1.msgpack,switchyard.v1.json')).toEqual({
      protocol: 'switchyard.v1.msgpack',
      codec: 'msgpack',
    });
    expect(negotiateSubprotocol(' switchyard.v1.json , switchyard.v1.msgpack')).toEqual({ protocol: 'switchyard.v1.json', codec: 'json' });
  });

  it('falls back to JSON and no protocol for unknown offers (names are case-sensitive)', () => {
    expect(negotiateSubprotocol('graphql-ws, mqtt')).toEqual({ protocol: null, codec: 'json' });
    expect(negotiateSubprotocol('SWITCHYARD.V1.MSGPACK')).toEqual({ protocol: null, codec: 'json' });
    expect(negotiateSubprotocol(',,')).toEqual({ protocol: null, codec: 'json' });
  });

  // Subprotocols are looked up with Object.hasOwn: an offered `constructor`, `toString` or
  // `__proto__` must not match a name inherited from Object.prototype.
  it('refuses names inherited from Object.prototype', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(negotiateSubprotocol(name)).toEqual({ protocol: null, codec: 'json' });
    }
  });

  it('lists exactly the two protocols of PROTOCOL.md', () => {
    expect(Object.entries(SUBPROTOCOLS)).toEqual([
      ['switchyard.v1.json', 'json'],
      ['switchyard.v1.msgpack', 'msgpack'],
    ]);
  });
});
