import { describe, expect, it } from 'vitest';
import {
  EnginePacketError,
  EnginePacketType,
  MAX_HANDSHAKE_QUERY_LENGTH,
  decodeEnginePacket,
  encodeEnginePacket,
  encodeOpenPacket,
  encodeTextMessage,
  parseHandshakeQuery,
} from '../../src/protocol/index.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('Engine.IO packets', () => {
  describe('decodes text packets (both versions)', () => {
    it.each([3, 4] as const)('v%i: type digit then data', (version) => {
      expect(decodeEnginePacket(version, '4hello')).toEqual({ type: EnginePacketType.MESSAGE, data: 'hello' });
      expect(decodeEnginePacket(version, '4')).toEqual({ type: EnginePacketType.MESSAGE });
      expect(decodeEnginePacket(version, '2probe')).toEqual({ type: EnginePacketType.PING, data: 'probe' });
      expect(decodeEnginePacket(version, '2')).toEqual({ type: EnginePacketType.PING });
      expect(decodeEnginePacket(version, '3')).toEqual({ type: EnginePacketType.PONG });
      expect(decodeEnginePacket(version, '1')).toEqual({ type: EnginePacketType.CLOSE });
      expect(decodeEnginePacket(version, '5')).toEqual({ type: EnginePacketType.UPGRADE });
      expect(decodeEnginePacket(version, '6')).toEqual({ type: EnginePacketType.NOOP });
      expect(decodeEnginePacket(version, '0{}')).toEqual({ type: EnginePacketType.OPEN, data: '{}' });
    });

    it.each([3, 4] as const)('v%i: refuses unknown types and empty packets', (version) => {
      for (const message of ['', 'abc', '7', '9x', ' 4', '\u0000']) {
        expect(() => decodeEnginePacket(version, message), JSON.stringify(message)).toThrow(EnginePacketError);
      }
    });
  });

  describe('binary messages', () => {
    it('v4: the bytes are the message data as they are', () => {
      expect(decodeEnginePacket(4, bytes(1, 2, 3, 4))).toEqual({ type: EnginePacketType.MESSAGE, data: bytes(1, 2, 3, 4) });
      expect(encodeEnginePacket(4, { type: EnginePacketType.MESSAGE, data: bytes(1, 2, 3) })).toEqual(bytes(1, 2, 3));
    });

    it('v3: the first byte is the packet type (4), the rest the data', () => {
      expect(decodeEnginePacket(3, bytes(4, 1, 2, 3))).toEqual({ type: EnginePacketType.MESSAGE, data: bytes(1, 2, 3) });
      expect(encodeEnginePacket(3, { type: EnginePacketType.MESSAGE, data: bytes(1, 2, 3) })).toEqual(bytes(4, 1, 2, 3));
      expect(encodeEnginePacket(3, { type: EnginePacketType.MESSAGE, data: bytes() })).toEqual(bytes(4));
    });

    it('v3: refuses binary of another type and empty binary', () => {
      expect(() => decodeEnginePacket(3, bytes(1, 2, 3))).toThrow(EnginePacketError);
      expect(() => decodeEnginePacket(3, bytes())).toThrow(EnginePacketError);
    });

    it('v3: accepts base64 text for clients without binary support', () => {
      expect(decodeEnginePacket(3, 'b4AQIDBA==')).toEqual({ type: EnginePacketType.MESSAGE, data: bytes(1, 2, 3, 4) });
      expect(() => decodeEnginePacket(3, 'b4!!!')).toThrow(EnginePacketError);
      expect(() => decodeEnginePacket(3, 'b2AQID')).toThrow(EnginePacketError);
      // In v4 a leading "b" is no packet type at all.
      expect(() => decodeEnginePacket(4, 'b4AQIDBA==')).toThrow(EnginePacketError);
    });

    it('only MESSAGE packets carry binary', () => {
      expect(() => encodeEnginePacket(4, { type: EnginePacketType.PING, data: bytes(1) })).toThrow(EnginePacketError);
    });
  });

  it('encodes text packets as digit and data', () => {
    expect(encodeEnginePacket(4, { type: EnginePacketType.PING })).toBe('2');
    expect(encodeEnginePacket(3, { type: EnginePacketType.PONG, data: 'probe' })).toBe('3probe');
    expect(encodeEnginePacket(4, { type: EnginePacketType.MESSAGE, data: '2["a"]' })).toBe('42["a"]');
    expect(encodeTextMessage('0')).toBe('40');
  });

  it('round-trips every text packet', () => {
    for (let type = 0; type <= 6; type++) {
      for (const data of [undefined, 'x', '{"a":1}', 'héllo ☃']) {
        const packet = data === undefined ? { type: type as EnginePacketType } : { type: type as EnginePacketType, data };
        expect(decodeEnginePacket(4, encodeEnginePacket(4, packet))).toEqual(packet);
      }
    }
  });

  it('builds the OPEN packet with the fields of both versions', () => {
    const open = encodeOpenPacket({ sid: 'abc', pingIntervalMs: 300, pingTimeoutMs: 200, maxPayloadBytes: 1_000_000 });
    expect(open.startsWith('0')).toBe(true);
    expect(JSON.parse(open.slice(1))).toEqual({ sid: 'abc', upgrades: [], pingInterval: 300, pingTimeout: 200, maxPayload: 1_000_000 });
  });
});

describe('Engine.IO handshake query', () => {
  it('accepts EIO 3 and 4 over websocket and keeps every parameter', () => {
    const v4 = parseHandshakeQuery('EIO=4&transport=websocket&x-auth=tok%2Ben');
    expect(v4.ok && v4.handshake.version).toBe(4);
    expect(v4.ok && v4.handshake.query.get('x-auth')).toBe('tok+en');
    const v3 = parseHandshakeQuery('transport=websocket&EIO=3');
    expect(v3.ok && v3.handshake.version).toBe(3);
  });

  it.each([
    ['missing EIO', 'transport=websocket', /EIO must be 3/],
    ['EIO=abc', 'EIO=abc&transport=websocket', /EIO must be 3/],
    ['EIO=5', 'EIO=5&transport=websocket', /EIO must be 3/],
    ['polling', 'EIO=4&transport=polling', /polling.*websocket/],
    ['no transport (polling)', 'EIO=4', /polling.*websocket/],
    ['unknown transport', 'EIO=3&transport=abc', /"abc" is not served/],
    ['an upgrade from polling', 'EIO=4&transport=websocket&sid=xyz', /no session to upgrade/],
    ['an oversized query', `EIO=4&transport=websocket&x=${'a'.repeat(MAX_HANDSHAKE_QUERY_LENGTH)}`, /longer than/],
  ])('refuses %s with a message saying why', (_name, query, message) => {
    const result = parseHandshakeQuery(query);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});
