import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';

export interface Frame {
  event: string;
  data?: unknown;
  id?: number;
  /** The log position of a push made from a committed event (PROTOCOL.md section 11). */
  seq?: number;
}

/**
 * A real `ws` client that queues every frame it receives, so tests wait on conditions
 * ("the next frame named X") instead of sleeping.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const frame = (isBinary ? decode(data as Buffer) : JSON.parse(data.toString())) as Frame;
      this.frames.push(frame);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => this.wake());
  }

  static open(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
      const client = new TestClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** Opens and waits for the `welcome` frame, i.e. until the connection is in the log. */
  static async connect(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<TestClient> {
    const client = await TestClient.open(url, options);
    await client.next('welcome');
    return client;
  }

  sendJson(frame: unknown): void {
    this.socket.send(JSON.stringify(frame));
  }

  sendMsgpack(frame: unknown): void {
    this.socket.send(encode(frame));
  }

  sendRaw(data: string | Buffer, binary: boolean): void {
    this.socket.send(data, { binary });
  }

  /** Resolves with (and removes) the first queued frame matching the predicate. */
  async next(match: string | ((frame: Frame) => boolean), timeoutMs = 5000): Promise<Frame> {
    const predicate = typeof match === 'string' ? (frame: Frame) => frame.event === match : match;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(predicate);
      if (index !== -1) return this.frames.splice(index, 1)[0]!;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for a frame`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for a frame; have ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a frame with `id` and waits for the answer carrying the same `id`. */
  async request(event: string, data?: unknown, id = Math.floor(Math.random() * 1e9) + 1): Promise<Frame> {
    this.sendJson({ event, data, id });
    return this.next((frame) => frame.id === id);
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('timed out waiting for close');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
