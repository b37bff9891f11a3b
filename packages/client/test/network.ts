import WebSocket from 'ws';
import type { WebSocketConstructor } from '../src/index.js';

/**
 * The network between an SDK client in Node and a gateway, as the `WebSocket` class the
 * client is given: `cut()` ends every socket abruptly (a TCP reset, no close frame: both
 * sides see 1006, as after a lost network), and until `restore()` new sockets go to a port
 * where nothing listens, so reconnect attempts fail the way they do offline.
 */
export class Network {
  readonly sockets: WebSocket[] = [];
  private online = true;

  /** No listener here: connections are refused at once. */
  static readonly NOWHERE = 'ws://127.0.0.1:1/ws';

  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const network = this;
    this.WebSocket = class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(network.online ? url : Network.NOWHERE, protocols);
        network.sockets.push(this);
      }
    };
  }

  cut(): void {
    this.online = false;
    for (const socket of this.sockets) if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
  }

  restore(): void {
    this.online = true;
  }
}
