import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSocketIoFixture, type SocketIoFixture } from '../fixtures/socketio-fixture.js';
import { ROOT } from '../helpers/child-gateway.js';
import { RawEngineSocket, upgradeStatus } from '../helpers/raw-engineio.js';

/**
 * The WebSocket cases of the official suites (socketio/engine.io-protocol and
 * socketio/socket.io-protocol, test-suite/test-suite.js), rewritten against the protocol
 * fixture (test/fixtures/socketio-fixture.ts), which is configured like their reference servers:
 * pingInterval 300, pingTimeout 200, maxPayload 1e6, connectTimeout 1000, namespace `/custom`.
 *
 * Deliberate differences from the suites:
 * - `/engine.io/` serves WebSocket only, so its HTTP long-polling cases answer 400 here;
 *   `/socket.io/` serves long-polling too (test/integration/socketio-polling.test.ts has its cases).
 * - Engine.IO v3 binary messages carry their packet type byte (4) first, as the v3 parser
 *   of engine.io-client 3.x writes and reads them (the current socket.io v4-protocol suite
 *   does the same); the older engine.io v3 suite sent bare bytes.
 * - Clients keep the heartbeat going by themselves (RawEngineSocket `heartbeat`) except in
 *   the heartbeat tests, so a slow machine cannot fail an unrelated case by a missed ping.
 */

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const OPEN_KEYS = ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades'];
const bytes = (...values: number[]) => Uint8Array.from(values);

function expectOpenPacket(message: string | Uint8Array): string {
  expect(typeof message).toBe('string');
  const text = message as string;
  expect(text.startsWith('0')).toBe(true);
  const value = JSON.parse(text.slice(1)) as Record<string, unknown>;
  expect(Object.keys(value).sort()).toEqual(OPEN_KEYS);
  expect(value).toMatchObject({ upgrades: [], pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: 1_000_000 });
  expect(typeof value.sid).toBe('string');
  return value.sid as string;
}

/** The keys of a CONNECT answer's payload (`40{"sid":...}` -> ['sid']). */
function connectPayloadKeys(text: string, prefix: string): string[] {
  expect(text.startsWith(prefix)).toBe(true);
  return Object.keys(JSON.parse(text.slice(prefix.length)) as object);
}

describe('protocol fixture: official suites, WebSocket cases', () => {
  let fixture: SocketIoFixture;
  let port: number;
  const open = (path: string, options: { version?: 3 | 4; query?: string; heartbeat?: boolean } = {}) => RawEngineSocket.open(port, path, options);

  beforeAll(async () => {
    fixture = await startSocketIoFixture({ port: 0 });
    port = fixture.port;
  });
  afterAll(() => {
    fixture?.close();
  });

  for (const version of [4, 3] as const) {
    describe(`Engine.IO v${version} (/engine.io/, EIO=${version})`, () => {
      const path = '/engine.io/';

      it('handshake: opens a session with the OPEN packet', async () => {
        const socket = await open(path, { version });
        expectOpenPacket(await socket.next());
        socket.close();
      });

      it('handshake: refuses a missing or invalid EIO', async () => {
        expect(await upgradeStatus(port, path, 'transport=websocket')).toBe(400);
        expect(await upgradeStatus(port, path, 'EIO=abc&transport=websocket')).toBe(400);
      });

      it('handshake: refuses a missing or invalid transport', async () => {
        expect(await upgradeStatus(port, path, `EIO=${version}`)).toBe(400);
        expect(await upgradeStatus(port, path, `EIO=${version}&transport=abc`)).toBe(400);
      });

      it('handshake over HTTP long-polling is refused with 400 (not served)', async () => {
        for (const method of ['GET', 'POST', 'PUT']) {
          const response = await fetch(`http://127.0.0.1:${port}${path}?EIO=${version}&transport=polling`, { method });
          expect(response.status, method).toBe(400);
        }
      });

      it('message: sends and receives a plain text packet', async () => {
        const socket = await open(path, { version });
        await socket.next();
        socket.send('4hello');
        expect(await socket.next()).toBe('4hello');
        socket.close();
      });

      it('message: sends and receives a binary packet', async () => {
        const socket = await open(path, { version });
        await socket.next();
        const packet = version === 4 ? bytes(1, 2, 3, 4) : bytes(4, 1, 2, 3, 4);
        socket.send(packet);
        expect(await socket.next()).toEqual(packet);
        socket.close();
      });

      it('message: closes the session upon invalid packet format', async () => {
        const socket = await open(path, { version });
        await socket.next();
        socket.send('abc');
        expect(await socket.waitClosed()).toBe(4400);
      });

      it(`heartbeat: ${version === 4 ? 'the server pings, the client pongs' : 'the client pings, the server pongs'}`, async () => {
        const socket = await open(path, { version, heartbeat: false });
        await socket.next();
        for (let round = 0; round < 3; round++) {
          if (version === 4) {
            expect(await socket.next()).toBe('2');
            socket.send('3');
          } else {
            socket.send('2');
            expect(await socket.next()).toBe('3');
          }
        }
        socket.close();
      });

      it('heartbeat: closes the session upon ping timeout', async () => {
        const socket = await open(path, { version, heartbeat: false });
        expect(await socket.waitClosed()).toBe(4408);
      });

      it('close: the client forcefully closes the session', async () => {
        const socket = await open(path, { version });
        await socket.next();
        socket.send('1');
        expect(await socket.waitClosed()).toBe(1000);
      });

      it('upgrade from HTTP long-polling is refused (no polling session can exist)', async () => {
        expect(await upgradeStatus(port, path, `EIO=${version}&transport=websocket&sid=abc`)).toBe(400);
      });
    });
  }

  describe('Socket.IO revision 5 (/socket.io/, EIO=4)', () => {
    const path = '/socket.io/';

    /** Open, CONNECT to `/`, and take the CONNECT answer and the `auth` echo. */
    async function connected(): Promise<RawEngineSocket> {
      const socket = await open(path);
      await socket.next();
      socket.send('40');
      await socket.next();
      await socket.next();
      return socket;
    }

    it('handshake: the Engine.IO OPEN packet', async () => {
      const socket = await open(path);
      expectOpenPacket(await socket.next());
      socket.close();
    });

    it('handshake: refuses bad EIO and transport with 400; a polling handshake opens a session', async () => {
      for (const query of ['transport=websocket', 'EIO=abc&transport=websocket', 'EIO=4', 'EIO=4&transport=abc']) {
        expect(await upgradeStatus(port, path, query), query).toBe(400);
      }
      const polling = await fetch(`http://127.0.0.1:${port}${path}?EIO=4&transport=polling`);
      expect(polling.status).toBe(200);
      expect(await polling.text()).toMatch(/"upgrades":\["websocket"\]/);
    });

    it('heartbeat: ping/pong and ping timeout', async () => {
      const socket = await open(path, { heartbeat: false });
      await socket.next();
      // Connected first, so that the connect timeout is not what closes the socket.
      socket.send('40');
      await socket.next();
      await socket.next();
      for (let round = 0; round < 3; round++) {
        expect(await socket.next()).toBe('2');
        socket.send('3');
      }
      expect(await socket.waitClosed()).toBe(4408);
    });

    it('close: an Engine.IO close packet closes the session', async () => {
      const socket = await open(path);
      await socket.next();
      socket.send('1');
      expect(await socket.waitClosed()).toBe(1000);
    });

    it('connect: to the main namespace', async () => {
      const socket = await open(path);
      await socket.next();
      socket.send('40');
      const answer = await socket.nextText();
      expect(connectPayloadKeys(answer, '40')).toEqual(['sid']);
      expect(await socket.next()).toBe('42["auth",{}]');
      socket.close();
    });

    it('connect: to the main namespace with a payload', async () => {
      const socket = await open(path);
      await socket.next();
      socket.send('40{"token":"123"}');
      expect(connectPayloadKeys(await socket.nextText(), '40')).toEqual(['sid']);
      expect(await socket.next()).toBe('42["auth",{"token":"123"}]');
      socket.close();
    });

    it('connect: to a custom namespace, with and without a payload', async () => {
      for (const [packet, auth] of [
        ['40/custom,', '{}'],
        ['40/custom,{"token":"abc"}', '{"token":"abc"}'],
      ] as const) {
        const socket = await open(path);
        await socket.next();
        socket.send(packet);
        expect(connectPayloadKeys(await socket.nextText(), '40/custom,')).toEqual(['sid']);
        expect(await socket.next()).toBe(`42/custom,["auth",${auth}]`);
        socket.close();
      }
    });

    it('connect: refuses an unknown namespace', async () => {
      const socket = await open(path);
      await socket.next();
      socket.send('40/random');
      expect(await socket.next()).toBe('44/random,{"message":"Invalid namespace"}');
      socket.close();
    });

    it('connect: closes upon an invalid handshake', async () => {
      const socket = await open(path);
      await socket.next();
      socket.send('4abc');
      expect(await socket.waitClosed()).toBe(4400);
    });

    it('connect: closes when no handshake is received (connect timeout)', async () => {
      const socket = await open(path);
      expect(await socket.waitClosed()).toBe(4408);
    });

    it('disconnect: from the main namespace; the Engine.IO session stays (the next packet is a ping)', async () => {
      const socket = await open(path, { heartbeat: false });
      await socket.next();
      socket.send('40');
      await socket.next();
      await socket.next();
      socket.send('41');
      expect(await socket.next()).toBe('2');
      socket.close();
    });

    it('disconnect: connect then disconnect a custom namespace; the main one still works', async () => {
      const socket = await connected();
      socket.send('40/custom');
      await socket.next();
      await socket.next();
      socket.send('41/custom');
      socket.send('42["message","message to main namespace"]');
      expect(await socket.next()).toBe('42["message-back","message to main namespace"]');
      socket.close();
    });

    it('message: a plain-text packet', async () => {
      const socket = await connected();
      socket.send('42["message",1,"2",{"3":[true]}]');
      expect(await socket.next()).toBe('42["message-back",1,"2",{"3":[true]}]');
      socket.close();
    });

    it('message: a packet with binary attachments', async () => {
      const socket = await connected();
      socket.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      socket.send(bytes(1, 2, 3));
      socket.send(bytes(4, 5, 6));
      expect(await socket.next()).toBe('452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      expect(await socket.next()).toEqual(bytes(1, 2, 3));
      expect(await socket.next()).toEqual(bytes(4, 5, 6));
      socket.close();
    });

    it('message: a plain-text packet with an ack', async () => {
      const socket = await connected();
      socket.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      expect(await socket.next()).toBe('43456[1,"2",{"3":[false]}]');
      socket.close();
    });

    it('message: a packet with binary attachments and an ack', async () => {
      const socket = await connected();
      socket.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      socket.send(bytes(1, 2, 3));
      socket.send(bytes(4, 5, 6));
      expect(await socket.next()).toBe('462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      expect(await socket.next()).toEqual(bytes(1, 2, 3));
      expect(await socket.next()).toEqual(bytes(4, 5, 6));
      socket.close();
    });

    it.each([
      ['unknown packet type', '4abc'],
      ['invalid payload format', '42{}'],
      ['invalid ack id', '42abc["message-with-ack",1,"2",{"3":[false]}]'],
    ])('message: closes the connection upon invalid format (%s)', async (_name, packet) => {
      const socket = await connected();
      socket.send(packet);
      expect(await socket.waitClosed()).toBe(4400);
    });
  });

  describe('Socket.IO revision 4 (/socket.io/, EIO=3)', () => {
    const path = '/socket.io/';
    const open3 = (heartbeat = true) => open(path, { version: 3, heartbeat });

    /** Open; the server connects `/` by itself and echoes the (empty) auth. */
    async function connected(): Promise<RawEngineSocket> {
      const socket = await open3();
      await socket.next();
      await socket.next();
      await socket.next();
      return socket;
    }

    it('handshake: the OPEN packet, then the main namespace is connected without a CONNECT', async () => {
      const socket = await open3();
      expectOpenPacket(await socket.next());
      expect(await socket.next()).toBe('40');
      expect(await socket.next()).toBe('42["auth",{}]');
      socket.close();
    });

    it('handshake: refuses bad EIO and transport with 400; a polling handshake opens a session', async () => {
      for (const query of ['transport=websocket', 'EIO=abc&transport=websocket', 'EIO=3', 'EIO=3&transport=abc']) {
        expect(await upgradeStatus(port, path, query), query).toBe(400);
      }
      const polling = await fetch(`http://127.0.0.1:${port}${path}?EIO=3&transport=polling`);
      expect(polling.status).toBe(200);
      expect(await polling.text()).toMatch(/"upgrades":\["websocket"\]/);
    });

    it('heartbeat: the client pings, the server pongs; silence closes the session', async () => {
      const socket = await open3(false);
      await socket.next();
      await socket.next();
      await socket.next();
      for (let round = 0; round < 3; round++) {
        socket.send('2');
        expect(await socket.next()).toBe('3');
      }
      expect(await socket.waitClosed()).toBe(4408);
    });

    it('close: an Engine.IO close packet closes the session', async () => {
      const socket = await open3();
      await socket.next();
      socket.send('1');
      expect(await socket.waitClosed()).toBe(1000);
    });

    it('connect: to a custom namespace', async () => {
      const socket = await connected();
      socket.send('40/custom,');
      expect(await socket.next()).toBe('40/custom,');
      expect(await socket.next()).toBe('42/custom,["auth",{}]');
      socket.close();
    });

    it('connect: refuses an unknown namespace', async () => {
      const socket = await connected();
      socket.send('40/random');
      expect(await socket.next()).toBe('44/random,{"message":"Invalid namespace"}');
      socket.close();
    });

    it('connect: closes upon an invalid handshake', async () => {
      const socket = await connected();
      socket.send('4abc');
      expect(await socket.waitClosed()).toBe(4400);
    });

    it('disconnect: leaving the main namespace closes the connection', async () => {
      const socket = await connected();
      socket.send('41');
      expect(await socket.waitClosed()).toBe(1000);
    });

    it('disconnect: connect then disconnect a custom namespace; the main one still works', async () => {
      const socket = await connected();
      socket.send('40/custom');
      await socket.next();
      await socket.next();
      socket.send('41/custom');
      socket.send('42["message","message to main namespace"]');
      expect(await socket.next()).toBe('42["message-back","message to main namespace"]');
      socket.close();
    });

    it('message: a plain-text packet, and one with an ack', async () => {
      const socket = await connected();
      socket.send('42["message",1,"2",{"3":[true]}]');
      expect(await socket.next()).toBe('42["message-back",1,"2",{"3":[true]}]');
      socket.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      expect(await socket.next()).toBe('43456[1,"2",{"3":[false]}]');
      socket.close();
    });

    it('message: binary attachments (each framed with the packet type byte 4), with and without an ack', async () => {
      const socket = await connected();
      socket.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      socket.send(bytes(4, 1, 2, 3));
      socket.send(bytes(4, 4, 5, 6));
      expect(await socket.next()).toBe('452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      expect(await socket.next()).toEqual(bytes(4, 1, 2, 3));
      expect(await socket.next()).toEqual(bytes(4, 4, 5, 6));
      socket.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      socket.send(bytes(4, 1, 2, 3));
      socket.send(bytes(4, 4, 5, 6));
      expect(await socket.next()).toBe('462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      expect(await socket.next()).toEqual(bytes(4, 1, 2, 3));
      expect(await socket.next()).toEqual(bytes(4, 4, 5, 6));
      socket.close();
    });

    it.each([
      ['unknown packet type', '4abc'],
      ['invalid payload format', '42{}'],
      ['invalid ack id', '42abc["message-with-ack",1,"2",{"3":[false]}]'],
    ])('message: closes the connection upon invalid format (%s)', async (_name, packet) => {
      const socket = await connected();
      socket.send(packet);
      expect(await socket.waitClosed()).toBe(4400);
    });
  });
});

describe('npm run fixture:socketio (the built script)', () => {
  // What `npm run fixture:socketio` runs (built by `npm run build:fixtures`, part of `npm test`).
  const script = join(ROOT, '.fixtures-build', 'test', 'fixtures', 'socketio-fixture.js');

  it('starts on the given port and serves the OPEN packet', async () => {
    if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build:fixtures" before this test`);
    const child = spawn(process.execPath, [script, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let output = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
          const line = output.split('\n').find((candidate) => candidate.includes('socket.io fixture ready'));
          if (line) resolve((JSON.parse(line) as { port: number }).port);
        });
        child.once('exit', (code) => reject(new Error(`fixture exited (${code}) before it was ready: ${output}`)));
      });
      const socket = await RawEngineSocket.open(port, '/socket.io/');
      expectOpenPacket(await socket.next());
      socket.close();
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
