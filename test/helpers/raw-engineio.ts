import WebSocket from 'ws';

/**
 * A bare WebSocket speaking Engine.IO by hand, as the official protocol test suites do:
 * every message is queued (text as string, binary as Uint8Array) so tests wait on "the
 * next message" instead of sleeping.
 *
 * With `heartbeat` on, the client keeps the session alive by itself and hides those
 * packets from the queue: in v4 it answers the server's `2` with `3`, in v3 it sends `2`
 * often and drops the `3`s. Tests of the heartbeat itself turn it off.
 */
export type RawMessage = string | Uint8Array;

export class RawEngineSocket {
  readonly messages: RawMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  private pinger: NodeJS.Timeout | undefined;

  private constructor(
    readonly socket: WebSocket,
    private readonly version: 3 | 4,
    private readonly heartbeat: boolean,
  ) {
    socket.binaryType = 'arraybuffer';
    socket.on('message', (data: ArrayBuffer | string, isBinary) => {
      const message: RawMessage = isBinary ? new Uint8Array(data as ArrayBuffer) : Buffer.from(data as ArrayBuffer).toString('utf8');
      if (this.heartbeat && message === '2' && this.version === 4) {
        socket.send('3');
        return;
      }
      if (this.heartbeat && message === '3' && this.version === 3) return;
      this.messages.push(message);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      clearInterval(this.pinger);
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => this.wake());
    if (heartbeat && version === 3) {
      this.pinger = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send('2');
      }, 50);
    }
  }

  /** Opens `ws://127.0.0.1:<port><path>?EIO=<version>&transport=websocket` (or the given query). */
  static open(port: number, path: string, options: { version?: 3 | 4; query?: string; heartbeat?: boolean } = {}): Promise<RawEngineSocket> {
    const version = options.version ?? 4;
    const query = options.query ?? `EIO=${version}&transport=websocket`;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}${path}?${query}`);
      const client = new RawEngineSocket(socket, version, options.heartbeat ?? true);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode })));
      socket.once('error', reject);
    });
  }

  send(message: RawMessage): void {
    this.socket.send(message);
  }

  async next(timeoutMs = 5000): Promise<RawMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.messages.shift();
      if (message !== undefined) return message;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for a message`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('timed out waiting for a message');
      await this.wait(remaining);
    }
  }

  async nextText(timeoutMs = 5000): Promise<string> {
    const message = await this.next(timeoutMs);
    if (typeof message !== 'string') throw new Error(`expected text, got bytes ${JSON.stringify([...message])}`);
    return message;
  }

  /** Resolves with the close code; the bound is a hang guard. */
  async waitClosed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for close; have ${JSON.stringify(this.messages)}`);
      await this.wait(remaining);
    }
    return this.closed.code;
  }

  close(): void {
    clearInterval(this.pinger);
    this.socket.close();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Status of a refused upgrade (0 when the socket opened or failed without a response). */
export function upgradeStatus(port: number, path: string, query: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}${query ? `?${query}` : ''}`);
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('open', () => {
      socket.close();
      resolve(0);
    });
    socket.once('error', () => resolve(0));
  });
}
