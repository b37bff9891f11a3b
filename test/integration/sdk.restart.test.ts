import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SwitchyardClient } from '../../packages/client/src/index.js';
import { nextEvent, recordLifecycle } from '../../packages/client/test/events.js';
import { MAIN, removeTempDataDirs, ROOT, runCli, spawnGateway, tempDataDir, type ChildGateway } from '../helpers/child-gateway.js';

/** `switchyard users add ... --password-stdin` of the built CLI, the password on its standard input. */
function addUser(dataDir: string, organisation: string, username: string, password: string): Promise<number | null> {
  const child = spawn(process.execPath, [MAIN, 'users', 'add', '--data', dataDir, '--org', organisation, '--username', username, '--password-stdin'], {
    cwd: ROOT,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.stdin.end(`${password}\n`);
  return new Promise((resolve) => child.once('close', resolve));
}

/**
 * The gateway process is killed (kill -9) under a signed-in SDK client and started again on
 * the same data dir: the client keeps retrying with backoff, comes back to the new
 * process, and says honestly that its session is new (`restarted`, with the rooms it lost),
 * signs in again with the token it logged in with, and works. The built gateway runs
 * (`node dist/main.js`, child-gateway.ts): `npm test` builds it first.
 */
describe('the SDK across a gateway restart', { timeout: 120_000 }, () => {
  const children: ChildGateway[] = [];
  let client: SwitchyardClient | undefined;

  afterEach(async () => {
    await client?.close();
    for (const child of children.splice(0)) await child.dispose();
  });
  afterAll(() => removeTempDataDirs());

  it('reconnects to the restarted process, reports restarted {reason, rooms} and signs in again', async () => {
    const dataDir = tempDataDir();
    // The user exists in the log before the process under test starts (the operator's CLI made it).
    const ada = { username: 'ada', password: 'correct horse battery staple' };
    expect((await runCli(['orgs', 'add', 'restart-org', '--data', dataDir])).code).toBe(0);
    expect(await addUser(dataDir, 'restart-org', ada.username, ada.password)).toBe(0);

    const first = await spawnGateway({ dataDir });
    children.push(first);
    // Asked before every attempt: where the gateway is now. The restarted process listens on a
    // new port (the old one lingers in TIME_WAIT after a kill), as a restarted node behind a
    // load balancer would be somewhere new.
    let current = first;
    client = new SwitchyardClient({ url: () => current.wsUrl(), WebSocket, reconnect: { baseMs: 50, maxMs: 500 } });
    const lifecycle = recordLifecycle(client);
    await client.connect();
    await client.request('login', ada, { timeoutMs: 60_000 });
    await client.request('room-create-request', { room: 'before-restart' });
    const peerBefore = client.peerId;
    const offeredResume = client.resumable;

    const cut = nextEvent(client, 'closed');
    first.child.kill('SIGKILL');
    await first.waitExit();
    expect(await cut).toEqual({ code: 1006, reason: '', willReconnect: true });
    // Down: attempts are refused and retried.
    await nextEvent(client, 'reconnecting', ({ attempt }) => attempt === 2);

    const restarted = nextEvent(client, 'restarted');
    const reopened = nextEvent(client, 'open');
    const second = await spawnGateway({ dataDir });
    children.push(second);
    current = second;
    // A gateway that offers resume tells a token of its former process apart (`restarted`);
    // one that offers none leaves the SDK to say it could not resume (`unsupported`).
    expect(await restarted).toEqual({ reason: offeredResume ? 'restarted' : 'unsupported', rooms: ['before-restart'] });
    expect(await reopened).toMatchObject({ resumed: false });
    expect(client.peerId).not.toBe(peerBefore);
    expect(client.joinedRooms.size).toBe(0);

    // Signed in again (with the login's token) before the app got the session: user commands work.
    expect(lifecycle.some((event) => event.name === 'auth-failed')).toBe(false);
    const organisations = await client.command('admin_organisation_read', {});
    expect(organisations.status).toBe(200);
    // And the room can be made again: the old one closed with the old process.
    expect(await client.request('room-create-request', { room: 'before-restart' })).toMatchObject({ event: 'room-create-accept' });
  });
});
