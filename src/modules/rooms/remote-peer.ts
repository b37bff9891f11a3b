import type { ClientConnection } from '../../edge/index.js';
import type { OutboundFrame } from '../../protocol/index.js';

/** What a relay needs of its target: a socket here, or a peer on another node (RemotePeers). */
export type RelayTarget = Pick<ClientConnection, 'codec' | 'send' | 'sendEncoded'> & { readonly info: Pick<ClientConnection['info'], 'transport'> };

/** A frame for a socket on another node: JSON bytes as the sender's relay spliced them, or a frame object. */
export type ForwardedFrame = { kind: 'json'; bytes: Uint8Array } | { kind: 'object'; frame: OutboundFrame };

/** Hands a frame to the peer's socket on `node`; false when it was dropped (the cluster's bound). */
export type ForwardToNode = (node: string, peerId: string, frame: ForwardedFrame) => boolean;

/**
 * Members of a room whose sockets are on other nodes of the cluster (PROTOCOL.md section 12),
 * as relay targets. Each looks like a native JSON socket, so the JSON fast path splices its
 * frame exactly as for a local one and the bytes travel as they are (the receiving node sends
 * them on unchanged to a native JSON socket, and encodes them only for other codecs); frames
 * the sender had as objects (MessagePack and Socket.IO senders) travel as objects.
 */
export class RemotePeers {
  constructor(private readonly forward: ForwardToNode) {}

  target(node: string, peerId: string): RelayTarget {
    const forward = this.forward;
    return {
      codec: 'json',
      info: { transport: 'native' },
      sendEncoded: (message) => void forward(node, peerId, { kind: 'json', bytes: typeof message === 'string' ? Buffer.from(message) : message }),
      send: (frame) => void forward(node, peerId, { kind: 'object', frame }),
    };
  }
}
