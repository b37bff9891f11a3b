import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Malformed frames on /ws (PROTOCOL.md section 2, docs/protocol-notes.md "Frame validation"):
 * each is answered with an `error` frame (or, for the few the transport itself refuses, a
 * close), the socket stays usable, and nothing leaks to other connections.
 */

interface ErrorData {
  code: string;
  message: string;
}

const nestedJson = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

function nestedArray(depth: number): unknown {
  let value: unknown = [];
  for (let level = 1; level < depth; level++) value = [value];
  return value;
}

interface BadFrameCase {
  name: string;
  send(client: TestClient): void;
  code: 'BAD_REQUEST' | 'UNKNOWN_EVENT';
  /** The id the error must echo; undefined: the error must carry no id. */
  id?: number;
}

const msgpackPing = encode({ event: 'ping', id: 11 });

const CASES: BadFrameCase[] = [
  { name: 'text that is not JSON', send: (c) => c.sendRaw('{"event": "ping", ', false), code: 'BAD_REQUEST' },
  { name: 'a JSON array', send: (c) => c.sendRaw('[{"event":"ping","id":1}]', false), code: 'BAD_REQUEST' },
  { name: 'a JSON number', send: (c) => c.sendRaw('42', false), code: 'BAD_REQUEST' },
  { name: 'a JSON string', send: (c) => c.sendRaw('"ping"', false), code: 'BAD_REQUEST' },
  { name: 'JSON null', send: (c) => c.sendRaw('null', false), code: 'BAD_REQUEST' },
  { name: 'an object without event', send: (c) => c.sendJson({ data: { a: 1 }, id: 3 }), code: 'BAD_REQUEST', id: 3 },
  { name: 'event that is a number', send: (c) => c.sendJson({ event: 5, id: 4 }), code: 'BAD_REQUEST', id: 4 },
  { name: 'event that is an empty string', send: (c) => c.sendJson({ event: '', id: 5 }), code: 'BAD_REQUEST', id: 5 },
  { name: 'event longer than 64 characters', send: (c) => c.sendJson({ event: 'x'.repeat(65), id: 6 }), code: 'BAD_REQUEST', id: 6 },
  { name: 'event with characters outside the allowed set', send: (c) => c.sendJson({ event: 'ping pong', id: 7 }), code: 'BAD_REQUEST', id: 7 },
  { name: 'id that is a string', send: (c) => c.sendJson({ event: 'ping', id: '7' }), code: 'BAD_REQUEST' },
  { name: 'id that is a fraction', send: (c) => c.sendJson({ event: 'ping', id: 1.5 }), code: 'BAD_REQUEST' },
  { name: 'id 1e400 (Infinity once parsed)', send: (c) => c.sendRaw('{"event":"ping","id":1e400}', false), code: 'BAD_REQUEST' },
  { name: 'id 2^60 (beyond 2^53-1)', send: (c) => c.sendRaw('{"event":"ping","id":1152921504606846976}', false), code: 'BAD_REQUEST' },
  { name: 'id 0', send: (c) => c.sendJson({ event: 'ping', id: 0 }), code: 'BAD_REQUEST' },
  { name: 'negative id', send: (c) => c.sendJson({ event: 'ping', id: -3 }), code: 'BAD_REQUEST' },
  { name: 'unknown event', send: (c) => c.sendJson({ event: 'no-such-event', id: 8 }), code: 'UNKNOWN_EVENT', id: 8 },
  { name: 'event named like an Object.prototype member', send: (c) => c.sendJson({ event: 'constructor', id: 14 }), code: 'UNKNOWN_EVENT', id: 14 },
  { name: 'event __proto__', send: (c) => c.sendRaw('{"event":"__proto__","id":15}', false), code: 'UNKNOWN_EVENT', id: 15 },
  { name: 'unknown event without id', send: (c) => c.sendJson({ event: 'no-such-event' }), code: 'UNKNOWN_EVENT' },
  {
    name: 'binary garbage',
    // 0xc1 is the one byte MessagePack never uses.
    send: (c) => c.sendRaw(Buffer.from([0xc1, 0xff, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef]), true),
    code: 'BAD_REQUEST',
  },
  {
    name: 'binary that announces a 4 GiB string',
    send: (c) => c.sendRaw(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), true),
    code: 'BAD_REQUEST',
  },
  {
    name: 'truncated MessagePack',
    send: (c) => c.sendRaw(Buffer.from(msgpackPing.subarray(0, msgpackPing.byteLength - 3)), true),
    code: 'BAD_REQUEST',
  },
  {
    name: 'MessagePack with trailing bytes',
    send: (c) => c.sendRaw(Buffer.concat([msgpackPing, Buffer.from([0x01, 0x02])]), true),
    code: 'BAD_REQUEST',
  },
  {
    name: 'MessagePack id as uint64 2^60',
    // {"event":"ping","id":2^60} with the id as a real uint64 (0xcf), not a float.
    send: (c) =>
      c.sendRaw(
        Buffer.concat([
          Buffer.from([0x82, 0xa5]),
          Buffer.from('event'),
          Buffer.from([0xa4]),
          Buffer.from('ping'),
          Buffer.from([0xa2]),
          Buffer.from('id'),
          Buffer.from([0xcf, 0x10, 0, 0, 0, 0, 0, 0, 0]),
        ]),
        true,
      ),
    code: 'BAD_REQUEST',
  },
  {
    name: 'MessagePack event as bytes',
    send: (c) => c.sendRaw(Buffer.from(encode({ event: new Uint8Array(Buffer.from('ping')), id: 13 })), true),
    code: 'BAD_REQUEST',
    id: 13,
  },
  { name: 'a MessagePack extension value', send: (c) => c.sendRaw(Buffer.from([0xd4, 0x05, 0x00]), true), code: 'BAD_REQUEST' },
  { name: 'a MessagePack timestamp', send: (c) => c.sendRaw(Buffer.from(encode(new Date(0))), true), code: 'BAD_REQUEST' },
  { name: 'a MessagePack array', send: (c) => c.sendRaw(Buffer.from(encode(['ping', 1])), true), code: 'BAD_REQUEST' },
  { name: '10 000 levels of JSON arrays', send: (c) => c.sendRaw(nestedJson(10_000), false), code: 'BAD_REQUEST' },
  { name: '10 000 unclosed [', send: (c) => c.sendRaw('['.repeat(10_000), false), code: 'BAD_REQUEST' },
  {
    name: 'JSON data nested past maxFrameDepth',
    send: (c) => c.sendRaw(`{"event":"ping","id":9,"data":${nestedJson(33)}}`, false),
    code: 'BAD_REQUEST',
    id: 9,
  },
  {
    name: 'JSON data nested 10 000 levels',
    send: (c) => c.sendRaw(`{"event":"ping","id":10,"data":${nestedJson(10_000)}}`, false),
    code: 'BAD_REQUEST',
    id: 10,
  },
  {
    name: 'MessagePack data nested past maxFrameDepth',
    send: (c) => c.sendRaw(Buffer.from(encode({ event: 'ping', id: 12, data: nestedArray(40) })), true),
    code: 'BAD_REQUEST',
    id: 12,
  },
  { name: 'an empty text frame', send: (c) => c.sendRaw('', false), code: 'BAD_REQUEST' },
  { name: 'an empty binary frame', send: (c) => c.sendRaw(Buffer.alloc(0), true), code: 'BAD_REQUEST' },
];

describe('malformed frames on /ws', () => {
  let server: TestGateway;
  let control: TestClient;
  let controlId = 1_000;

  /** The control connection must keep answering whatever another socket sends. */
  async function controlStillServed(): Promise<void> {
    const id = ++controlId;
    const answer = await control.request('ping', undefined, id);
    expect(answer).toMatchObject({ event: 'pong', id });
  }

  const peerIds = new WeakMap<TestClient, string>();
  async function connect(): Promise<TestClient> {
    const client = await TestClient.open(server.wsUrl());
    const welcome = await client.next('welcome');
    peerIds.set(client, (welcome.data as { peer_id: string }).peer_id);
    return client;
  }
  const peerIdOf = (client: TestClient): string => peerIds.get(client)!;
  /** Waits until the connection's close is in the log (it is appended after the close event). */
  async function closedEventOf(peerId: string): Promise<Record<string, unknown>> {
    await control.request('ping'); // one round trip on the same event loop lets the append be queued
    for (let attempt = 0; attempt < 1000; attempt++) {
      const closed = server.gateway.store.readStream(`connection-${peerId}`).find((event) => event.type === 'ConnectionClosed');
      if (closed) return closed.data as Record<string, unknown>;
      await control.request('ping');
    }
    throw new Error(`no ConnectionClosed for ${peerId}`);
  }

  beforeAll(async () => {
    // A high bad-frame limit keeps these single-frame cases from tripping the abuse close.
    server = await startTestGateway({ badFrameLimit: '1000' });
    control = await TestClient.connect(server.wsUrl());
  });
  afterAll(async () => {
    control.close();
    await server.close();
  });

  it.each(CASES)('answers $name with $code and keeps the socket up', async ({ send, code, id }) => {
    const client = await TestClient.connect(server.wsUrl());
    send(client);
    const error = await client.next('error');
    expect((error.data as ErrorData).code).toBe(code);
    expect(typeof (error.data as ErrorData).message).toBe('string');
    if (id === undefined) expect(error).not.toHaveProperty('id');
    else expect(error.id).toBe(id);
    // Nothing else was sent for the bad frame (no pong for a ping it could not read).
    expect(client.frames).toEqual([]);
    // The same socket still works, and so does everyone else's.
    const pong = await client.request('ping', undefined, 77);
    expect(pong).toMatchObject({ event: 'pong', id: 77 });
    expect(client.closed).toBeUndefined();
    await controlStillServed();
    client.close();
  });

  it('answers every bad frame in order on one socket, then a ping', async () => {
    const client = await TestClient.connect(server.wsUrl());
    for (const badFrame of CASES) badFrame.send(client);
    const errors: Frame[] = [];
    for (let i = 0; i < CASES.length; i++) errors.push(await client.next('error'));
    expect(errors.map((frame) => (frame.data as ErrorData).code)).toEqual(CASES.map((badFrame) => badFrame.code));
    expect(errors.map((frame) => frame.id)).toEqual(CASES.map((badFrame) => badFrame.id));
    const pong = await client.request('ping', undefined, 78);
    expect(pong).toMatchObject({ event: 'pong', id: 78 });
    await controlStillServed();
    client.close();
  });

  it('answers MessagePack bad frames in MessagePack on a msgpack connection', async () => {
    const client = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    client.sendRaw(Buffer.from(encode({ event: 'no-such-event', id: 21 })), true);
    const error = await client.next('error');
    expect(error).toMatchObject({ event: 'error', id: 21, data: { code: 'UNKNOWN_EVENT' } });
    client.sendMsgpack({ event: 'ping', id: 22 });
    expect(await client.next('pong')).toMatchObject({ id: 22 });
    client.close();
  });

  it('never reveals internals in an error message', async () => {
    const client = await TestClient.connect(server.wsUrl());
    client.sendRaw('{"event":', false);
    const error = await client.next('error');
    expect((error.data as ErrorData).message).not.toMatch(/at |\/|SyntaxError|Unexpected/);
    client.close();
  });

  it('drops a connection that sends invalid UTF-8 in a text frame; the gateway is fine', async () => {
    const client = await connect();
    // `ws` does not validate what it sends: these bytes go out as a text frame.
    client.sendRaw(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]), false);
    const closed = await client.waitClosed();
    // uWS drops the TCP connection without a close frame (RFC 6455 would allow 1007).
    expect(closed.code).toBe(1006);
    await controlStillServed();
    const peerId = peerIdOf(client);
    const recorded = await closedEventOf(peerId);
    expect(recorded).toMatchObject({ code: 1006, unclean: false });
    const fresh = await TestClient.connect(server.wsUrl());
    expect(await fresh.request('ping', undefined, 5)).toMatchObject({ event: 'pong', id: 5 });
    fresh.close();
  });

  it('closes with 1009 on a frame over maxFrameBytes', async () => {
    const client = await TestClient.connect(server.wsUrl());
    client.sendRaw(JSON.stringify({ event: 'ping', data: 'x'.repeat(64 * 1024) }), false);
    const closed = await client.waitClosed();
    expect(closed.code).toBe(1009);
    await controlStillServed();
  });

  it('closes with 1009 on an oversized binary frame too', async () => {
    const client = await TestClient.connect(server.wsUrl());
    client.sendRaw(Buffer.alloc(64 * 1024 + 1, 0x61), true);
    expect((await client.waitClosed()).code).toBe(1009);
    await controlStillServed();
  });

  it('accepts a frame of exactly maxFrameBytes', async () => {
    const client = await TestClient.connect(server.wsUrl());
    const skeleton = JSON.stringify({ event: 'ping', id: 31, data: '' });
    client.sendRaw(JSON.stringify({ event: 'ping', id: 31, data: 'x'.repeat(64 * 1024 - skeleton.length) }), false);
    expect(await client.next('pong')).toMatchObject({ id: 31 });
    client.close();
  });

  it('is dropped by uWS itself on a frame beyond 4x maxFrameBytes; the gateway is fine', async () => {
    const client = await TestClient.connect(server.wsUrl());
    client.sendRaw(Buffer.alloc(4 * 64 * 1024 + 1, 0x61), true);
    const closed = await client.waitClosed();
    expect(closed.code).toBe(1006);
    await controlStillServed();
  });
});

describe('bad-frame limit', () => {
  it('closes with 4400 on the 20th bad frame within 10 s (defaults); 19 are tolerated', async () => {
    const server = await startTestGateway();
    try {
      const client = await TestClient.connect(server.wsUrl());
      for (let i = 0; i < 19; i++) client.sendRaw('not json', false);
      for (let i = 0; i < 19; i++) await client.next('error');
      expect(await client.request('ping', undefined, 1)).toMatchObject({ event: 'pong', id: 1 });
      client.sendJson({ event: 'no-such-event' });
      const closed = await client.waitClosed();
      expect(closed.code).toBe(4400);
      const other = await TestClient.connect(server.wsUrl());
      expect(await other.request('ping', undefined, 2)).toMatchObject({ event: 'pong' });
      other.close();
    } finally {
      await server.close();
    }
  });

  it('honours a configured limit, counts every kind of bad frame, and records the close', async () => {
    const server = await startTestGateway({ badFrameLimit: '5', badFrameWindowSeconds: '60' });
    try {
      const control = await TestClient.connect(server.wsUrl());
      const client = await TestClient.connect(server.wsUrl());
      const welcome = client.frames.length; // connect() consumed the welcome
      expect(welcome).toBe(0);
      client.sendRaw('nope', false);
      client.sendRaw(Buffer.from([0xc1]), true);
      client.sendJson({ event: 'no-such-event', id: 1 });
      client.sendJson({ id: 2 });
      for (let i = 0; i < 4; i++) await client.next('error');
      expect(client.closed).toBeUndefined();
      client.sendRaw('', false);
      const closed = await client.waitClosed();
      expect(closed.code).toBe(4400);
      expect(await control.request('ping', undefined, 3)).toMatchObject({ event: 'pong', id: 3 });
      control.close();
    } finally {
      await server.close();
    }
  });

  it('forgets bad frames older than the window', async () => {
    // Window of 1 s, limit 2: two bad frames more than a second apart never close the socket.
    const server = await startTestGateway({ badFrameLimit: '2', badFrameWindowSeconds: '1' });
    try {
      const client = await TestClient.connect(server.wsUrl());
      client.sendRaw('nope', false);
      await client.next('error');
      const firstAt = Date.now();
      // Wait on the condition "the window has passed" using pings as the clock source.
      while (Date.now() - firstAt <= 1100) await client.request('ping');
      client.sendRaw('nope', false);
      await client.next('error');
      expect(await client.request('ping', undefined, 4)).toMatchObject({ event: 'pong', id: 4 });
      client.close();
    } finally {
      await server.close();
    }
  });
});
