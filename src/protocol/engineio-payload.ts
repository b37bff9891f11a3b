/**
 * Engine.IO payloads: several packets in one HTTP long-polling body. Pure, like engineio.ts.
 *
 * The packets here are in their WebSocket form (engineio.ts): text `4hello`, or bytes (v4:
 * the data alone; v3: the type byte 4, then the data). The polling transport turns a body
 * into those messages and back, so the Engine.IO and Socket.IO layers above it see the
 * same messages whichever transport carries them.
 *
 * - v4: packets joined by the record separator `\x1e`; binary as `b<base64>`. Text only.
 * - v3 text: each packet as `<length>:<packet>`, length in UTF-16 code units (what the 2.x
 *   client's `String.length` counts); binary packets as `b<type><base64>`.
 * - v3 binary (`application/octet-stream`, for clients that did not ask `b64=1`): each
 *   packet as one byte 0 (text) or 1 (binary), its byte length as one byte per decimal digit,
 *   0xFF, then the bytes (text as UTF-8).
 */
import { EnginePacketError } from './engineio.js';

export type EngineMessage = string | Uint8Array;

const RECORD_SEPARATOR = '\x1e';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Digits of a v3 length prefix: more would exceed any body we read (maxPayload). */
const MAX_LENGTH_DIGITS = 10;

function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new EnginePacketError('malformed base64 packet');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function encodeV4Payload(messages: readonly EngineMessage[]): string {
  return messages.map((message) => (typeof message === 'string' ? message : `b${toBase64(message)}`)).join(RECORD_SEPARATOR);
}

export function decodeV4Payload(body: string): EngineMessage[] {
  if (body.length === 0) throw new EnginePacketError('empty payload');
  return body.split(RECORD_SEPARATOR).map((packet) => {
    if (packet.length === 0) throw new EnginePacketError('empty packet in payload');
    return packet.charCodeAt(0) === 0x62 /* b */ ? fromBase64(packet.slice(1)) : packet;
  });
}

/**
 * A v3 body: binary when the client takes binary and a packet is binary (as the reference
 * server chooses), else text with binary packets in base64.
 */
export function encodeV3Payload(messages: readonly EngineMessage[], supportsBinary: boolean): string | Uint8Array {
  if (supportsBinary && messages.some((message) => typeof message !== 'string')) return encodeV3Binary(messages);
  if (messages.length === 0) return '0:';
  return messages
    .map((message) => {
      const packet = typeof message === 'string' ? message : `b${message[0] ?? 4}${toBase64(message.subarray(1))}`;
      return `${packet.length}:${packet}`;
    })
    .join('');
}

function encodeV3Binary(messages: readonly EngineMessage[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const message of messages) {
    const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    const digits = String(bytes.byteLength);
    const head = new Uint8Array(digits.length + 2);
    head[0] = typeof message === 'string' ? 0 : 1;
    for (let i = 0; i < digits.length; i++) head[i + 1] = digits.charCodeAt(i) - 0x30;
    head[digits.length + 1] = 0xff;
    parts.push(head, bytes);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** A v3 POST body; `binary` when it came as `application/octet-stream`. */
export function decodeV3Payload(body: Uint8Array, binary: boolean): EngineMessage[] {
  return binary ? decodeV3Binary(body) : decodeV3Text(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
}

export function decodeV3Text(body: string): EngineMessage[] {
  if (body.length === 0) throw new EnginePacketError('empty payload');
  const messages: EngineMessage[] = [];
  let at = 0;
  while (at < body.length) {
    const colon = body.indexOf(':', at);
    const digits = body.slice(at, colon);
    if (colon === -1 || digits.length === 0 || digits.length > MAX_LENGTH_DIGITS || !/^\d+$/.test(digits)) {
      throw new EnginePacketError('malformed payload: expected <length>:<packet>');
    }
    const length = Number(digits);
    const start = colon + 1;
    if (length === 0 || start + length > body.length) throw new EnginePacketError('malformed payload: packet length out of range');
    messages.push(body.slice(start, start + length));
    at = start + length;
  }
  return messages;
}

function decodeV3Binary(body: Uint8Array): EngineMessage[] {
  if (body.byteLength === 0) throw new EnginePacketError('empty payload');
  const messages: EngineMessage[] = [];
  let at = 0;
  while (at < body.byteLength) {
    const kind = body[at++];
    if (kind !== 0 && kind !== 1) throw new EnginePacketError('malformed binary payload: bad packet kind');
    let length = 0;
    let digits = 0;
    while (at < body.byteLength && body[at] !== 0xff) {
      const digit = body[at++]!;
      if (digit > 9 || ++digits > MAX_LENGTH_DIGITS) throw new EnginePacketError('malformed binary payload: bad length');
      length = length * 10 + digit;
    }
    at += 1; // the 0xFF separator
    if (digits === 0 || length === 0 || at + length > body.byteLength) throw new EnginePacketError('malformed binary payload: packet length out of range');
    const bytes = body.subarray(at, at + length);
    at += length;
    messages.push(kind === 0 ? Buffer.from(bytes).toString('utf8') : new Uint8Array(bytes));
  }
  return messages;
}
