/**
 * Engine.IO packets over the WebSocket transport, protocol v3 (`EIO=3`, socket.io-client 2.x)
 * and v4 (`EIO=4`, socket.io-client 3.x/4.x). Pure: strings and bytes in, packets out.
 *
 * On a WebSocket each message is one packet. A text message is the packet type digit
 * followed by its data (`4hello`). A binary message is a MESSAGE packet: in v4 the bytes
 * are the data as they are; in v3 the first byte is the packet type (4) and the rest is
 * the data. v3 clients that cannot send binary send `b4<base64>` text instead.
 */

export type EngineVersion = 3 | 4;

export const EnginePacketType = {
  OPEN: 0,
  CLOSE: 1,
  PING: 2,
  PONG: 3,
  MESSAGE: 4,
  UPGRADE: 5,
  NOOP: 6,
} as const;

export type EnginePacketType = (typeof EnginePacketType)[keyof typeof EnginePacketType];

export interface EnginePacket {
  type: EnginePacketType;
  /** Text for text packets, bytes for binary MESSAGE packets; absent when empty. */
  data?: string | Uint8Array;
}

/** A message that is not an Engine.IO packet. The caller counts it as a bad frame. */
export class EnginePacketError extends Error {
  override readonly name = 'EnginePacketError';
}

export function decodeEnginePacket(version: EngineVersion, message: string | Uint8Array): EnginePacket {
  if (typeof message !== 'string') {
    if (version === 4) return { type: EnginePacketType.MESSAGE, data: message };
    if (message.byteLength === 0) throw new EnginePacketError('empty binary packet');
    if (message[0] !== EnginePacketType.MESSAGE) throw new EnginePacketError(`binary packet of type ${message[0]}; only MESSAGE (4) may be binary`);
    return { type: EnginePacketType.MESSAGE, data: message.subarray(1) };
  }
  if (message.length === 0) throw new EnginePacketError('empty packet');
  if (version === 3 && message.charCodeAt(0) === 0x62 /* b */) return decodeBase64Packet(message);
  const type = message.charCodeAt(0) - 0x30;
  if (!(type >= 0 && type <= 6)) throw new EnginePacketError(`unknown Engine.IO packet type "${message[0]}"`);
  return message.length > 1 ? { type: type as EnginePacketType, data: message.slice(1) } : { type: type as EnginePacketType };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64Packet(message: string): EnginePacket {
  const type = message.charCodeAt(1) - 0x30;
  const body = message.slice(2);
  if (type !== EnginePacketType.MESSAGE || body.length % 4 !== 0 || !BASE64.test(body)) {
    throw new EnginePacketError('malformed base64 packet');
  }
  return { type: EnginePacketType.MESSAGE, data: new Uint8Array(Buffer.from(body, 'base64')) };
}

/** The wire form of a packet: text for text data, bytes for binary MESSAGE data. */
export function encodeEnginePacket(version: EngineVersion, packet: EnginePacket): string | Uint8Array {
  const { data } = packet;
  if (data === undefined) return String(packet.type);
  if (typeof data === 'string') return `${packet.type}${data}`;
  if (packet.type !== EnginePacketType.MESSAGE) throw new EnginePacketError('only MESSAGE packets carry binary data');
  if (version === 4) return data;
  const framed = new Uint8Array(data.byteLength + 1);
  framed[0] = EnginePacketType.MESSAGE;
  framed.set(data, 1);
  return framed;
}

/** Text of a MESSAGE packet, the common case, without building a packet object. */
export const encodeTextMessage = (text: string): string => `4${text}`;

export interface OpenPacketFields {
  sid: string;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  maxPayloadBytes: number;
  /** Transports the client may upgrade to: `websocket` from polling, none from websocket. */
  upgrades?: readonly string[];
}

/**
 * The OPEN packet. Both versions get the same fields: Engine.IO v3 defined no
 * `maxPayload`, but servers from engine.io 4 on send it to v3 clients too (the official
 * v3 test suite expects it) and v3 clients ignore it. `upgrades` is empty unless the
 * session runs on polling (polling.ts), which can upgrade to websocket.
 */
export function encodeOpenPacket(fields: OpenPacketFields): string {
  return `0${JSON.stringify({
    sid: fields.sid,
    upgrades: fields.upgrades ?? [],
    pingInterval: fields.pingIntervalMs,
    pingTimeout: fields.pingTimeoutMs,
    maxPayload: fields.maxPayloadBytes,
  })}`;
}

export interface EngineHandshake {
  version: EngineVersion;
  /** Every query parameter (`x-auth` and whatever the application adds). */
  query: URLSearchParams;
}

export type HandshakeResult = { ok: true; handshake: EngineHandshake } | { ok: false; message: string };

/** Longer than any legitimate handshake query (a token fits many times over). */
export const MAX_HANDSHAKE_QUERY_LENGTH = 16 * 1024;

/**
 * Checks the query of an Engine.IO request on a path that serves only WebSocket. Polling
 * (or no `transport`, which Engine.IO takes as polling) is refused with a message saying
 * what to do instead; so is a `sid`, which only an upgrade from polling would carry.
 */
export function parseHandshakeQuery(rawQuery: string): HandshakeResult {
  if (rawQuery.length > MAX_HANDSHAKE_QUERY_LENGTH) return { ok: false, message: `query longer than ${MAX_HANDSHAKE_QUERY_LENGTH} characters` };
  const query = new URLSearchParams(rawQuery);
  const eio = query.get('EIO');
  if (eio !== '3' && eio !== '4') {
    return { ok: false, message: 'unsupported protocol version: EIO must be 3 (socket.io-client 2.x) or 4 (socket.io-client 3.x/4.x)' };
  }
  const transport = query.get('transport');
  if (transport !== 'websocket') {
    return {
      ok: false,
      message:
        `transport "${transport ?? 'polling'}" is not served: only the websocket transport is, ` +
        `so create the client with transports: ['websocket']`,
    };
  }
  if (query.has('sid')) {
    return { ok: false, message: 'unknown session id: HTTP long-polling is not served, so there is no session to upgrade' };
  }
  return { ok: true, handshake: { version: eio === '3' ? 3 : 4, query } };
}
