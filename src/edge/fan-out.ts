import { encodeFrame, type OutboundFrame } from '../protocol/index.js';
import type { ClientConnection } from './connection.js';

/**
 * Sends one push to many connections, encoding it once per wire format instead of once per
 * connection: an itinerary update to 5,000 attendees is one JSON encoding, one MessagePack
 * encoding and one Socket.IO packet per Engine.IO version, then 5,000 sends of the same bytes.
 * Each send still goes through the connection's backpressure cap. Returns how many
 * connections it was sent to.
 */
export function sendToAll(connections: Iterable<ClientConnection>, frame: OutboundFrame): number {
  // A push has no `id`: a direct answer is encoded per connection (its ack, its id).
  const push: OutboundFrame = frame.id === undefined ? frame : { event: frame.event, data: frame.data };
  const encoded = new Map<string, readonly (string | Uint8Array)[]>();
  let sent = 0;
  for (const connection of connections) {
    if (connection.closed) continue;
    sent += 1;
    const encoder = connection.encoder;
    const key = encoder ? encoder.sharedPushKey?.() : connection.codec;
    if (key === undefined) {
      connection.send(push);
      continue;
    }
    let messages = encoded.get(key);
    if (!messages) {
      messages = encoder ? [...encoder.encode(push)] : [encodeFrame(connection.codec, push)];
      encoded.set(key, messages);
    }
    for (const message of messages) connection.sendEncoded(message, typeof message !== 'string');
  }
  return sent;
}
