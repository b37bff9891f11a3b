import { encodeFrame, type OutboundFrame } from '../protocol/index.js';
import type { ClientConnection } from './connection.js';

/**
 * Sends one push to many connections, encoding it once per wire format instead of once per
 * connection: an itinerary update to 5,000 attendees is one JSON encoding, one MessagePack
 * encoding and one Socket.IO packet per Engine.IO version, then 5,000 sends of the same bytes.
 * Each send still goes through the connection's backpressure cap. A push with a `seq` is also
 * kept by each connection for a resume (detached ones only keep it). Returns how many
 * connections it was sent to or kept by.
 */
export function sendToAll(connections: Iterable<ClientConnection>, frame: OutboundFrame): number {
  // A push has no `id`: a direct answer is encoded per connection (its ack, its id).
  const push: OutboundFrame = frame.id === undefined ? frame : frame.seq === undefined ? { event: frame.event, data: frame.data } : { event: frame.event, data: frame.data, seq: frame.seq };
  const encoded = new Map<string, readonly WireMessage[]>();
  let sent = 0;
  for (const connection of connections) {
    if (connection.closed) continue;
    sent += 1;
    const encoder = connection.encoder;
    // A detached connection (PROTOCOL.md section 11) only keeps the push: `send` does that.
    const key = connection.detached ? undefined : encoder ? encoder.sharedPushKey?.() : connection.codec;
    if (key === undefined) {
      connection.send(push);
      continue;
    }
    // Kept for a resume by reference: the one frame every member shares.
    if (push.seq !== undefined) connection.keep(push as OutboundFrame & { seq: number });
    let messages = encoded.get(key);
    if (!messages) {
      messages = (encoder ? [...encoder.encode(push)] : [encodeFrame(connection.codec, push)]).map(toWire);
      encoded.set(key, messages);
    }
    for (const { bytes, binary } of messages) connection.sendEncoded(bytes, binary);
  }
  return sent;
}

/** A message as it goes to every member: text as UTF-8 bytes once, with its frame kind kept apart. */
interface WireMessage {
  bytes: Uint8Array;
  binary: boolean;
}

/**
 * uWS turns a string into UTF-8 on every send: for a 16 KB push to 5,000 sockets that is
 * 80 MB of conversion. Converted once here, each send copies bytes (as a text frame still).
 */
function toWire(message: string | Uint8Array): WireMessage {
  return typeof message === 'string' ? { bytes: Buffer.from(message, 'utf8'), binary: false } : { bytes: message, binary: true };
}
