import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ITEM_TYPES } from '../../src/protocol/topics/itineraries.js';
import { readLogDirect, removeTempDataDirs, runCli, tempDataDir } from '../helpers/child-gateway.js';
import { command, responseOf } from '../helpers/extream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { login } from '../helpers/identity.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * `switchyard demo-data` (issue 9) as the built CLI runs it: on a data dir no server has
 * touched, then beside a running gateway. The users it prints sign in, their roles are set,
 * the itineraries hold every item type, a second run is refused, and replay agrees.
 */

interface SeededUser {
  username: string;
  password: string;
  userId: string;
  role: string;
  user_type: string;
  groups: string[];
}

interface Seeded {
  organisation: { id: string; name: string };
  event: { id: string };
  workshop: { id: string; parent: string };
  itineraries: { id: string; items: { type: string }[] }[];
  users: SeededUser[];
}

/** Seeding hashes eight passwords (scrypt, 128 MiB each): a generous bound for a loaded machine. */
const CLI_TIMEOUT_MS = 120_000;

async function signedIn(server: TestGateway, user: { username: string; password: string }): Promise<TestClient> {
  const client = await TestClient.open(server.wsUrl());
  await client.next('welcome');
  const answer = await login(client, user);
  expect(answer.event, `${user.username} signs in`).toBe('authorized');
  return client;
}

/** The users table of the human output: the rows between the dashes and the next blank line. */
function usersTable(stdout: string): { username: string; password: string; userType: string }[] {
  const lines = stdout.split('\n');
  const header = lines.findIndex((line) => line.startsWith('USERNAME'));
  const rows = [];
  for (const line of lines.slice(header + 2)) {
    if (line.trim() === '') break;
    const [username = '', password = '', , userType = ''] = line.split(/\s+/);
    rows.push({ username, password, userType });
  }
  return rows;
}

describe('switchyard demo-data', () => {
  let dataDir: string;
  let seeded: Seeded;
  let eventsAfterFirstRun: number;

  beforeAll(async () => {
    dataDir = tempDataDir();
    const result = await runCli(['demo-data', '--data', dataDir, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    seeded = JSON.parse(result.stdout) as Seeded;
    eventsAfterFirstRun = readLogDirect(dataDir).length;
  }, CLI_TIMEOUT_MS + 10_000);

  afterAll(() => removeTempDataDirs());

  it('replay agrees on a log only the CLI has written (no server has made the async read models yet)', async () => {
    const result = await runCli(['replay', '--data', dataDir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('seeds an organisation, eight users with strong passwords, a nested event and an item of every type, all as the operator', () => {
    expect(seeded.organisation.name).toBe('Switchyard Demo');
    expect(seeded.workshop.parent).toBe(seeded.event.id);
    expect(seeded.users.map((user) => user.user_type).sort()).toEqual(['actor', 'actor', 'audience', 'audience', 'audience', 'chief', 'crew', 'crew']);
    const passwords = seeded.users.map((user) => user.password);
    expect(new Set(passwords).size).toBe(passwords.length);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(seeded.itineraries).toHaveLength(2);
    const types = new Set(seeded.itineraries.flatMap((itinerary) => itinerary.items.map((item) => item.type)));
    expect([...types].sort()).toEqual([...ITEM_TYPES].sort());
    const log = readLogDirect(dataDir);
    expect(new Set(log.map((event) => event.metadata.actor))).toEqual(new Set(['operator']));
    // Never in clear: the log holds only their hashes.
    const text = JSON.stringify(log);
    for (const password of passwords) expect(text).not.toContain(password);
  });

  it('refuses a second run under the same name with a clear message, exit 1, and appends nothing', async () => {
    const result = await runCli(['demo-data', '--data', dataDir], { timeoutMs: CLI_TIMEOUT_MS });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`CONFLICT: organisation name "Switchyard Demo" is taken by organisation ${seeded.organisation.id}`);
    expect(result.stderr).toContain('--name NAME');
    expect(readLogDirect(dataDir)).toHaveLength(eventsAfterFirstRun);
  });

  it('refuses a bad --start as a usage error (exit 2) before touching the log', async () => {
    const result = await runCli(['demo-data', '--data', dataDir, '--start', '2026-02-30']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--start must be a date YYYY-MM-DD');
    expect(readLogDirect(dataDir)).toHaveLength(eventsAfterFirstRun);
  });

  describe('on a gateway started on that data dir', () => {
    let server: TestGateway;
    const clients: TestClient[] = [];

    beforeAll(async () => {
      server = await startTestGateway({}, dataDir);
    });
    afterAll(async () => {
      for (const client of clients) client.close();
      await server?.close();
    });

    it('every printed user signs in, and consumer_event_get answers each one its user_type', async () => {
      for (const user of seeded.users) {
        const client = await signedIn(server, user);
        clients.push(client);
        const answers = await command(client, 'consumer_event_get', { id: seeded.event.id });
        expect(responseOf<{ user_type: string }>(answers).user_type, user.username).toBe(user.user_type);
      }
    }, 120_000);

    it('consumer_itinerary_get {event} returns both days, whose items cover every type', async () => {
      const audience = seeded.users.find((user) => user.user_type === 'audience')!;
      const client = clients[seeded.users.indexOf(audience)]!;
      const answers = await command(client, 'consumer_itinerary_get', { event: seeded.event.id });
      expect(answers.result.data).toMatchObject({ status: 200, meta: { items: 2, requiresLogin: false } });
      const itineraries = responseOf<{ id: string; items: { type: string; configuration: Record<string, unknown> }[] }[]>(answers);
      expect(itineraries.map((itinerary) => itinerary.id).sort()).toEqual(seeded.itineraries.map((itinerary) => itinerary.id).sort());
      const items = itineraries.flatMap((itinerary) => itinerary.items);
      expect([...new Set(items.map((item) => item.type))].sort()).toEqual([...ITEM_TYPES].sort());
      const html = items.find((item) => item.type === 'html')!.configuration.html as string;
      expect(html).toContain('<strong>main stage chat</strong>');
      expect(html).not.toMatch(/<script|onerror|javascript:/);
    });

    it('runs beside the gateway: another --name seeds a second organisation whose users sign in at once', async () => {
      const result = await runCli(['demo-data', '--data', dataDir, '--name', 'Second Demo', '--start', '2030-06-10'], { timeoutMs: CLI_TIMEOUT_MS });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('(public, 2030-06-10T09:00:00.000Z - 2030-06-11T18:00:00.000Z)');
      const rows = usersTable(result.stdout);
      expect(rows).toHaveLength(8);
      expect(rows.every((row) => row.username.endsWith('.second-demo'))).toBe(true);
      const chief = rows.find((row) => row.userType === 'chief')!;
      const client = await signedIn(server, chief);
      clients.push(client);
      const eventId = /^event\s+.*?\s+([0-9a-f-]{36})\s/m.exec(result.stdout)?.[1];
      const answers = await command(client, 'consumer_event_get', { id: eventId });
      expect(answers.result.data).toMatchObject({ status: 200, response: { name: 'Second Demo Days', user_type: 'chief' } });
    }, CLI_TIMEOUT_MS + 30_000);
  });

  it('replay rebuilds read models equal to the live ones', async () => {
    const result = await runCli(['replay', '--data', dataDir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
