import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsCommand, type EventsOptions } from '../../src/cli/events.js';
import { runCli, startCli, tempDataDir, type LoggedEvent } from '../helpers/child-gateway.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TestClient } from '../helpers/ws-client.js';

/** `switchyard events`, the audit view, on a data dir a running gateway writes. */

const parseJsonLines = (stdout: string): LoggedEvent[] =>
  stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LoggedEvent);

async function connect(server: TestGateway, protocols?: string[]): Promise<{ client: TestClient; peerId: string }> {
  const client = await TestClient.open(server.wsUrl(), protocols ? { protocols } : {});
  const welcome = await client.next('welcome');
  return { client, peerId: (welcome.data as { peer_id: string }).peer_id };
}

/** Waits until the log holds `count` events (closes are appended after the server sees them). */
async function logReaches(server: TestGateway, count: number): Promise<void> {
  while (server.gateway.store.headPosition() < count) await new Promise<void>((resolve) => setTimeout(resolve, 5));
}

describe('switchyard events', () => {
  let dataDir: string;
  let server: TestGateway;
  let stays: { client: TestClient; peerId: string };
  let leaves: { client: TestClient; peerId: string };

  beforeAll(async () => {
    dataDir = tempDataDir();
    server = await startTestGateway({}, dataDir);
    stays = await connect(server, ['switchyard.v1.msgpack']);
    leaves = await connect(server);
    leaves.client.socket.close(1000, 'bye');
    await leaves.client.waitClosed();
    await logReaches(server, 3);
  });
  afterAll(async () => {
    stays.client.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the log as a table', async () => {
    const result = await runCli(['events', '--data', dataDir]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^POSITION\s+RECORDED\s+STREAM\s+VER\s+TYPE\s+ACTOR\s+DATA$/);
    expect(lines[1]).toMatch(/^-+(\s+-+){6}$/);
    const rows = lines.slice(2);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(new RegExp(`^1\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+connection-${escape(stays.peerId)}\\s+1\\s+ConnectionOpened\\s+connection:`));
    expect(rows[1]).toMatch(new RegExp(`^2\\s+.*connection-${escape(leaves.peerId)}\\s+1\\s+ConnectionOpened\\b`));
    expect(rows[2]).toMatch(new RegExp(`^3\\s+.*connection-${escape(leaves.peerId)}\\s+2\\s+ConnectionClosed\\b.*"code":1000,"reason":"bye"`));
  });

  it('prints the log as JSON lines equal to what the gateway stored', async () => {
    const result = await runCli(['events', '--data', dataDir, '--json']);
    expect(result.code).toBe(0);
    const events = parseJsonLines(result.stdout);
    expect(events).toEqual(JSON.parse(JSON.stringify(server.gateway.store.readAll())));
    expect(events.map((event) => [event.position, event.type])).toEqual([
      [1, 'ConnectionOpened'],
      [2, 'ConnectionOpened'],
      [3, 'ConnectionClosed'],
    ]);
    expect(events[0]!.data).toMatchObject({ connectionId: stays.peerId, codec: 'msgpack', transport: 'native' });
  });

  it('filters by --type and by --stream', async () => {
    const byType = await runCli(['events', '--data', dataDir, '--json', '--type', 'ConnectionClosed']);
    expect(parseJsonLines(byType.stdout).map((event) => event.streamId)).toEqual([`connection-${leaves.peerId}`]);
    const byStream = await runCli(['events', '--data', dataDir, '--json', '--stream', `connection-${leaves.peerId}`]);
    expect(parseJsonLines(byStream.stdout).map((event) => [event.version, event.type])).toEqual([
      [1, 'ConnectionOpened'],
      [2, 'ConnectionClosed'],
    ]);
  });

  it('combines filters and pages with --after/--limit (the command in-process)', async () => {
    // The same function the CLI runs, without a process per case.
    const run = async (options: Partial<EventsOptions>) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await eventsCommand({ dataDir, ...options }, { out: (line) => out.push(line), err: (line) => err.push(line) });
      return { code, out, err };
    };
    const table = await run({ type: 'ConnectionClosed' });
    expect(table.out).toHaveLength(3); // header, rule, one row
    expect(await run({ json: true, type: 'NoSuchEvent' })).toEqual({ code: 0, out: [], err: [] });
    expect((await run({ json: true, stream: `connection-${stays.peerId}`, type: 'ConnectionClosed' })).out).toEqual([]);
    const page = await run({ json: true, after: 1, limit: 1 });
    expect(page.out.map((line) => (JSON.parse(line) as LoggedEvent).position)).toEqual([2]);
  });

  it('--follow prints events appended while it runs, and exits 0 on SIGINT', async () => {
    const follow = startCli(['events', '--data', dataDir, '--json', '--follow']);
    try {
      // Everything already in the log comes first.
      await follow.waitForLine((line) => line.includes(`"position":3,`));
      const newcomer = await connect(server);
      const line = await follow.waitForLine((text) => text.includes(newcomer.peerId));
      expect(JSON.parse(line)).toMatchObject({ type: 'ConnectionOpened', streamId: `connection-${newcomer.peerId}` });
      newcomer.client.close();
      await follow.waitForLine((text) => text.includes(newcomer.peerId) && text.includes('ConnectionClosed'));
      follow.child.kill('SIGINT');
      expect(await follow.exited).toEqual({ code: 0, signal: null });
      const positions = follow.lines.filter((text) => text !== '').map((text) => (JSON.parse(text) as LoggedEvent).position);
      expect(positions).toEqual(Array.from({ length: positions.length }, (_, i) => i + 1));
    } finally {
      if (follow.child.exitCode === null) follow.child.kill('SIGKILL');
    }
  });

  it('--follow as a table prints the header once, then new rows', async () => {
    const follow = startCli(['events', '--data', dataDir, '--follow', '--type', 'ConnectionOpened']);
    try {
      await follow.waitForLine((line) => line.startsWith('POSITION'));
      const newcomer = await connect(server);
      await follow.waitForLine((line) => line.includes(`connection-${newcomer.peerId}`));
      follow.child.kill('SIGINT');
      expect((await follow.exited).code).toBe(0);
      expect(follow.lines.filter((line) => line.startsWith('POSITION'))).toHaveLength(1);
      expect(follow.lines.some((line) => line.includes('ConnectionClosed'))).toBe(false);
      newcomer.client.close();
    } finally {
      if (follow.child.exitCode === null) follow.child.kill('SIGKILL');
    }
  });
});

describe('switchyard events on a larger log', () => {
  it('prints every event when the output is far larger than a pipe buffer', async () => {
    const dataDir = tempDataDir();
    const server = await startTestGateway({}, dataDir);
    try {
      const clients = await Promise.all(Array.from({ length: 150 }, () => connect(server)));
      for (const { client } of clients) client.close();
      await Promise.all(clients.map(({ client }) => client.waitClosed()));
      await logReaches(server, 300);
      const json = await runCli(['events', '--data', dataDir, '--json']);
      expect(json.code).toBe(0);
      expect(json.stdout.length).toBeGreaterThan(64 * 1024);
      const events = parseJsonLines(json.stdout);
      expect(events.map((event) => event.position)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      const table = await runCli(['events', '--data', dataDir]);
      expect(table.stdout.trimEnd().split('\n')).toHaveLength(302);
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('switchyard events with bad input', () => {
  it('exits 2 naming the flag for a --after or --limit that is not a whole number', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'switchyard-empty-'));
    try {
      const after = await runCli(['events', '--data', empty, '--after', 'abc']);
      const limit = await runCli(['events', '--data', empty, '--limit', 'abc']);
      expect(after).toMatchObject({ code: 2, stdout: '' });
      expect(after.stderr).toContain('--after');
      expect(limit).toMatchObject({ code: 2, stdout: '' });
      expect(limit.stderr).toContain('--limit');
      expect(limit.stderr).not.toMatch(/SqliteError|\bat /);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('exits 1 and says how to get one when there is no log', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'switchyard-empty-'));
    try {
      const result = await runCli(['events', '--data', empty]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/no event log/);
      expect(result.stdout).toBe('');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

describe('usage (hardening point 9)', () => {
  it('prints usage on --help and -h for every command, without starting or reading anything', async () => {
    for (const args of [['--help'], ['-h'], ['help'], ['start', '--help'], ['events', '--help'], ['replay', '-h'], ['users', 'add', '--help'], ['customers', '--help']]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).toMatch(/^usage: switchyard <command>/);
    }
  });

  it('a bare `switchyard` prints usage and exits 2 instead of starting a server', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no command given/);
    expect(result.stderr).toMatch(/usage: switchyard <command>/);
  });
});
