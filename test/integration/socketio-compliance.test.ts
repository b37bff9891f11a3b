import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketIoRoute } from '../../src/edge/socketio/socketio-route.js';
import { fixtureSocketIoDependencies, startSocketIoFixture, type SocketIoFixture } from '../fixtures/socketio-fixture.js';
import { until } from '../helpers/conditions.js';
import { ROOT } from '../helpers/child-gateway.js';
import { RawEngineSocket, upgradeStatus } from '../helpers/raw-engineio.js';

/**
 * The WebSocket cases of the official suites (socketio/engine.io-protocol and
 * socketio/socket.io-protocol, test-suite/test-suite.js), rewritten against the protocol
 * fixture (test/fixtures/socketio-fixture.ts), which is configured like their reference servers:
 * pingInterval 300, pingTimeout 200, maxPayload 1e6, connectTimeout 1000, namespace `/custom`.
 * HTTP long-polling cases (both paths serve it) and heartbeat timers: socketio-polling.test.ts.
 * Deliberate differences from the suites:
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
/** Takes `count` messages this test does not look at (OPEN, CONNECT answers, `auth`). */
const skip = async (socket: RawEngineSocket, count: number) => {
  for (let taken = 0; taken < count; taken++) await socket.next();
};

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
    });
  }

  describe('Socket.IO revision 5 (/socket.io/, EIO=4)', () => {
    const path = '/socket.io/';

    /** Open, CONNECT to `/`, and take the CONNECT answer and the `auth` echo. */
    async function connected(): Promise<RawEngineSocket> {
      const socket = await open(path);
      await socket.next();
      socket.send('40');
      await skip(socket, 2);
      return socket;
    }

    it.each([4, 3])('handshake (EIO=%i): refuses bad EIO and transport with 400; a polling handshake opens a session', async (version) => {
      for (const query of ['transport=websocket', 'EIO=abc&transport=websocket', `EIO=${version}`, `EIO=${version}&transport=abc`]) {
        expect(await upgradeStatus(port, path, query), query).toBe(400);
      }
      const polling = await fetch(`http://127.0.0.1:${port}${path}?EIO=${version}&transport=polling`);
      expect(polling.status).toBe(200);
      expect(await polling.text()).toMatch(/"upgrades":\["websocket"\]/);
    });

    it('heartbeat: ping/pong and ping timeout', async () => {
      const socket = await open(path, { heartbeat: false });
      await socket.next();
      // Connected first, so that the connect timeout is not what closes the socket.
      socket.send('40');
      await skip(socket, 2);
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

    it.each([
      ['the main namespace', '40', '40', '42["auth",{}]'],
      ['the main namespace with a payload', '40{"token":"123"}', '40', '42["auth",{"token":"123"}]'],
      ['a custom namespace', '40/custom,', '40/custom,', '42/custom,["auth",{}]'],
      ['a custom namespace with a payload', '40/custom,{"token":"abc"}', '40/custom,', '42/custom,["auth",{"token":"abc"}]'],
    ])('connect: to %s; the CONNECT answer carries the sid, the handler\'s `auth` event follows', async (_name, packet, answerPrefix, auth) => {
      const socket = await open(path);
      await socket.next();
      socket.send(packet);
      expect(connectPayloadKeys(await socket.nextText(), answerPrefix)).toEqual(['sid']);
      expect(await socket.next()).toBe(auth);
      socket.close();
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
      await skip(socket, 2);
      socket.send('41');
      expect(await socket.next()).toBe('2');
      socket.close();
    });

    it('disconnect: connect then disconnect a custom namespace; the main one still works', async () => {
      const socket = await connected();
      socket.send('40/custom');
      await skip(socket, 2);
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

    it('message: a plain-text packet with an ack', async () => {
      const socket = await connected();
      socket.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      expect(await socket.next()).toBe('43456[1,"2",{"3":[false]}]');
      socket.close();
    });

    it.each([
      ['', '452-["message",', '452-["message-back",'],
      [' and an ack', '452-789["message-with-ack",', '462-789['],
    ])('message: a packet with binary attachments%s', async (_name, head, answer) => {
      const socket = await connected();
      const placeholders = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]';
      socket.send(head + placeholders);
      socket.send(bytes(1, 2, 3));
      socket.send(bytes(4, 5, 6));
      expect(await socket.next()).toBe(answer + placeholders);
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
      await skip(socket, 3);
      return socket;
    }

    it('handshake: the OPEN packet, then the main namespace is connected without a CONNECT', async () => {
      const socket = await open3();
      expectOpenPacket(await socket.next());
      expect(await socket.next()).toBe('40');
      expect(await socket.next()).toBe('42["auth",{}]');
      socket.close();
    });

    it('heartbeat: the client pings, the server pongs; silence closes the session', async () => {
      const socket = await open3(false);
      await skip(socket, 3);
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
      await skip(socket, 2);
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
      const placeholders = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]';
      for (const [head, answer] of [['452-["message",', '452-["message-back",'], ['452-789["message-with-ack",', '462-789[']]) {
        socket.send(head + placeholders);
        socket.send(bytes(4, 1, 2, 3));
        socket.send(bytes(4, 4, 5, 6));
        expect(await socket.next()).toBe(answer + placeholders);
        expect(await socket.next()).toEqual(bytes(4, 1, 2, 3));
        expect(await socket.next()).toEqual(bytes(4, 4, 5, 6));
      }
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

describe('which sends share a write: the CONNECT answer is written before what its handlers send', () => {
  // The fixture's route functions, as uWS calls them, over a recording sink: what one message
  // callback sends, uWS writes as one TCP write.
  const info = { id: 'peer-1', codec: 'json', transport: 'socket.io', remoteAddress: '127.0.0.1', userAgent: null, origin: null } as const;
  function opened(transport: 'websocket' | 'polling') {
    const route = socketIoRoute(fixtureSocketIoDependencies(), transport);
    const socket = { sent: [] as unknown[], buffered: 0, ended: undefined as number | undefined };
    const sink = { send: (message: unknown) => socket.sent.push(message) && (socket.buffered > 0 ? 0 : 1), end: (code: number) => (socket.ended = code), bufferedAmount: () => socket.buffered };
    const state = route.open(sink, { info, handshake: { version: 4, query: new URLSearchParams() } });
    socket.sent.splice(0);
    const callback = (...texts: string[]) => texts.forEach((text) => route.message(state, new TextEncoder().encode(text).buffer, false));
    return { socket, sent: socket.sent, callback, close: () => route.close(state, 1000, 'test over') };
  }

  it('on a WebSocket, what follows a CONNECT answer in its callback (handler emits, answers to later packets) is written later, in order', async () => {
    const { sent, callback, close } = opened('websocket');
    callback('40', '42["message","x"]');
    expect(sent).toEqual([expect.stringMatching(/^40\{"sid":/)]);
    await until(() => sent.length === 3, 'the held sends written');
    expect(sent.slice(1)).toEqual(['42["auth",{}]', '42["message-back","x"]']);
    close();
  });

  it('held sends that overflow the socket as they are written close it as a slow consumer (4008)', async () => {
    const { socket, callback, close } = opened('websocket');
    callback('40');
    socket.buffered = 32 * 1024 * 1024;
    await until(() => socket.ended !== undefined, 'the socket ended');
    expect([socket.sent.length, socket.ended]).toEqual([2, 4008]);
    close();
  });

  it('on a polling session they are queued at once: one answer to the held GET carries them all', () => {
    const { sent, callback, close } = opened('polling');
    callback('40', '42["message","x"]');
    expect(sent).toEqual([expect.stringMatching(/^40\{"sid":/), '42["auth",{}]', '42["message-back","x"]']);
    close();
  });
});

describe('npm run fixture:socketio (the built script)', () => {
  // What `npm run fixture:socketio` runs (built by `npm run build:fixtures`, part of `npm test`).
  const script = join(ROOT, '.fixtures-build', 'test', 'fixtures', 'socketio-fixture.js');

  it('starts on the given port and serves the OPEN packet on /socket.io/', async () => {
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
