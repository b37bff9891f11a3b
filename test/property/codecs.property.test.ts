import { encode as msgpackEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameCodec, FrameError, MAX_EVENT_NAME_LENGTH, encodeFrame, nestsDeeperThan, type InboundFrame } from '../../src/protocol/index.js';

const MAX_DEPTH = 6;
const codec = new FrameCodec({ maxDepth: MAX_DEPTH, maxFrameBytes: 64 * 1024 });
const utf8 = new TextEncoder();
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Decodes and checks the outcome is one of the two allowed ones: a frame that satisfies the
 * envelope's invariants, or a FrameError with code BAD_REQUEST whose frameId (if any) is a
 * valid id. Anything else thrown (TypeError, RangeError, a stack overflow) fails the property.
 */
function decodeChecked(bytes: Uint8Array, isBinary: boolean): InboundFrame | FrameError {
  let frame: InboundFrame;
  try {
    frame = codec.decode(bytes, isBinary);
  } catch (error) {
    if (!(error instanceof FrameError)) throw error;
    expect(error.code).toBe('BAD_REQUEST');
    if (error.frameId !== undefined) {
      expect(Number.isSafeInteger(error.frameId) && error.frameId >= 1).toBe(true);
    }
    return error;
  }
  expect(frame.event).toMatch(EVENT_NAME);
  if (frame.id !== undefined) expect(Number.isSafeInteger(frame.id) && frame.id >= 1).toBe(true);
  expect(frame.data).not.toBeUndefined();
  expect(nestsDeeperThan(frame.data, MAX_DEPTH)).toBe(false);
  return frame;
}

/** Values a frame's fields might hold in either codec (no undefined, no BigInt). */
const anyField = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.stringMatching(EVENT_NAME),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 64),
);

/** Objects shaped roughly like frames, each field present or not, valid or not (valid ones weighted up). */
const frameLike = fc.record(
  {
    event: fc.oneof({ arbitrary: fc.stringMatching(EVENT_NAME), weight: 4 }, { arbitrary: anyField, weight: 1 }),
    id: fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), weight: 3 },
      { arbitrary: anyField, weight: 1 },
    ),
    data: fc.oneof(
      fc.jsonValue({ maxDepth: MAX_DEPTH + 3 }),
      anyField,
      // Straight chains around the depth limit, which random JSON rarely reaches.
      fc.tuple(fc.integer({ min: MAX_DEPTH - 1, max: MAX_DEPTH + 2 }), fc.boolean()).map(([depth, useObjects]) => {
        let value: unknown = 'leaf';
        for (let level = 0; level < depth; level++) value = useObjects ? { inner: value } : [value];
        return value;
      }),
    ),
  },
  { requiredKeys: [] },
);

/** JSON data without "__proto__" keys, which the MessagePack decoder refuses by design. */
const safeKey = fc.string({ maxLength: 12 }).filter((key) => key !== '__proto__');
const frameData = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 30 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(safeKey, tie('value'), { maxKeys: 4 }),
  ),
})).value.filter((value) => !nestsDeeperThan(value, MAX_DEPTH));

const validFrame = fc.record(
  {
    event: fc.stringMatching(/^[A-Za-z0-9_.:-]+$/).filter((event) => event.length <= MAX_EVENT_NAME_LENGTH),
    data: frameData,
    id: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
  },
  { requiredKeys: ['event', 'data'] },
);

/** What a value becomes after a trip through JSON (-0 becomes 0, as the wire has it). */
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('FrameCodec.decode properties', () => {
  it('random bytes never make decode throw anything but FrameError (text and binary)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (bytes, isBinary) => {
        decodeChecked(bytes, isBinary);
      }),
      { numRuns: 1000 },
    );
  });

  it('random text never makes a text frame throw anything but FrameError', () => {
    // Arbitrary Unicode, and strings of JSON tokens that often come close to being frames.
    const token = fc.constantFrom('{', '}', '[', ']', ',', ':', ' ', '"event"', '"id"', '"data"', '"ping"', '"a b"', '1', '-1', '0.5', '1e400', '9007199254740993', 'null', 'true', '"\\u0000"', '"\\ud800"');
    const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.array(token, { maxLength: 40 }).map((tokens) => tokens.join('')));
    fc.assert(
      fc.property(text, (value) => {
        decodeChecked(utf8.encode(value), false);
      }),
      { numRuns: 1000 },
    );
  });

  it('random JSON values never make decode throw anything but FrameError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: MAX_DEPTH + 4 }), (value) => {
        decodeChecked(utf8.encode(JSON.stringify(value)), false);
        decodeChecked(msgpackEncode(value), true);
      }),
      { numRuns: 500 },
    );
  });

  it('frame-like objects decode to exactly their valid parts, or fail with the id echoed only when valid', () => {
    fc.assert(
      fc.property(frameLike, fc.constantFrom('json', 'msgpack'), (raw, kind) => {
        // The MessagePack decoder refuses "__proto__" keys outright; JSON keeps them as data.
        if (kind === 'msgpack') fc.pre(!JSON.stringify(raw).includes('"__proto__"'));
        const bytes = kind === 'json' ? utf8.encode(JSON.stringify(raw)) : msgpackEncode(raw);
        const outcome = decodeChecked(bytes, kind === 'msgpack');
        const wire = (kind === 'json' ? viaJson(raw) : raw) as Record<string, unknown>;
        const idIsValid = typeof wire.id === 'number' && Number.isSafeInteger(wire.id) && wire.id >= 1;
        const idIsAbsent = wire.id === undefined || wire.id === null;
        const eventIsValid = typeof wire.event === 'string' && EVENT_NAME.test(wire.event);
        if (outcome instanceof FrameError) {
          expect(outcome.frameId).toBe(idIsValid ? wire.id : undefined);
          const dataTooDeep = nestsDeeperThan(wire.data ?? null, MAX_DEPTH);
          expect(!(idIsValid || idIsAbsent) || !eventIsValid || dataTooDeep).toBe(true);
        } else {
          expect(idIsValid || idIsAbsent).toBe(true);
          expect(eventIsValid).toBe(true);
          expect(outcome.event).toBe(wire.event);
          expect(outcome.id).toBe(idIsValid ? wire.id : undefined);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('encodeFrame -> decode round-trips valid frames in JSON', () => {
    fc.assert(
      fc.property(validFrame, (frame) => {
        const text = encodeFrame('json', frame);
        expect(typeof text).toBe('string');
        const decoded = codec.decode(utf8.encode(text as string), false);
        expect(decoded).toEqual({ event: frame.event, data: viaJson(frame.data), id: frame.id });
      }),
      { numRuns: 500 },
    );
  });

  it('encodeFrame -> decode round-trips valid frames in MessagePack', () => {
    fc.assert(
      fc.property(validFrame, (frame) => {
        const bytes = encodeFrame('msgpack', frame);
        expect(bytes).toBeInstanceOf(Uint8Array);
        const decoded = codec.decode(bytes as Uint8Array, true);
        // MessagePack writes -0 as the integer 0, as JSON does; nothing else may change.
        expect(decoded).toEqual({ event: frame.event, data: viaJson(frame.data), id: frame.id });
      }),
      { numRuns: 500 },
    );
  });
});
