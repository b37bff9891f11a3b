import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  logLine,
  readLog,
  readLogDirect,
  removeTempDataDirs,
  runCli,
  spawnGateway,
  tempDataDir,
  waitFor,
  type ChildGateway,
} from '../helpers/child-gateway.js';
import { TestClient } from '../helpers/ws-client.js';

/** The gateway as an operator runs it: a process with signals, exit codes and restarts. */

const running: ChildGateway[] = [];
async function start(...args: Parameters<typeof spawnGateway>): Promise<ChildGateway> {
  const gateway = await spawnGateway(...args);
  running.push(gateway);
  return gateway;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((gateway) => gateway.dispose()));
});
afterAll(removeTempDataDirs);

async function connectAll(gateway: ChildGateway, count: number): Promise<{ client: TestClient; peerId: string }[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const client = await TestClient.open(gateway.wsUrl(), index % 2 === 1 ? { protocols: ['switchyard.v1.msgpack'] } : {});
      const welcome = await client.next('welcome');
      return { client, peerId: (welcome.data as { peer_id: string }).peer_id };
    }),
  );
}

describe('switchyard start as a process', () => {
  it('serves /healthz and /readyz once it logged "gateway ready"', async () => {
    const gateway = await start();
    const ready = await fetch(gateway.url('/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect((await fetch(gateway.url('/healthz'))).status).toBe(200);
  });

  it('on SIGTERM closes every client with 1001, records each close and exits 0', async () => {
    const gateway = await start();
    const clients = await connectAll(gateway, 4);
    for (const { client } of clients) expect(await client.request('ping')).toMatchObject({ event: 'pong' });

    gateway.child.kill('SIGTERM');
    for (const { client } of clients) {
      const closed = await client.waitClosed(10_000);
      expect(closed.code).toBe(1001);
    }
    const exit = await gateway.waitExit(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const messages = gateway.stdout.map(logLine).map((entry) => entry?.msg);
    expect(messages).toContain('shutting down');
    expect(messages).toContain('gateway stopped');

    const log = await readLog(gateway.dataDir);
    for (const { peerId } of clients) {
      const stream = log.filter((event) => event.streamId === `connection-${peerId}`);
      expect(stream.map((event) => event.type)).toEqual(['ConnectionOpened', 'ConnectionClosed']);
      expect(stream[1]!.data).toMatchObject({ connectionId: peerId, code: 1001, unclean: false });
    }
  });

  it('exits 0 on SIGINT too, with no clients', async () => {
    const gateway = await start();
    gateway.child.kill('SIGINT');
    expect(await gateway.waitExit(10_000)).toEqual({ code: 0, signal: null });
  });

  it('after kill -9, the restarted gateway closes the dead connections as unclean, once', async () => {
    const dataDir = tempDataDir();
    const first = await start({ dataDir });
    const clients = await connectAll(first, 3);
    // One of them closed cleanly before the crash: it must not be closed again.
    const [cleanlyClosed, ...open] = clients;
    cleanlyClosed!.client.close();
    await cleanlyClosed!.client.waitClosed();
    // The close is appended after the server sees it: wait until it is in the log.
    await waitFor(
      () => readLogDirect(dataDir),
      (log) => log.some((event) => event.type === 'ConnectionClosed' && event.data.connectionId === cleanlyClosed!.peerId),
      10_000,
      'the clean close in the log',
    );

    first.child.kill('SIGKILL');
    expect(await first.waitExit()).toEqual({ code: null, signal: 'SIGKILL' });
    for (const { client } of open) expect((await client.waitClosed()).code).toBe(1006);

    const second = await start({ dataDir });
    const rebuilt = second.stdout.map(logLine).find((entry) => entry?.msg === 'actors rebuilt from the event log');
    expect(rebuilt).toMatchObject({ uncleanConnections: open.length });
    // Recovery runs before "ready", so the closes are already in the log.
    const log = await readLog(dataDir);
    for (const { peerId } of open) {
      const stream = log.filter((event) => event.streamId === `connection-${peerId}`);
      expect(stream.map((event) => event.type)).toEqual(['ConnectionOpened', 'ConnectionClosed']);
      expect(stream[1]!.data).toMatchObject({ code: 1006, reason: 'gateway restarted', unclean: true });
      expect(stream[1]!.metadata).toMatchObject({ actor: 'system' });
    }
    const clean = log.filter((event) => event.streamId === `connection-${cleanlyClosed!.peerId}`);
    expect(clean.map((event) => event.type)).toEqual(['ConnectionOpened', 'ConnectionClosed']);
    expect(clean[1]!.data).toMatchObject({ unclean: false });

    // A clean stop and a third start find nothing left to close.
    second.child.kill('SIGTERM');
    expect((await second.waitExit()).code).toBe(0);
    const third = await start({ dataDir });
    expect(third.stdout.map(logLine).find((entry) => entry?.msg === 'actors rebuilt from the event log')).toMatchObject({
      uncleanConnections: 0,
    });
    expect(await readLog(dataDir)).toHaveLength(log.length);
  }, 60_000); // three starts and two CLI runs: a hang guard for loaded machines
});

describe('uWS native binary check', () => {
  it('refuses to start on the JavaScript fallback shim', async () => {
    const result = await runCli(['start', '--port', '0', '--data', tempDataDir()], { env: { UWS_USE_FALLBACK: '1' } });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stdout + result.stderr).toContain('SWITCHYARD_ALLOW_UWS_FALLBACK');
  });

  it('starts on the shim when SWITCHYARD_ALLOW_UWS_FALLBACK=1, warning about it', async () => {
    const gateway = await start({ env: { UWS_USE_FALLBACK: '1', SWITCHYARD_ALLOW_UWS_FALLBACK: '1' } });
    expect(gateway.port).toBeGreaterThan(0);
    const warning = gateway.stdout.map(logLine).find((entry) => entry?.level === 40);
    expect(String(warning?.msg)).toMatch(/fallback/);
    gateway.child.kill('SIGTERM');
    expect((await gateway.waitExit()).code).toBe(0);
  });

  // The shim lacks header iteration, remote addresses and custom upgrade handlers: the edge
  // serves HTTP through what it has and registers no WebSocket route, so upgrades are refused
  // (never accepted without the Origin check) and the process survives.
  it('on the shim, serves HTTP and refuses WebSocket upgrades without dying', async () => {
    const gateway = await start({ env: { UWS_USE_FALLBACK: '1', SWITCHYARD_ALLOW_UWS_FALLBACK: '1' } });
    expect((await fetch(gateway.url('/readyz'))).status).toBe(200);
    const outcome = await new Promise<string>((resolve) => {
      const socket = new WebSocket(gateway.url('/ws').replace(/^http/, 'ws'));
      socket.once('open', () => resolve('opened'));
      socket.once('unexpected-response', (_request, response) => resolve(`refused ${response.statusCode}`));
      socket.once('error', () => resolve('refused'));
    });
    expect(outcome).toMatch(/^refused/);
    expect(gateway.child.exitCode).toBeNull();
    expect((await fetch(gateway.url('/healthz'))).status).toBe(200);
  });
});

describe('configuration errors', () => {
  it('exit 2 with a message naming the key, from a flag or the environment', async () => {
    const port = await runCli(['start', '--port', 'abc', '--data', tempDataDir()]);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/\bport\b/);
    const env = await runCli(['start', '--port', '0', '--data', tempDataDir()], { env: { SWITCHYARD_MAX_FRAME_BYTES: '12' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('maxFrameBytes');
  });

  it('exit 2 on an unknown flag and on an unknown command', async () => {
    const flag = await runCli(['start', '--no-such-flag']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--no-such-flag');
    const command = await runCli(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('frobnicate');
  });
});
