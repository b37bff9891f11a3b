import { describe, expect, it } from 'vitest';
import { DISCONNECT } from '../../src/core/index.js';
import { ClientConnection } from '../../src/edge/connection.js';
import { CoalescingWriter, SendCoalescer, sendTurnsCompleted, type CorkableSocket } from '../../src/edge/send-coalescing.js';
import { until } from '../helpers/conditions.js';

/**
 * A uWS WebSocket as the writer sees it: what uWS would write, in writes (one per cork, one
 * per uncorked send), its own buffer, and uWS's drop rule (past `maxBackpressure`).
 */
class FakeSocket implements CorkableSocket {
  writes: string[][] = [];
  ended: { code: number; reason: string } | undefined;
  buffered = 0;
  /** Bytes the kernel takes per write; the rest stays in uWS's buffer. */
  kernelTakes = Infinity;
  private corked: string[] | undefined;

  constructor(private readonly maxBackpressure = 1 << 20) {}

  send(message: string | Uint8Array, _isBinary: boolean): number {
    if (this.buffered > this.maxBackpressure) return 2;
    const text = typeof message === 'string' ? message : Buffer.from(message).toString();
    if (this.corked) this.corked.push(text);
    else this.write([text]);
    return this.buffered > 0 ? 0 : 1;
  }

  cork(work: () => void): this {
    if (this.corked) {
      work();
      return this;
    }
    this.corked = [];
    work();
    const corked = this.corked;
    this.corked = undefined;
    if (corked.length > 0) this.write(corked);
    return this;
  }

  getBufferedAmount(): number {
    return this.buffered;
  }

  end(code: number, reason: string): void {
    this.ended = { code, reason };
  }

  private write(messages: string[]): void {
    this.writes.push(messages);
    const size = messages.reduce((sum, message) => sum + message.length, 0);
    this.buffered += Math.max(0, size - this.kernelTakes);
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(maxBackpressure = 1 << 20) {
  const errors: unknown[] = [];
  const coalescer = new SendCoalescer((error) => errors.push(error));
  const socket = new FakeSocket(maxBackpressure);
  const writer = new CoalescingWriter(socket, coalescer, maxBackpressure);
  return { coalescer, socket, writer, errors };
}

describe('send coalescing (src/edge/send-coalescing.ts)', () => {
  it('writes the sends of one turn to a socket in one corked write, in order', async () => {
    const { socket, writer, coalescer } = setup();
    const other = new CoalescingWriter(new FakeSocket(), coalescer, 1 << 20);
    expect(writer.send('a', false)).toBe(0);
    other.send('x', false);
    writer.send(Buffer.from('b'), true);
    writer.send('c', false);
    expect(socket.writes).toEqual([]);
    expect(writer.bufferedAmount()).toBe(3);
    await turn();
    expect(socket.writes).toEqual([['a', 'b', 'c']]);
    expect(writer.bufferedAmount()).toBe(0);
    writer.send('d', false);
    await turn();
    expect(socket.writes).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it("sends straight into uWS's cork inside the socket's own callback, after what is queued", () => {
    const { socket, writer, coalescer } = setup();
    writer.send('queued', false);
    socket.cork(() => {
      const outer = coalescer.enter(writer);
      expect(writer.send('reply', false)).toBe(1);
      coalescer.leave(outer);
    });
    expect(socket.writes).toEqual([['queued', 'reply']]);
  });

  it('writes the queue before the close frame, and never touches a closed socket', async () => {
    const { socket, writer } = setup();
    writer.send('last words', false);
    writer.end(4400, 'too many bad frames');
    expect(socket.writes).toEqual([['last words']]);
    expect(socket.ended).toEqual({ code: 4400, reason: 'too many bad frames' });
    writer.socketClosed();
    expect(writer.send('late', false)).toBe(2);
    writer.end(1000, 'again');
    expect(writer.bufferedAmount()).toBe(0);
    await turn();
    expect(socket.writes).toEqual([['last words']]);
    expect(socket.ended).toEqual({ code: 4400, reason: 'too many bad frames' });
  });

  it('drops what is queued when the socket closes before the end of the turn', async () => {
    const { socket, writer } = setup();
    writer.send('lost', false);
    writer.socketClosed();
    await turn();
    expect(socket.writes).toEqual([]);
  });

  it("counts the queue and uWS's buffer as buffered, and drops past uWS's limit as uWS would", async () => {
    const { socket, writer } = setup(100);
    socket.kernelTakes = 10;
    writer.send('x'.repeat(60), false);
    await turn();
    // 50 bytes stayed in uWS's buffer: the next send sees them (a native read, as before).
    expect(socket.buffered).toBe(50);
    expect(writer.send('y'.repeat(60), false)).toBe(0);
    expect(writer.bufferedAmount()).toBe(110);
    // uWS drops a send while its buffer is past the limit: with the queue counted, 110 is.
    expect(writer.send('z', false)).toBe(2);
    socket.buffered = 0;
    writer.drained();
    expect(writer.bufferedAmount()).toBe(60);
    await turn();
    expect(socket.writes.at(-1)).toEqual(['y'.repeat(60)]);
  });

  it('closes a slow reader through its connection (4008) exactly as an uncorked send did', async () => {
    const { socket, writer } = setup();
    const connection = new ClientConnection(
      { id: 'slow', codec: 'json', transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
      writer,
      { maxBackpressureBytes: 1000, badFrameLimit: 20, badFrameWindowMs: 10_000 },
      () => undefined,
    );
    socket.kernelTakes = 0;
    for (let index = 0; index < 20 && !connection.closed; index++) connection.sendEncoded('x'.repeat(100), false);
    // Queued within one turn: the cap counts the queue, so the eleventh send closes it.
    expect(connection.closed).toBe(true);
    expect(connection.endedBy).toBe(DISCONNECT.slowConsumer);
    expect(socket.ended?.code).toBe(4008);
    // What was queued before the close went out ahead of the close frame.
    expect(socket.writes.flat()).toHaveLength(11);
  });

  it('ends the socket as a slow consumer should uWS drop a queued message after all', async () => {
    const { socket, writer } = setup(100);
    writer.send('a'.repeat(50), false);
    // uWS's buffer grew behind the writer's back (its own pings are the only such writes).
    socket.buffered = 101;
    await until(() => socket.ended !== undefined, 'the writer ends the socket');
    expect(socket.ended).toEqual({ code: DISCONNECT.slowConsumer.code, reason: DISCONNECT.slowConsumer.reason });
  });

  it('counts a turn as completed once every coalescer in the process has written its queue', async () => {
    const first = setup();
    const second = setup();
    await turn();
    const before = sendTurnsCompleted();
    const frame = Buffer.from('spliced');
    first.writer.send(frame, true);
    second.writer.send(frame, true);
    expect(sendTurnsCompleted()).toBe(before);
    await turn();
    // Both wrote it (as uWS would, copying): the buffer may be reused now.
    expect(first.socket.writes).toEqual([['spliced']]);
    expect(second.socket.writes).toEqual([['spliced']]);
    expect(sendTurnsCompleted()).toBe(before + 1);
  });
});
