import { Decoder, Encoder, ExtData } from '@msgpack/msgpack';
import { FrameError, toInboundFrame, type InboundFrame, type OutboundFrame } from './envelope.js';

import type { Codec } from '../core/index.js';

export type { Codec };

/** Subprotocols a client may offer (PROTOCOL.md section 1); the first known one wins. */
export const SUBPROTOCOLS: Readonly<Record<string, Codec>> = {
  'switchyard.v1.json': 'json',
  'switchyard.v1.msgpack': 'msgpack',
};

export function negotiateSubprotocol(header: string | undefined): { protocol: string | null; codec: Codec } {
  if (!header) return { protocol: null, codec: 'json' };
  for (const offered of header.split(',')) {
    const name = offered.trim();
    // Own properties only: an offered `constructor` or `__proto__` must not match.
    const codec = Object.hasOwn(SUBPROTOCOLS, name) ? SUBPROTOCOLS[name] : undefined;
    if (codec) return { protocol: name, codec };
  }
  return { protocol: null, codec: 'json' };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new Encoder({ ignoreUndefined: true });

export interface DecodeLimits {
  /** Containers nested deeper than this inside `data` are refused. */
  maxDepth: number;
}

function msgpackDecoder(maxBytes: number): Decoder {
  // Bounds each length field by the frame size, so a 5-byte header announcing a 4 GiB
  // string is refused before anything is allocated.
  return new Decoder({
    maxStrLength: maxBytes,
    maxBinLength: maxBytes,
    maxArrayLength: maxBytes,
    maxMapLength: maxBytes,
    maxExtLength: maxBytes,
    useBigInt64: false,
  });
}

/**
 * Replaces the views into the input that a MessagePack decode leaves in its result (`bin`
 * fields are Uint8Array views, unknown extension types ExtData over a view) with copies, in
 * place. With this the decoded frame owns all its bytes and the frame's buffer may be freed
 * (uWS frees it when the message callback returns) without copying every frame up front:
 * most frames carry no binary field and pay only this walk. Iterative, so a frame nested
 * far deeper than the depth limit (checked afterwards) cannot exhaust the stack here.
 */
function detachViews(value: unknown): unknown {
  const copied = detachedCopy(value);
  if (copied !== undefined) return copied;
  if (value === null || typeof value !== 'object') return value;
  const stack: object[] = [value];
  while (stack.length > 0) {
    // The decoder builds only arrays and plain objects with own enumerable keys.
    const node = stack.pop() as Record<string, unknown>;
    const keys = Object.keys(node);
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index]!;
      const child = node[key];
      if (child === null || typeof child !== 'object') continue;
      const copy = detachedCopy(child);
      if (copy !== undefined) node[key] = copy;
      else stack.push(child);
    }
  }
  return value;
}

/**
 * A copy of a decoded view (bin or ExtData), or undefined for anything else. `new
 * Uint8Array(view)` and not `view.slice()`: when the input was a Buffer the views are
 * Buffers too, and Buffer#slice returns a view, not a copy.
 */
function detachedCopy(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ExtData) return new ExtData(value.type, value.data instanceof Uint8Array ? new Uint8Array(value.data) : value.data);
  return undefined;
}

export class FrameCodec {
  private readonly decoder: Decoder;

  constructor(
    private readonly limits: DecodeLimits & { maxFrameBytes: number },
  ) {
    this.decoder = msgpackDecoder(limits.maxFrameBytes);
  }

  /**
   * Text frames are JSON, binary frames MessagePack, whatever the connection's codec. The
   * frame returned holds no reference to `message`'s memory: the caller may free or reuse
   * it as soon as this returns.
   */
  decode(message: ArrayBuffer | Uint8Array, isBinary: boolean): InboundFrame {
    if (message.byteLength === 0) throw new FrameError('BAD_REQUEST', 'empty frame');
    let raw: unknown;
    if (isBinary) {
      try {
        raw = this.decoder.decode(message);
      } catch {
        throw new FrameError('BAD_REQUEST', 'binary frame is not valid MessagePack');
      }
      raw = detachViews(raw);
    } else {
      let text: string;
      try {
        text = utf8.decode(message);
      } catch {
        throw new FrameError('BAD_REQUEST', 'text frame is not valid UTF-8');
      }
      try {
        raw = JSON.parse(text);
      } catch {
        throw new FrameError('BAD_REQUEST', 'text frame is not valid JSON');
      }
    }
    return toInboundFrame(raw, this.limits.maxDepth);
  }
}

/**
 * `{"event":<name>,"data":` by event name, for the JSON fast path below. The server sends a
 * small fixed set of event names; the cap only bounds the cache should one ever be dynamic.
 */
const jsonHeads = new Map<string, string>();
const MAX_JSON_HEADS = 256;

function jsonHead(event: string): string {
  let head = jsonHeads.get(event);
  if (head === undefined) {
    head = `{"event":${JSON.stringify(event)},"data":`;
    if (jsonHeads.size < MAX_JSON_HEADS) jsonHeads.set(event, head);
  }
  return head;
}

/**
 * Bytes (a MessagePack client's `bin` fields, Socket.IO attachments) as a JSON client reads
 * them: an array of numbers, `[1,2]`. JSON.stringify alone writes a Uint8Array as an object
 * with index keys, `{"0":1,"1":2}` (issue 16 point 10).
 */
function bytesAsArrays(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Array.from(value) : value;
}

/**
 * JSON text with every Uint8Array written as an array. A replacer costs every frame a call
 * per value, so the plain stringify runs first and the replacer only when its output shows
 * what a Uint8Array becomes: `{"0":` (cannot occur inside a JSON string, whose quotes are
 * escaped) or `{}` (an empty one, or any empty object: the second pass is then the same text).
 */
function stringifyWithBytes(value: unknown): string | undefined {
  const text = JSON.stringify(value);
  if (text === undefined || (text.indexOf('{"0":') === -1 && text.indexOf('{}') === -1)) return text;
  // `{}` is mostly a plain empty object (an item's empty configuration): a walk that finds no
  // bytes is far cheaper than a second stringify calling the replacer on every value (an
  // itinerary answer of 800 KB: 3 ms plain, 8 ms with the replacer).
  return holdsBytes(value, 0) ? JSON.stringify(value, bytesAsArrays) : text;
}

/** Whether a Uint8Array is anywhere in the value (as deep as JSON.stringify would go; past that, assume so). */
function holdsBytes(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (depth > MAX_BYTES_SEARCH_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const element of value) if (holdsBytes(element, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (holdsBytes((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

/** Frames are at most this deep once decoded (maxFrameDepth's range); deeper data takes the replacer. */
const MAX_BYTES_SEARCH_DEPTH = 256;

/** The keys a client sees: event, data, then seq (a push from the log) and id (a direct answer) when set. */
function envelopeOf({ event, data, seq, id }: OutboundFrame): object {
  // Literals of fixed shapes: the encoder walks them faster than a record grown key by key.
  if (seq === undefined) return id === undefined ? { event, data } : { event, data, id };
  return id === undefined ? { event, data, seq } : { event, data, seq, id };
}

export function encodeFrame(codec: Codec, frame: OutboundFrame): string | Uint8Array {
  if (codec === 'json') {
    // Every frame sent pays this, so JSON is written around JSON.stringify(data) instead of
    // stringifying a whole {event, data, id} object: the same text for the envelope's three
    // keys, about 100 ns less per frame (bench/micro/dispatch.mjs). Data JSON cannot hold
    // (undefined: the key is dropped) and a non-finite id (written as null) are left to the
    // generic path below, which gives their exact output.
    const data = stringifyWithBytes(frame.data);
    const { id, seq } = frame;
    if (data !== undefined && (id === undefined || Number.isFinite(id)) && (seq === undefined || Number.isFinite(seq))) {
      const head = jsonHead(frame.event);
      // `seq` beside `event` (PROTOCOL.md section 11): {"event":"x","data":{...},"seq":42}.
      const tail = seq === undefined ? '' : `,"seq":${seq}`;
      return id === undefined ? `${head}${data}${tail}}` : `${head}${data}${tail},"id":${id}}`;
    }
  }
  // Only the envelope's keys go on the wire (`interim` is for the transports, not the client).
  const body = envelopeOf(frame);
  if (codec === 'json') return stringifyWithBytes(body)!;
  // These bytes go to uWS, which reads a typed array's backing store. `encoder.encode` would
  // return a copy V8 keeps on its own heap when small (up to 64 bytes, most answers), and
  // V8 must then move it off the heap when uWS asks for the store: ~250 ns per frame. A copy
  // into Node's Buffer pool is off the heap from the start (bench/micro/dispatch.mjs). It is
  // handed out as a plain Uint8Array, as before (Buffer's slice() is a view, not a copy);
  // like any pooled Buffer its `.buffer` is the shared pool: mind byteOffset and byteLength.
  const shared = encoder.encodeSharedRef(body);
  const pooled = Buffer.allocUnsafe(shared.byteLength);
  pooled.set(shared);
  return new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.byteLength);
}
