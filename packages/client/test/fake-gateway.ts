import { decode, encode } from '@msgpack/msgpack';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A scripted stand-in for the gateway's `/ws`, for what the real one cannot be made to do on
 * cue: replay pushes out of order and twice, answer `resume` either way, stop answering
 * pings. It speaks the wire of PROTOCOL.md sections 2 and 11 and records every frame. The
 * SDK's behaviour against the real gateway is tested in test/integration/sdk*.test.ts.
 */

export interface Frame {
  event: string;
  data?: unknown;
  id?: number;
  seq?: number;
}

export interface FakeConnection {
  socket: WebSocket;
  peerId: string;
  frames: Frame[];
  send(frame: Frame): void;
}

export type FrameHandler = (connection: FakeConnection, frame: Frame) => void;

export class FakeGateway {
  readonly connections: FakeConnection[] = [];
  private handlers = new Map<string, FrameHandler>();
  private waiters: (() => void)[] = [];
  private peers = 0;

  private constructor(
    private readonly server: WebSocketServer,
    readonly port: number,
    private readonly options: { resume: boolean },
  ) {
    server.on('connection', (socket, request) => this.accept(socket, request.headers['sec-websocket-protocol'] ?? ''));
    this.handle('ping', (connection, frame) => connection.send({ event: 'pong', data: { ts: 1 }, id: frame.id }));
    // Never answered: for timeouts and requests in flight at a cut.
    this.handle('silence', () => undefined);
  }

  static async start(options: { resume?: boolean } = {}): Promise<FakeGateway> {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (protocols) => [...protocols][0] ?? false });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
    return new FakeGateway(server, address.port, { resume: options.resume ?? true });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Replaces how the server answers one event. */
  handle(event: string, handler: FrameHandler): void {
    this.handlers.set(event, handler);
  }

  /** Every frame of one event the server got, over all connections. */
  received(event: string): Frame[] {
    return this.connections.flatMap((connection) => connection.frames.filter((frame) => frame.event === event));
  }

  /** Resolves once `condition` holds, re-checked on every frame and connection. */
  async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`fake gateway: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: WebSocket, protocol: string): void {
    const binary = protocol === 'switchyard.v1.msgpack';
    const peerId = `peer-${++this.peers}`;
    const connection: FakeConnection = {
      socket,
      peerId,
      frames: [],
      send: (frame) => socket.send(binary ? encode(frame) : JSON.stringify(frame)),
    };
    this.connections.push(connection);
    socket.on('message', (message, isBinary) => {
      const frame = (isBinary ? decode(message as Buffer) : JSON.parse(String(message))) as Frame;
      connection.frames.push(frame);
      const handler = this.handlers.get(frame.event);
      // As the gateway does: an event nobody serves is refused on the frame's id.
      if (handler) handler(connection, frame);
      else if (frame.id !== undefined) connection.send({ event: 'error', data: { code: 'UNKNOWN_EVENT', message: `unknown event ${frame.event}` }, id: frame.id });
      this.wake();
    });
    socket.on('close', () => this.wake());
    const resume = this.options.resume ? { resume: `token-${peerId}`, resumeWindowSeconds: 120 } : {};
    connection.send({ event: 'welcome', data: { peer_id: peerId, codec: binary ? 'msgpack' : 'json', protocol: 1, ...resume } });
    this.wake();
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
