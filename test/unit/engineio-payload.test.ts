import { describe, expect, it } from 'vitest';
import { EnginePacketError, decodeV3Payload, decodeV3Text, decodeV4Payload, encodeV3Payload, encodeV4Payload } from '../../src/protocol/index.js';

/** Engine.IO payloads of the polling transport (engineio-payload.ts), v4 and v3. */

const bytes = (...values: number[]) => new Uint8Array(values);

describe('Engine.IO v4 payloads', () => {
  it('joins packets with the record separator, binary as b<base64>', () => {
    expect(encodeV4Payload(['0{"sid":"a"}', '40', bytes(1, 2, 3)])).toBe('0{"sid":"a"}\x1e40\x1ebAQID');
    expect(encodeV4Payload(['6'])).toBe('6');
  });

  it('decodes what it encodes', () => {
    const decoded = decodeV4Payload('42["a"]\x1ebAQID\x1e3');
    expect(decoded).toEqual(['42["a"]', bytes(1, 2, 3), '3']);
  });

  it.each([
    ['empty body', ''],
    ['empty packet', '42\x1e'],
    ['bad base64', 'b!!!!'],
    ['base64 of a bad length', 'bAQI'],
  ])('refuses %s', (_name, body) => {
    expect(() => decodeV4Payload(body)).toThrow(EnginePacketError);
  });
});

describe('Engine.IO v3 payloads', () => {
  it('prefixes text packets with their length in UTF-16 units', () => {
    expect(encodeV3Payload(['0{"sid":"a"}', '40'], true)).toBe('12:0{"sid":"a"}2:40');
    expect(encodeV3Payload(['42["é€"]'], false)).toBe('8:42["é€"]');
    expect(decodeV3Text('8:42["é€"]2:40')).toEqual(['42["é€"]', '40']);
  });

  it('sends binary packets as b4<base64> to clients that asked b64', () => {
    expect(encodeV3Payload(['40', bytes(4, 1, 2, 3)], false)).toBe('2:406:b4AQID');
    // The b4 text is passed on as it is: the packet decoder (engineio.ts) takes it from v3 clients.
    expect(decodeV3Text('6:b4AQID')).toEqual(['b4AQID']);
  });

  it('uses the binary payload when the client takes binary and a packet is binary', () => {
    const encoded = encodeV3Payload(['4é', bytes(4, 9)], true);
    expect(encoded).toBeInstanceOf(Uint8Array);
    // 0 = text, length 3 (UTF-8 bytes of "4é") as digits, 0xFF, bytes; 1 = binary, length 2.
    expect([...(encoded as Uint8Array)]).toEqual([0, 3, 0xff, 0x34, 0xc3, 0xa9, 1, 2, 0xff, 4, 9]);
    expect(decodeV3Payload(encoded as Uint8Array, true)).toEqual(['4é', bytes(4, 9)]);
  });

  it('decodes a binary payload with a multi-digit length', () => {
    const data = new Uint8Array(12).fill(7);
    data[0] = 4;
    const body = new Uint8Array([1, 1, 2, 0xff, ...data]);
    expect(decodeV3Payload(body, true)).toEqual([data]);
  });

  it.each([
    ['empty body', ''],
    ['no length', ':40'],
    ['not a number', 'x:4'],
    ['length past the end', '5:4x'],
    ['zero length', '0:'],
    ['trailing garbage', '2:40zz'],
  ])('refuses text %s', (_name, body) => {
    expect(() => decodeV3Text(body)).toThrow(EnginePacketError);
  });

  it.each([
    ['empty', bytes()],
    ['bad kind', bytes(2, 1, 0xff, 4)],
    ['no length', bytes(0, 0xff, 4)],
    ['bad digit', bytes(0, 12, 0xff, 4)],
    ['length past the end', bytes(1, 5, 0xff, 4)],
  ])('refuses binary %s', (_name, body) => {
    expect(() => decodeV3Payload(body, true)).toThrow(EnginePacketError);
  });
});
