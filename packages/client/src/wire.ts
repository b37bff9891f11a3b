import { decode, Encoder } from '@msgpack/msgpack';
import type { Codec } from '../../../src/core/types.js';

/**
 * The native frame (PROTOCOL.md section 2) as the SDK reads and writes it. The server's
 * codec is chosen by the subprotocol; like the server, the SDK reads text frames as JSON and
 * binary frames as MessagePack whatever was negotiated, and writes in its own codec.
 */

export type CodecName = Codec;

/** The subprotocol that asks the server for each codec (src/protocol/codecs.ts SUBPROTOCOLS). */
export const SUBPROTOCOLS = {
  json: 'switchyard.v1.json',
  msgpack: 'switchyard.v1.msgpack',
} as const satisfies Record<CodecName, string>;

export interface OutgoingFrame {
  event: string;
  data?: unknown;
  id?: number;
}

export interface IncomingFrame {
  event: string;
  data: unknown;
  /** Set on the direct answer to a frame the SDK sent with this id. */
  id: number | undefined;
  /** The log position of the event a push comes from (section 11); undefined on answers, relays and pushes not from the log. */
  seq: number | undefined;
}

const encoder = new Encoder({ ignoreUndefined: true });

export function encodeFrame(codec: CodecName, frame: OutgoingFrame): string | Uint8Array {
  return codec === 'json' ? JSON.stringify(frame) : encoder.encode(frame);
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

const positiveInteger = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;

/**
 * A received message as a frame, or undefined when it is none (not JSON or MessagePack, not
 * an object with an `event`): the server never sends such a thing, so it is dropped rather
 * than surfaced. `seq` is read beside `event` only, where section 11 puts it on native frames:
 * a `seq` field inside a push's data (Socket.IO's place) is the push's own business, and
 * taking it for the log position would make `resume` ask for pushes the server never
 * counted as sent (`resume-failed {reason:"future"}`).
 */
export function decodeFrame(message: string | ArrayBuffer | ArrayBufferView): IncomingFrame | undefined {
  let raw: unknown;
  try {
    if (typeof message === 'string') raw = JSON.parse(message);
    else raw = decode(message instanceof ArrayBuffer ? new Uint8Array(message) : new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || typeof raw.event !== 'string') return undefined;
  const id = positiveInteger(raw.id);
  const data = raw.data === undefined ? null : raw.data;
  return { event: raw.event, data, id, seq: positiveInteger(raw.seq) };
}
