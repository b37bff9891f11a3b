import { Decoder, Encoder } from '@msgpack/msgpack';
import { FrameError, toInboundFrame, type InboundFrame, type OutboundFrame } from './envelope.js';

import type { Codec } from '../core/types.js';

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
    const codec = SUBPROTOCOLS[name];
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

export class FrameCodec {
  private readonly decoder: Decoder;

  constructor(
    private readonly limits: DecodeLimits & { maxFrameBytes: number },
  ) {
    this.decoder = msgpackDecoder(limits.maxFrameBytes);
  }

  /** Text frames are JSON, binary frames MessagePack, whatever the connection's codec. */
  decode(message: ArrayBuffer | Uint8Array, isBinary: boolean): InboundFrame {
    if (message.byteLength === 0) throw new FrameError('BAD_REQUEST', 'empty frame');
    let raw: unknown;
    if (isBinary) {
      try {
        raw = this.decoder.decode(message);
      } catch {
        throw new FrameError('BAD_REQUEST', 'binary frame is not valid MessagePack');
      }
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

export function encodeFrame(codec: Codec, frame: OutboundFrame): string | Uint8Array {
  const body = frame.id === undefined ? { event: frame.event, data: frame.data } : frame;
  return codec === 'json' ? JSON.stringify(body) : encoder.encode(body);
}
