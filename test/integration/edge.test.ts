import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { decode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/** The HTTP side of the edge and the upgrade-time decisions (origin, subprotocol, limits). */

interface UpgradeOutcome {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The first server frame after a 101, decoded (text as JSON, binary as MessagePack). */
  firstFrame?: { opcode: number; frame: Frame };
}

/**
 * A WebSocket handshake by hand. `ws` refuses a 101 without a subprotocol when it offered
 * one (browsers accept it), so the fallback to JSON is checked at the wire level.
 */
function rawUpgrade(port: number, headers: Record<string, string>): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/ws',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      let buffered = head;
      const tryFrame = () => {
        if (buffered.length < 2) return;
        const opcode = buffered[0]! & 0x0f;
        let length = buffered[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffered.length < 4) return;
          length = buffered.readUInt16BE(2);
          offset = 4;
        }
        if (buffered.length < offset + length) return;
        const payload = buffered.subarray(offset, offset + length);
        const frame = (opcode === 1 ? JSON.parse(payload.toString()) : decode(payload)) as Frame;
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', firstFrame: { opcode, frame } });
      };
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        tryFrame();
      });
      socket.on('error', reject);
      tryFrame();
    });
    req.end();
  });
}

describe('HTTP endpoints', () => {
  let server: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway();
  });
  afterAll(async () => {
    await server.close();
  });

  it('GET /healthz is 200', async () => {
    const response = await fetch(server.url('/healthz'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 once started', async () => {
    const response = await fetch(server.url('/readyz'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready' });
  });

  it('an unknown path is a 404 JSON error with a stable code', async () => {
    for (const [method, path] of [
      ['GET', '/no/such/path'],
      ['POST', '/nothing-here'],
    ] as const) {
      const response = await fetch(server.url(path), { method, body: method === 'POST' ? '{}' : undefined });
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('NOT_FOUND');
      expect(typeof body.error.message).toBe('string');
    }
  });

  it('GET /metrics is Prometheus text with the gateway families', async () => {
    const client = await TestClient.connect(server.wsUrl());
    expect(await client.request('ping', undefined, 1)).toMatchObject({ event: 'pong' });
    client.sendRaw('this is not json', false);
    expect(await client.next('error')).toMatchObject({ data: { code: 'BAD_REQUEST' } });

    const response = await fetch(server.url('/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/^# TYPE switchyard_connections gauge$/m);
    expect(text).toMatch(/^switchyard_connections\{transport="native",codec="json"\} 1$/m);
    expect(text).toMatch(/^switchyard_frames_in_total\{codec="json"\} [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_frames_out_total\{codec="json"\} [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_event_log_appends_total [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_event_log_append_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_errors_total\{code="BAD_REQUEST"\} [1-9]\d*$/m);
    // Default process metrics, under the same prefix.
    expect(text).toMatch(/^switchyard_process_cpu_user_seconds_total /m);
    client.close();
  });

  it('counts MessagePack frames under their own codec label', async () => {
    const client = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    client.sendMsgpack({ event: 'ping', id: 2 });
    await client.next('pong');
    const text = await (await fetch(server.url('/metrics'))).text();
    expect(text).toMatch(/^switchyard_frames_in_total\{codec="msgpack"\} [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_frames_out_total\{codec="msgpack"\} [1-9]\d*$/m);
    client.close();
  });

  it('the connections gauge follows sockets opening and closing', async () => {
    // Its own gateway, so sockets of the other tests cannot move the gauge meanwhile.
    const own = await startTestGateway();
    try {
      const gauge = async (): Promise<number> => {
        const text = await (await fetch(own.url('/metrics'))).text();
        return Number(/^switchyard_connections\{transport="native",codec="json"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      };
      const first = await TestClient.connect(own.wsUrl());
      const second = await TestClient.connect(own.wsUrl());
      expect(await gauge()).toBe(2);
      first.close();
      await first.waitClosed();
      // The server handles the close after the client saw it: wait on the gauge itself.
      while ((await gauge()) !== 1) expect(await second.request('ping')).toMatchObject({ event: 'pong' });
      expect(own.gateway.openConnections).toBe(1);
      second.close();
    } finally {
      await own.close();
    }
  });
});

describe('Origin allow-list', () => {
  let server: TestGateway;
  let configured: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway();
    configured = await startTestGateway({ allowedOrigins: 'https://app.example.com, https://other.example.org' });
  });
  afterAll(async () => {
    await server.close();
    await configured.close();
  });

  it('refuses a foreign Origin with HTTP 403 before the upgrade', async () => {
    const outcome = await rawUpgrade(server.port, { Origin: 'https://evil.example.com' });
    expect(outcome.status).toBe(403);
    expect(JSON.parse(outcome.body)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    await expect(TestClient.open(server.wsUrl(), { headers: { Origin: 'https://evil.example.com' } })).rejects.toThrow('HTTP 403');
  });

  it('refuses the same host on another port, and the opaque origin "null"', async () => {
    expect((await rawUpgrade(server.port, { Origin: `http://127.0.0.1:${server.port === 1 ? 2 : 1}` })).status).toBe(403);
    expect((await rawUpgrade(server.port, { Origin: 'null' })).status).toBe(403);
  });

  it('allows a client that sends no Origin (not a browser)', async () => {
    const client = await TestClient.connect(server.wsUrl());
    expect(await client.request('ping')).toMatchObject({ event: 'pong' });
    client.close();
  });

  it('allows a page served by the gateway itself (Origin host equals Host)', async () => {
    const client = await TestClient.connect(server.wsUrl(), { headers: { Origin: `http://127.0.0.1:${server.port}` } });
    expect(await client.request('ping')).toMatchObject({ event: 'pong' });
    client.close();
  });

  it('allows a configured origin, in any letter case, and still refuses others', async () => {
    for (const origin of ['https://app.example.com', 'https://other.example.org', 'HTTPS://APP.EXAMPLE.COM']) {
      const client = await TestClient.connect(configured.wsUrl(), { headers: { Origin: origin } });
      client.close();
    }
    expect((await rawUpgrade(configured.port, { Origin: 'https://app.example.com.evil.net' })).status).toBe(403);
    expect((await rawUpgrade(configured.port, { Origin: 'http://app.example.com' })).status).toBe(403);
  });

  it('records the Origin of an accepted connection in the log', async () => {
    const client = await TestClient.open(configured.wsUrl(), { headers: { Origin: 'https://app.example.com' } });
    const welcome = await client.next('welcome');
    const peerId = (welcome.data as { peer_id: string }).peer_id;
    const [opened] = configured.gateway.store.readStream(`connection-${peerId}`);
    expect(opened?.data).toMatchObject({ origin: 'https://app.example.com' });
    client.close();
  });

  it('allows any origin with "*"', async () => {
    const open = await startTestGateway({ allowedOrigins: '*' });
    try {
      const client = await TestClient.connect(open.wsUrl(), { headers: { Origin: 'https://anything.example' } });
      client.close();
    } finally {
      await open.close();
    }
  });
});

describe('subprotocol negotiation', () => {
  let server: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway();
  });
  afterAll(async () => {
    await server.close();
  });

  it('speaks MessagePack when switchyard.v1.msgpack is offered', async () => {
    const client = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    expect(client.socket.protocol).toBe('switchyard.v1.msgpack');
    client.sendJson({ event: 'ping', id: 3 }); // a JSON request still gets a MessagePack answer
    expect(await client.next('pong')).toMatchObject({ id: 3 });
    client.close();
  });

  it('the welcome itself is MessagePack, naming the codec', async () => {
    const outcome = await rawUpgrade(server.port, { 'Sec-WebSocket-Protocol': 'switchyard.v1.msgpack' });
    expect(outcome.status).toBe(101);
    expect(outcome.headers['sec-websocket-protocol']).toBe('switchyard.v1.msgpack');
    expect(outcome.firstFrame?.opcode).toBe(2);
    expect(outcome.firstFrame?.frame).toMatchObject({ event: 'welcome', data: { codec: 'msgpack', protocol: 1 } });
  });

  it('the first known subprotocol offered wins', async () => {
    const json = await TestClient.connect(server.wsUrl(), { protocols: ['x-unknown', 'switchyard.v1.json', 'switchyard.v1.msgpack'] });
    expect(json.socket.protocol).toBe('switchyard.v1.json');
    json.close();
    const msgpack = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack', 'switchyard.v1.json'] });
    expect(msgpack.socket.protocol).toBe('switchyard.v1.msgpack');
    msgpack.close();
  });

  it('falls back to JSON and echoes no subprotocol when only unknown ones are offered', async () => {
    const outcome = await rawUpgrade(server.port, { 'Sec-WebSocket-Protocol': 'mqtt, graphql-ws' });
    expect(outcome.status).toBe(101);
    expect(outcome.headers['sec-websocket-protocol']).toBeUndefined();
    expect(outcome.firstFrame?.opcode).toBe(1);
    expect(outcome.firstFrame?.frame).toMatchObject({ event: 'welcome', data: { codec: 'json', protocol: 1 } });
  });

  it('speaks JSON with no subprotocol when none is offered', async () => {
    const client = await TestClient.connect(server.wsUrl());
    expect(client.socket.protocol).toBe('');
    client.close();
  });
});

describe('slow consumer', () => {
  it('closes a reader that stops reading with 4008; another client is unaffected', async () => {
    const server = await startTestGateway({ maxBackpressureBytes: '16384' });
    try {
      const other = await TestClient.connect(server.wsUrl());
      const slow = await TestClient.open(server.wsUrl());
      const peerId = ((await slow.next('welcome')).data as { peer_id: string }).peer_id;
      // Stop reading at the TCP level: pongs pile up in the kernel, then in uWS.
      const tcp = (slow.socket as unknown as { _socket: Socket })._socket;
      tcp.pause();
      const closedInLog = () =>
        server.gateway.store.readStream(`connection-${peerId}`).find((event) => event.type === 'ConnectionClosed');
      let id = 0;
      while (!closedInLog()) {
        for (let i = 0; i < 500; i++) slow.sendJson({ event: 'ping', id: ++id });
        // Wait for our writes to be flushed, so the loop is paced by the server's reading.
        await new Promise<void>((resolve) => slow.socket.send('{"event":"ping"}', () => resolve()));
        // Meanwhile the other client is served normally.
        if (id % 20_000 === 0) expect(await other.request('ping')).toMatchObject({ event: 'pong' });
      }
      expect(closedInLog()?.data).toMatchObject({ code: 4008, unclean: false });
      expect(await other.request('ping', undefined, 42)).toMatchObject({ event: 'pong', id: 42 });
      // Once it reads again it finds the close frame behind the queued pongs.
      tcp.resume();
      const closed = await slow.waitClosed(15_000);
      expect(closed.code).toBe(4008);
      expect(slow.frames.every((frame) => frame.event === 'pong')).toBe(true);
      expect(await other.request('ping', undefined, 43)).toMatchObject({ event: 'pong', id: 43 });
      other.close();
    } finally {
      await server.close();
    }
  });
});
