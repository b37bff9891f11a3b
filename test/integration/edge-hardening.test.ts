import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDataDirs, runCli, spawnGateway, tempDataDir, logLine, type ChildGateway } from '../helpers/child-gateway.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { INTERNAL_TOKEN, gatewayToken, gridOverrides, rpc, testCustomer } from '../helpers/odin.js';
import { APP_PASSWORD, appToken, connectPeer, meetInRoom } from '../helpers/rooms.js';

/**
 * Issue 16, the edge's part: credentials before bodies (point 6), exclusive listen and TLS
 * file errors (point 9), and from point 10 MessagePack bytes for JSON clients, the landing
 * page and the "gateway ready" URLs. Invalid close codes: see the last describe.
 */

interface RawAnswer {
  /** The status line and headers, once they arrived. */
  head: string;
  status: number;
  /** Body bytes this client had written when the server's answer arrived. */
  sentWhenAnswered: number;
  /** Body bytes written in all, when the connection ended. */
  sentInAll: number;
  /** The server ended the connection (rather than the client giving up). */
  closedByServer: boolean;
}

/**
 * A raw HTTP/1.1 POST that announces `bodyBytes` (`sendBody: false`: announces them, sends
 * none). With a body it sends the first 64 KiB, waits for the answer, then tries to send
 * the rest: a server that refused and closed makes that fail early. The pause is for the
 * test's sake: a client that keeps writing into a connection the server reset gets EPIPE,
 * and Node destroys the socket before reading the 401 already waiting in it. Raw, so the
 * test sees when the answer came relative to the upload and whether the server cut it.
 */
function rawPost(port: number, path: string, headers: Record<string, string>, bodyBytes: number, sendBody = true): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let received = '';
    let sent = 0;
    let sentWhenAnswered = -1;
    let ended = false;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of ${path} after 20 s; received ${JSON.stringify(received.slice(0, 200))}`));
    }, 20_000);
    // One chunk per turn of the event loop, so an answer that arrived is read before the
    // next write can fail on the closed connection (Node destroys a socket on EPIPE).
    const pump = (): void => {
      if (!sendBody || ended || sent >= bodyBytes) return;
      // The first chunk goes out at once; the rest once the answer is read (see below).
      if (sent >= chunk.length && sentWhenAnswered === -1) return;
      const size = Math.min(chunk.length, bodyBytes - sent);
      sent += size;
      if (socket.write(size === chunk.length ? chunk : chunk.subarray(0, size))) setImmediate(pump);
      else socket.once('drain', pump);
    };
    const finish = (closedByServer: boolean): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      socket.destroy();
      const headEnd = received.indexOf('\r\n\r\n');
      const head = headEnd === -1 ? received : received.slice(0, headEnd);
      resolve({ head, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), sentWhenAnswered, sentInAll: sent, closedByServer });
    };
    socket.on('connect', () => {
      const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Content-Length: ${bodyBytes}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      pump();
    });
    socket.on('data', (data) => {
      received += data.toString('latin1');
      if (sentWhenAnswered === -1 && received.includes('\r\n\r\n')) {
        sentWhenAnswered = sent;
        // Without a body to send, the answer is all this client waits for; with one, it
        // goes on sending to see whether the server still takes the body.
        if (!sendBody) finish(false);
        else setImmediate(pump);
      }
    });
    // A reset after the answer counts as the server's end too: it closed with data unread.
    socket.on('error', () => finish(true));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

async function residentBytes(gateway: ChildGateway): Promise<number> {
  const text = await (await fetch(gateway.url('/metrics'))).text();
  const match = /^switchyard_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!match) throw new Error('switchyard_process_resident_memory_bytes missing from /metrics');
  return Number(match[1]);
}

const MiB = 1024 * 1024;

describe('credentials before bodies (issue 16 point 6)', () => {
  let gateway: ChildGateway;
  const acme = testCustomer('acme-edge');

  beforeAll(async () => {
    gateway = await spawnGateway({
      env: {
        SWITCHYARD_INTERNAL_TOKEN: INTERNAL_TOKEN,
        SWITCHYARD_CUSTOMERS: gridOverrides([acme]).customers!,
        SWITCHYARD_INTERNAL_MAX_BODY_BYTES: String(8 * MiB),
      },
    });
  }, 30_000);
  afterAll(async () => {
    await gateway?.dispose();
    removeTempDataDirs();
  });

  it('answers anonymous /internal uploads 401 before reading their body, and closes the connection', async () => {
    // Announced but not sent: the answer arrives while the server has not one byte of body.
    const unsent = await rawPost(gateway.port, '/internal', { 'content-type': 'application/json' }, 8 * MiB, false);
    expect(unsent.status).toBe(401);
    expect(unsent.head.toLowerCase()).toContain('www-authenticate: bearer, basic');
    const wrong = await rawPost(gateway.port, '/internal', { 'content-type': 'application/json', authorization: 'Bearer wrong' }, 8 * MiB, false);
    expect(wrong.status).toBe(401);
  });

  it('40 anonymous 8 MiB uploads to /internal neither grow RSS by their size nor get read to the end', async () => {
    const before = await residentBytes(gateway);
    const answers: RawAnswer[] = [];
    // Ten at a time: concurrency is where buffering would show.
    for (let batch = 0; batch < 4; batch++) {
      answers.push(...(await Promise.all(Array.from({ length: 10 }, () => rawPost(gateway.port, '/internal', { 'content-type': 'application/json' }, 8 * MiB)))));
    }
    const after = await residentBytes(gateway);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.closedByServer).toBe(true);
      // The server ended the connection before the upload was done.
      expect(answer.sentInAll).toBeLessThan(8 * MiB);
    }
    // 40 x 8 MiB = 320 MiB if buffered (the probe saw +330 MB); allow a generous 64 MiB of noise.
    expect(after - before).toBeLessThan(64 * MiB);
  }, 60_000);

  it('answers POST / without a token, or with a malformed one, 401 before the body', async () => {
    for (const authorization of [undefined, 'Bearer', 'Bearer not-a-jwt', 'Basic dXNlcjpwdw==']) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (authorization) headers.authorization = authorization;
      const answer = await rawPost(gateway.port, '/', headers, 60 * 1024, false);
      expect(answer.status, String(authorization)).toBe(401);
      expect(answer.head.toLowerCase()).toContain('www-authenticate: bearer');
    }
  });

  it('answers POST / with a well-formed but forged token 401 and ends the upload', async () => {
    const forged = `${gatewayToken(acme, 'room').split('.').slice(0, 2).join('.')}.${randomBytes(64).toString('base64url')}`;
    const answer = await rawPost(gateway.port, '/', { 'content-type': 'application/json', authorization: `Bearer ${forged}` }, 60 * 1024);
    expect(answer.status).toBe(401);
  });

  it('still serves an authorised room API call and /internal call with their bodies', async () => {
    const token = gatewayToken(acme, 'edge-room');
    const room = await fetch(gateway.url('/'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'RoomClose', params: { room_id: 'edge-room' } }),
    });
    expect(room.status).not.toBe(401);
    const reply = (await room.json()) as { id: number };
    expect(reply.id).toBe(1);
    const internal = await fetch(gateway.url('/internal'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INTERNAL_TOKEN}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'no-such-method', params: {} }),
    });
    expect(internal.status).toBe(200);
    expect(((await internal.json()) as { id: number; error?: unknown }).id).toBe(2);
  });
});

describe('exclusive listen and TLS file errors (issue 16 point 9)', () => {
  const running: ChildGateway[] = [];
  afterEach(async () => {
    for (const gateway of running.splice(0)) await gateway.dispose();
  });
  afterAll(() => removeTempDataDirs());

  it('refuses to start a second gateway on a port in use, naming host:port', async () => {
    const first = await spawnGateway();
    running.push(first);
    const second = await runCli(['start', '--port', String(first.port), '--data', tempDataDir()], { env: { SWITCHYARD_LOG_LEVEL: 'info' } });
    expect(second.code).not.toBe(0);
    const output = second.stdout + second.stderr;
    expect(output).toContain(`127.0.0.1:${first.port}`);
    expect(output).toMatch(/in use/);
    // The first one keeps serving alone.
    expect((await fetch(first.url('/healthz'))).status).toBe(200);
  }, 30_000);

  it('refuses TLS with a missing, unreadable or invalid file, naming the file', async () => {
    const dir = tempDataDir();
    const certificate = join(dir, 'cert.pem');
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(certificate, '-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n');
    writeFileSync(garbage, 'this is no key\n');
    const missingKey = join(dir, 'missing-key.pem');
    const cases = [
      { certificate, key: missingKey, named: missingKey, why: /does not exist/ },
      { certificate: join(dir, 'missing-cert.pem'), key: garbage, named: join(dir, 'missing-cert.pem'), why: /does not exist/ },
      { certificate: dir, key: garbage, named: dir, why: /is a directory/ },
      { certificate, key: garbage, named: certificate, why: /no valid PEM certificate/ },
    ];
    for (const { certificate: cert, key, named, why } of cases) {
      const result = await runCli(['start', '--port', '0', '--data', join(dir, 'data'), '--ssl', '--certificate', cert, '--privatekey', key], {
        env: { SWITCHYARD_LOG_LEVEL: 'info' },
      });
      const output = result.stdout + result.stderr;
      expect(result.code, output).not.toBe(0);
      expect(output).toContain(named);
      expect(output).toMatch(why);
      expect(output).not.toContain('App construction failed');
    }
  }, 60_000);
});

describe('what an operator and a browser see (issue 16 point 10)', () => {
  let server: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway({ appPassword: APP_PASSWORD });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves a landing page on GET / with links to the demo, metrics, health and the protocol', async () => {
    const response = await fetch(server.url('/'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    for (const link of ['/demo', '/metrics', '/healthz', '/readyz']) expect(html).toContain(`href="${link}"`);
    expect(html).toContain('docs/protocol.md');
    expect(html).toContain('/ws');
    expect(html).toContain('/socket.io/');
  });

  it('keeps POST / the JSON-RPC room API', async () => {
    const answer = await rpc(server, undefined, 'Connect');
    expect(answer.status).toBe(401);
  });

  it('relays a MessagePack client\'s bytes to a JSON client as arrays of numbers', async () => {
    const token = await appToken(server);
    const [jsonPeer, packPeer] = await Promise.all([connectPeer(server, token), connectPeer(server, token, ['switchyard.v1.msgpack'])]);
    const room = `bytes-${Date.now()}`;
    await meetInRoom(jsonPeer, [], room);
    packPeer.client.sendMsgpack({ event: 'room-join-request', data: { room } });
    await jsonPeer.client.next('room-join-request');
    jsonPeer.client.sendJson({ event: 'room-join-accept', data: { room, peer_id: packPeer.peerId } });
    await packPeer.client.next('room-join-accept');
    packPeer.client.sendMsgpack({
      event: 'relay-ice-candidate',
      data: { room, to: jsonPeer.peerId, ice_candidate: { candidate: 'c' }, payload: { bytes: new Uint8Array([1, 2]), empty: new Uint8Array(0), nested: [{ b: new Uint8Array([255]) }] } },
    });
    const relayed = await jsonPeer.client.next('ice-candidate');
    expect(relayed.data).toEqual({ room, peer_id: packPeer.peerId, ice_candidate: { candidate: 'c' }, payload: { bytes: [1, 2], empty: [], nested: [{ b: [255] }] } });
    jsonPeer.client.close();
    packPeer.client.close();
  });

  it('logs "gateway ready" with the URLs it serves', async () => {
    const gateway = await spawnGateway();
    try {
      const ready = gateway.stdout.map(logLine).find((entry) => entry?.msg === 'gateway ready');
      const port = gateway.port;
      expect(ready?.urls).toEqual({
        webSocket: `ws://127.0.0.1:${port}/ws`,
        socketIo: `http://127.0.0.1:${port}/socket.io/`,
        http: `http://127.0.0.1:${port}/`,
        demo: `http://127.0.0.1:${port}/demo`,
        metrics: `http://127.0.0.1:${port}/metrics`,
        health: `http://127.0.0.1:${port}/healthz`,
        ready: `http://127.0.0.1:${port}/readyz`,
      });
    } finally {
      await gateway.dispose();
      removeTempDataDirs();
    }
  }, 30_000);
});

/**
 * Invalid close codes (issue 16 point 10). uWS answers a client's close frame itself, in C++,
 * before any JavaScript runs: for 1005, 1006, 999, 5000 (codes RFC 6455 forbids on the wire)
 * it replies with an empty close frame and reports 1006 to the close handler. No uWS.js API
 * lets the edge choose that reply, so 1002 needs a uWS change; until then this pins what the
 * gateway guarantees: a close frame back, the connection ended, the gateway serving on.
 */
describe('invalid close codes from a client', () => {
  let server: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway();
  });
  afterAll(async () => {
    await server?.close();
  });

  function closeWith(code: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let received = Buffer.alloc(0);
      let upgraded = false;
      socket.on('connect', () => {
        socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      socket.on('data', (data) => {
        received = Buffer.concat([received, data]);
        if (upgraded) return;
        const end = received.indexOf('\r\n\r\n');
        if (end === -1) return;
        upgraded = true;
        received = received.subarray(end + 4);
        const mask = randomBytes(4);
        const payload = Buffer.from([code >> 8, code & 0xff]).map((byte, index) => byte ^ mask[index % 4]!);
        socket.write(Buffer.concat([Buffer.from([0x88, 0x80 | 2]), mask, payload]));
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
    });
  }

  /** The close frame among the server's frames (after its welcome text frame). */
  function closeFrameOf(frames: Buffer): Buffer | undefined {
    let at = 0;
    while (at + 2 <= frames.length) {
      const opcode = frames[at]! & 0x0f;
      let length = frames[at + 1]! & 0x7f;
      let start = at + 2;
      if (length === 126) {
        length = frames.readUInt16BE(at + 2);
        start += 2;
      }
      if (opcode === 0x8) return frames.subarray(start, start + length);
      at = start + length;
    }
    return undefined;
  }

  // Not done (hardening point 10): for a close code RFC 6455 forbids on the wire, this uWS
  // build answers with an empty close frame itself, before any of our code runs, and uWS.js
  // offers no way to choose that reply. The tests above pin what we can guarantee; this one
  // stays open until the uWS build changes (a stack decision, DESIGN.md).
  it.todo('answers 1005, 1006, 999 and 5000 with a 1002 close (needs uWS to let the edge choose the reply)');

  it('answers 1005, 1006, 999 and 5000 with a close frame, ends the connection and keeps serving', async () => {
    for (const code of [1005, 1006, 999, 5000]) {
      const close = closeFrameOf(await closeWith(code));
      expect(close, String(code)).toBeDefined();
    }
    expect((await fetch(server.url('/healthz'))).status).toBe(200);
  });
});
