import { describe, expect, it } from 'vitest';
import {
  SocketIoDecoder,
  SocketIoPacketError,
  SocketIoPacketType as T,
  decodeSocketIoText,
  encodeSocketIoPacket,
  hasBinary,
  reconstructBinary,
  type SocketIoPacket,
} from '../../src/protocol/index.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const decode = (text: string) => decodeSocketIoText(text).packet;

describe('Socket.IO packet text', () => {
  it('decodes the packets of the protocol documents', () => {
    expect(decode('0')).toEqual({ type: T.CONNECT, nsp: '/' });
    expect(decode('0{"token":"123"}')).toEqual({ type: T.CONNECT, nsp: '/', data: { token: '123' } });
    expect(decode('0/admin,{"token":"123"}')).toEqual({ type: T.CONNECT, nsp: '/admin', data: { token: '123' } });
    expect(decode('0/custom,')).toEqual({ type: T.CONNECT, nsp: '/custom' });
    expect(decode('0/random')).toEqual({ type: T.CONNECT, nsp: '/random' });
    expect(decode('1')).toEqual({ type: T.DISCONNECT, nsp: '/' });
    expect(decode('1/admin,')).toEqual({ type: T.DISCONNECT, nsp: '/admin' });
    expect(decode('2["hello",1]')).toEqual({ type: T.EVENT, nsp: '/', data: ['hello', 1] });
    expect(decode('2/admin,456["project:delete",123]')).toEqual({ type: T.EVENT, nsp: '/admin', id: 456, data: ['project:delete', 123] });
    expect(decode('3/admin,456[]')).toEqual({ type: T.ACK, nsp: '/admin', id: 456, data: [] });
    expect(decode('4{"message":"Not authorized"}')).toEqual({ type: T.CONNECT_ERROR, nsp: '/', data: { message: 'Not authorized' } });
    expect(decode('4"Not authorized"')).toEqual({ type: T.CONNECT_ERROR, nsp: '/', data: 'Not authorized' });
  });

  it('reads the ack id right after the type (no namespace) and keeps large ids exact', () => {
    expect(decode('2456["message-with-ack",1,"2",{"3":[false]}]')).toEqual({
      type: T.EVENT,
      nsp: '/',
      id: 456,
      data: ['message-with-ack', 1, '2', { 3: [false] }],
    });
    expect(decode('20["a"]').id).toBe(0);
    expect(decode(`2${Number.MAX_SAFE_INTEGER}["a"]`).id).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => decode('29007199254740993["a"]')).toThrow(SocketIoPacketError);
  });

  it('separates a revision-4 CONNECT query from the namespace', () => {
    expect(decode('0/custom?token=abc&x=1,')).toEqual({ type: T.CONNECT, nsp: '/custom', query: 'token=abc&x=1' });
  });

  it('reads the attachment count of binary packets', () => {
    expect(decodeSocketIoText('52-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')).toEqual({
      packet: { type: T.BINARY_EVENT, nsp: '/', data: ['hello', { _placeholder: true, num: 0 }, { _placeholder: true, num: 1 }] },
      attachments: 2,
    });
    expect(decodeSocketIoText('61-/admin,456[{"_placeholder":true,"num":0}]')).toEqual({
      packet: { type: T.BINARY_ACK, nsp: '/admin', id: 456, data: [{ _placeholder: true, num: 0 }] },
      attachments: 1,
    });
  });

  it.each([
    ['unknown packet type', 'abc'],
    ['unknown packet type 7', '7["a"]'],
    ['empty', ''],
    ['EVENT payload not an array', '2{}'],
    ['EVENT payload empty', '2[]'],
    ['EVENT without payload', '2'],
    ['event name not a string', '2[1,2]'],
    ['reserved event name', '2["connect"]'],
    ['ack id not digits', '2abc["message-with-ack",1]'],
    ['payload not JSON', '2["a"'],
    ['CONNECT payload not an object', '0"token"'],
    ['CONNECT payload an array', '0[1]'],
    ['DISCONNECT with payload', '1{}'],
    ['ACK payload not an array', '31{}'],
    ['CONNECT_ERROR without payload', '4'],
    ['binary without dash', '52["a"]'],
    ['binary with zero attachments', '50-["a"]'],
    ['binary with a non-numeric count', '5x-["a"]'],
    ['binary with too many attachments', '511-["a"]'],
    ['namespace too long', `2/${'n'.repeat(300)},["a"]`],
  ])('refuses %s', (_name, text) => {
    expect(() => decodeSocketIoText(text)).toThrow(SocketIoPacketError);
  });

  it('encodes like socket.io-parser', () => {
    expect(encodeSocketIoPacket({ type: T.CONNECT, nsp: '/', data: { sid: 'x' } }).text).toBe('0{"sid":"x"}');
    expect(encodeSocketIoPacket({ type: T.CONNECT, nsp: '/' }).text).toBe('0');
    expect(encodeSocketIoPacket({ type: T.CONNECT, nsp: '/custom', data: { sid: 'x' } }).text).toBe('0/custom,{"sid":"x"}');
    expect(encodeSocketIoPacket({ type: T.DISCONNECT, nsp: '/admin' }).text).toBe('1/admin,');
    expect(encodeSocketIoPacket({ type: T.EVENT, nsp: '/', data: ['message-back', 1, '2'] }).text).toBe('2["message-back",1,"2"]');
    expect(encodeSocketIoPacket({ type: T.ACK, nsp: '/', id: 456, data: [1, '2', { 3: [false] }] }).text).toBe('3456[1,"2",{"3":[false]}]');
    expect(encodeSocketIoPacket({ type: T.CONNECT_ERROR, nsp: '/random', data: { message: 'Invalid namespace' } }).text).toBe(
      '4/random,{"message":"Invalid namespace"}',
    );
  });

  it('round-trips text packets', () => {
    const packets: SocketIoPacket[] = [
      { type: T.CONNECT, nsp: '/' },
      { type: T.CONNECT, nsp: '/a', data: { token: 't' } },
      { type: T.DISCONNECT, nsp: '/a' },
      { type: T.EVENT, nsp: '/', data: ['ev', { nested: [1, { deeper: null }] }, 'x'] },
      { type: T.EVENT, nsp: '/b', id: 0, data: ['ev'] },
      { type: T.ACK, nsp: '/', id: 99, data: [] },
      { type: T.CONNECT_ERROR, nsp: '/', data: { message: 'no', data: { code: 'UNAUTHORIZED' } } },
    ];
    for (const packet of packets) expect(decode(encodeSocketIoPacket(packet).text)).toEqual(packet);
  });
});

describe('Socket.IO binary attachments', () => {
  it('turns binary into placeholders and attachments, in order', () => {
    const encoded = encodeSocketIoPacket({ type: T.EVENT, nsp: '/', data: ['message-back', bytes(1, 2, 3), { inner: [bytes(4, 5, 6)] }] });
    expect(encoded.text).toBe('52-["message-back",{"_placeholder":true,"num":0},{"inner":[{"_placeholder":true,"num":1}]}]');
    expect(encoded.attachments).toEqual([bytes(1, 2, 3), bytes(4, 5, 6)]);
  });

  it('makes binary acks BINARY_ACK and keeps namespace and id', () => {
    const encoded = encodeSocketIoPacket({ type: T.ACK, nsp: '/custom', id: 789, data: [Buffer.from([1]), new Uint16Array([1]).buffer] });
    expect(encoded.text).toBe('62-/custom,789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    expect(encoded.attachments.map((attachment) => [...attachment])).toEqual([[1], [1, 0]]);
  });

  it('detects binary anywhere in arrays and plain objects', () => {
    expect(hasBinary({ a: [1, { b: new DataView(new ArrayBuffer(2)) }] })).toBe(true);
    expect(hasBinary({ a: [1, { b: 'x' }] })).toBe(false);
  });

  it('reassembles a packet once all its attachments have arrived', () => {
    const decoder = new SocketIoDecoder({ maxAttachments: 10, maxAttachmentBytes: 1000 });
    expect(decoder.add('52-789["message-with-ack",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]')).toBeUndefined();
    expect(decoder.awaitingAttachments).toBe(true);
    expect(decoder.add(bytes(1, 2, 3))).toBeUndefined();
    expect(decoder.add(bytes(4, 5, 6))).toEqual({ type: T.EVENT, nsp: '/', id: 789, data: ['message-with-ack', bytes(1, 2, 3), { x: bytes(4, 5, 6) }] });
    expect(decoder.awaitingAttachments).toBe(false);
    // And it is ready for the next packet.
    expect(decoder.add('2["next"]')).toEqual({ type: T.EVENT, nsp: '/', data: ['next'] });
  });

  it('refuses binary nobody announced, and text while attachments are due', () => {
    const decoder = new SocketIoDecoder();
    expect(() => decoder.add(bytes(1))).toThrow(SocketIoPacketError);
    decoder.add('51-["a",{"_placeholder":true,"num":0}]');
    expect(() => decoder.add('2["b"]')).toThrow(SocketIoPacketError);
    // The half-received packet is dropped; the decoder starts over.
    expect(decoder.add('2["c"]')).toEqual({ type: T.EVENT, nsp: '/', data: ['c'] });
  });

  it('refuses attachments beyond the byte budget of one packet', () => {
    const decoder = new SocketIoDecoder({ maxAttachments: 10, maxAttachmentBytes: 4 });
    decoder.add('52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    decoder.add(bytes(1, 2, 3));
    expect(() => decoder.add(bytes(4, 5))).toThrow(/exceed 4 bytes/);
    expect(decoder.awaitingAttachments).toBe(false);
  });

  it.each([
    ['an index past the attachments', { _placeholder: true, num: 1 }],
    ['a negative index', { _placeholder: true, num: -1 }],
    ['a fractional index', { _placeholder: true, num: 0.5 }],
    ['a string index', { _placeholder: true, num: '0' }],
    ['an index naming a prototype key', { _placeholder: true, num: 'toString' }],
  ])('refuses a placeholder with %s', (_name, placeholder) => {
    expect(() => reconstructBinary(['a', placeholder], [bytes(1)])).toThrow(SocketIoPacketError);
  });

  it('leaves objects that merely look like placeholders alone when _placeholder is not true', () => {
    expect(reconstructBinary([{ _placeholder: 'yes', num: 0 }], [bytes(1)])).toEqual([{ _placeholder: 'yes', num: 0 }]);
  });
});
