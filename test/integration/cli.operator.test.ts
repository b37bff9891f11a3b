import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/app/config.js';
import { openOperatorContext } from '../../src/cli/context.js';
import { customersCommand } from '../../src/cli/customers.js';
import { AppError } from '../../src/core/errors.js';
import { CATALOGUED_TYPES, EVENT_CATALOGUE } from '../../src/cli/event-catalogue.js';
import { eventsCommand } from '../../src/cli/events.js';
import { identityCommand } from '../../src/cli/identity.js';
import type { Output } from '../../src/cli/output.js';
import { readLogDirect, removeTempDataDirs, runCli, spawnGateway, tempDataDir, type LoggedEvent } from '../helpers/child-gateway.js';

/**
 * Operator safety (hardening point 9): unknown variables warned, bad origins refused, unique
 * organisation names, list commands, several event types at once, the event catalogue, and
 * usage per command. The commands run in-process where they can (users add reads a password
 * on stdin) and as the built CLI where only a process shows it (exit codes, races).
 */

interface Captured extends Output {
  lines: string[];
  errors: string[];
}

function capture(): Captured {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (line) => lines.push(line), err: (line) => errors.push(line) };
}

const jsonLines = <Row = Record<string, unknown>>(text: string): Row[] =>
  text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Row);

afterAll(() => removeTempDataDirs());

describe('unknown SWITCHYARD_* variables', () => {
  it('an operator command warns by name, with the near miss, and still runs', async () => {
    const dataDir = tempDataDir();
    const result = await runCli(['orgs', 'list', '--data', dataDir], { env: { SWITCHYARD_PROT: '7001', SWITCHYARD_NOT_A_KEY: '1' } });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('switchyard: warning: unknown environment variable SWITCHYARD_PROT is ignored (did you mean SWITCHYARD_PORT?)');
    expect(result.stderr).toContain('switchyard: warning: unknown environment variable SWITCHYARD_NOT_A_KEY is ignored\n');
    expect(result.stdout).toMatch(/^ORGANISATION\s+NAME/);
  });

  it('start warns too, and serves', async () => {
    const gateway = await spawnGateway({ env: { SWITCHYARD_LOGLEVEL: 'debug' } });
    try {
      expect(gateway.stderr.join('\n')).toContain('unknown environment variable SWITCHYARD_LOGLEVEL is ignored (did you mean SWITCHYARD_LOG_LEVEL?)');
    } finally {
      await gateway.dispose();
    }
  });

  it('says nothing when every variable is known', async () => {
    const result = await runCli(['orgs', 'list', '--data', tempDataDir()], { env: { SWITCHYARD_LOG_LEVEL: 'warn' } });
    expect(result.stderr).toBe('');
  });
});

describe('allowedOrigins at start', () => {
  for (const origin of ['https://app.example.com/', 'https://app.example.com/app', 'app.example.com']) {
    it(`refuses ${origin} with exit 2, naming allowedOrigins`, async () => {
      const result = await runCli(['start', '--port', '0', '--data', tempDataDir()], {
        env: { SWITCHYARD_ALLOWED_ORIGINS: `https://ok.example.com,${origin}` },
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`allowedOrigins.1: ${JSON.stringify(origin)} is not an origin`);
      expect(result.stdout).not.toContain('gateway ready');
    });
  }
});

describe('unique organisation names', () => {
  it('three `orgs add acme` at once make one acme; the others are refused with CONFLICT naming it', async () => {
    const dataDir = tempDataDir();
    // A first command creates the log and the keys, so the three race on the name alone.
    expect((await runCli(['orgs', 'list', '--data', dataDir])).code).toBe(0);
    const results = await Promise.all([1, 2, 3].map(() => runCli(['orgs', 'add', 'acme', '--data', dataDir, '--json'])));
    const created = results.filter((result) => result.code === 0);
    expect(created).toHaveLength(1);
    const { organisationId } = JSON.parse(created[0]!.stdout) as { organisationId: string };
    for (const refused of results.filter((result) => result.code !== 0)) {
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim()).toBe(`CONFLICT: organisation name "acme" is taken by organisation ${organisationId}`);
    }
    // Another spelling of the same name is the same name.
    const shouted = await runCli(['orgs', 'add', 'ACME', '--data', dataDir]);
    expect(shouted.code).toBe(1);
    expect(shouted.stderr).toContain(`taken by organisation ${organisationId}`);
    const list = await runCli(['orgs', 'list', '--json', '--data', dataDir]);
    expect(jsonLines(list.stdout)).toEqual([{ organisationId, name: 'acme', groups: 0, users: 0, createdAt: expect.any(Number) }]);
    const log = readLogDirect(dataDir);
    expect(log.filter((event) => event.type === 'OrganisationCreated')).toHaveLength(1);
    expect(log.filter((event) => event.type === 'OrganisationNameClaimed')).toHaveLength(1);
  });
});

describe('unique organisation names, in-process', () => {
  it('two operator processes past the read-model check at once: the log lets one claim commit', async () => {
    const dataDir = tempDataDir();
    const config = loadConfig({ flags: { data: dataDir }, env: {} });
    // Two contexts are two operators: separate actors and connections over one log, so the
    // mailbox of neither serialises them; only the claim stream's expected version does.
    const first = openOperatorContext(config);
    const second = openOperatorContext(config);
    try {
      const outcomes = await Promise.allSettled([first.identity.createOrganisation('Umbrella', 'a'), second.identity.createOrganisation('umbrella', 'b')]);
      const created = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
      expect(created).toHaveLength(1);
      expect(refused).toHaveLength(1);
      const error: unknown = refused[0]!.reason;
      if (!(error instanceof AppError)) throw error;
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toContain(`taken by organisation ${created[0]!.value}`);
      expect(first.identity.directory.organisation(created[0]!.value)).toBeDefined();
      expect(readLogDirect(dataDir).filter((event) => event.type === 'OrganisationCreated')).toHaveLength(1);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('refuses an empty or overlong name with BAD_REQUEST', async () => {
    const context = openOperatorContext(loadConfig({ flags: { data: tempDataDir() }, env: {} }));
    try {
      for (const name of ['  ', 'x'.repeat(129)]) {
        await expect(context.identity.createOrganisation(name, 'test')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      }
    } finally {
      await context.close();
    }
  });
});

describe('list commands, events --type A,B and the catalogue on a populated log', { timeout: 120_000 }, () => {
  let dataDir: string;
  let config: Config;
  let organisationId: string;
  let clientSecret: string;
  let accessKey: string;

  const identity = async (area: string, args: string[], stdin = ''): Promise<Captured> => {
    const output = capture();
    const code = await identityCommand(area, args, config, output, Readable.from([stdin]));
    expect(code, output.errors.join('\n')).toBe(0);
    return output;
  };

  beforeAll(async () => {
    dataDir = tempDataDir();
    config = loadConfig({ flags: { data: dataDir }, env: {} });
    organisationId = (JSON.parse((await identity('orgs', ['add', 'globex', '--json'])).lines[0]!) as { organisationId: string }).organisationId;
    await identity('orgs', ['add', 'initech']);
    await identity('groups', ['add', '--org', 'globex', 'admins']);
    await identity('users', ['add', '--org', 'globex', '--username', 'ada', '--password-stdin', '--group', 'admins'], 'correct horse battery\n');
    await identity('users', ['add', '--org', 'initech', '--username', 'bob', '--password-stdin'], 'another long password\n');
    await identity('users', ['disable', 'bob']);
    const client = JSON.parse((await identity('clients', ['add', '--org', 'globex', '--name', 'web', '--redirect-uri', 'https://app.example/cb', '--json'])).lines[0]!) as {
      clientSecret: string;
    };
    clientSecret = client.clientSecret;
    await identity('clients', ['add', '--org', 'initech', '--name', 'spa', '--public']);
    const customer = capture();
    expect(await customersCommand(['add', '--id', 'acme-games', '--max-peers', '10', '--max-rooms', 'unlimited', '--json'], config, customer)).toBe(0);
    accessKey = (JSON.parse(customer.lines[0]!) as { accessKey: string }).accessKey;
  });

  it('orgs list, as a table and as JSON lines', async () => {
    const table = await runCli(['orgs', 'list', '--data', dataDir]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ORGANISATION\s+NAME\s+GROUPS\s+USERS\s+CREATED$/);
    expect(lines.slice(2).map((line) => line.split(/\s+/).slice(1, 4))).toEqual([
      ['globex', '2', '1'],
      ['initech', '1', '1'],
    ]);
    const json = jsonLines((await runCli(['orgs', 'list', '--json', '--data', dataDir])).stdout);
    expect(json.map((row) => row.name)).toEqual(['globex', 'initech']);
    expect(json[0]).toMatchObject({ organisationId, groups: 2, users: 1 });
  });

  it('users list shows status, MFA and groups, never a password hash; --org narrows it', async () => {
    const all = await identity('users', ['list', '--json']);
    const users = all.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(users).toEqual([
      expect.objectContaining({
        username: 'ada',
        status: 'active',
        mfaEnrolled: false,
        groups: [
          { organisationId, group: 'admins' },
          { organisationId, group: 'members' },
        ],
      }),
      expect.objectContaining({ username: 'bob', status: 'disabled' }),
    ]);
    expect(all.lines.join('\n')).not.toMatch(/scrypt|passwordHash|password/i);
    const globex = await identity('users', ['list', '--org', 'globex']);
    expect(globex.lines[0]).toMatch(/^USER\s+USERNAME\s+STATUS\s+MFA\s+REGISTERED\s+GROUPS$/);
    expect(globex.lines.slice(2)).toHaveLength(1);
    expect(globex.lines[2]).toMatch(/\sada\s+active\s+none\s+\S+\s+globex\/admins globex\/members$/);
  });

  it('groups list and clients list; a client secret is never shown again', async () => {
    const groups = (await identity('groups', ['list', '--json'])).lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(groups.map((group) => [group.name, group.members])).toEqual([
      ['admins', 1],
      ['members', 1],
      ['members', 1],
    ]);
    const clients = await runCli(['clients', 'list', '--data', dataDir]);
    expect(clients.code).toBe(0);
    expect(clients.stdout).toMatch(/^CLIENT\s+ORGANISATION\s+NAME\s+KIND\s+REGISTERED\s+REDIRECT URIS\n/);
    expect(clients.stdout).toMatch(/\sglobex\s+web\s+confidential\s+\S+\s+https:\/\/app\.example\/cb\n/);
    expect(clients.stdout).toMatch(/\sinitech\s+spa\s+public\s/);
    const json = await runCli(['clients', 'list', '--json', '--org', 'initech', '--data', dataDir]);
    expect(jsonLines(json.stdout)).toEqual([expect.objectContaining({ name: 'spa', public: true, redirectUris: [] })]);
    for (const output of [clients.stdout, json.stdout]) {
      expect(output).not.toContain(clientSecret);
      expect(output).not.toMatch(/secret/i);
    }
  });

  it('customers list shows limits and key ids, never the access key', async () => {
    const table = await runCli(['customers', 'list', '--data', dataDir]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^CUSTOMER\s+MAX PEERS\s+MAX ROOMS\s+KEY IDS\n/);
    expect(table.stdout).toMatch(/\nacme-games\s+10\s+unlimited\s+\S+/);
    const json = jsonLines((await runCli(['customers', 'list', '--json', '--data', dataDir])).stdout);
    expect(json).toEqual([{ customerId: 'acme-games', maxPeers: 10, maxRooms: null, keyIds: [expect.any(String)] }]);
    expect(table.stdout + JSON.stringify(json)).not.toContain(accessKey);
  });

  it('a list of an unknown organisation is NOT_FOUND (exit 1); a stray argument is a usage error (exit 2)', async () => {
    const unknown = await runCli(['users', 'list', '--org', 'nobody', '--data', dataDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('NOT_FOUND: no organisation "nobody"');
    const stray = await runCli(['orgs', 'list', 'extra', '--data', dataDir]);
    expect(stray.code).toBe(2);
  });

  it('events --type A,B prints the events of either type, in log order', async () => {
    const result = await runCli(['events', '--data', dataDir, '--json', '--type', 'OrganisationCreated,ClientRegistered']);
    expect(result.code).toBe(0);
    const events = jsonLines<LoggedEvent>(result.stdout);
    expect(events.map((event) => event.type)).toEqual(['OrganisationCreated', 'OrganisationCreated', 'ClientRegistered', 'ClientRegistered']);
    const positions = events.map((event) => event.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // Secrets stay redacted whichever filter picked the event.
    expect(result.stdout).not.toContain(clientSecret);
    expect(result.stdout).toContain('"secretHash":"[redacted]"');
  });

  it('events --type A,B pages and limits across the types (in-process)', async () => {
    const all = readLogDirect(dataDir).filter((event) => event.type === 'UserRegistered' || event.type === 'GroupCreated');
    const run = async (after: number, limit: number) => {
      const output = capture();
      expect(await eventsCommand({ dataDir, json: true, type: ' UserRegistered , GroupCreated,', after, limit }, output)).toBe(0);
      return output.lines.map((line) => (JSON.parse(line) as LoggedEvent).position);
    };
    expect(await run(0, 100)).toEqual(all.map((event) => event.position));
    expect(await run(0, 2)).toEqual(all.slice(0, 2).map((event) => event.position));
    expect(await run(all[1]!.position, 2)).toEqual(all.slice(2, 4).map((event) => event.position));
    const list = capture();
    await eventsCommand({ dataDir, json: true, type: ['UserDisabled', 'CustomerRegistered'] }, list);
    expect(list.lines.map((line) => (JSON.parse(line) as LoggedEvent).type)).toEqual(['UserDisabled', 'CustomerRegistered']);
  });

  it('events --types prints the catalogue, which names every type these flows wrote', async () => {
    const json = await runCli(['events', '--types', '--json']);
    expect(json.code).toBe(0);
    expect(jsonLines(json.stdout)).toEqual(EVENT_CATALOGUE);
    const table = await runCli(['events', '--types']);
    expect(table.stdout).toMatch(/^TYPE\s+STREAM\s+MEANING\n/);
    expect(table.stdout).toMatch(/\nOrganisationNameClaimed\s+organisation_name-<slug>\s+an organisation name was taken/);
    const written = new Set(readLogDirect(dataDir).map((event) => event.type));
    expect(written.size).toBeGreaterThan(6);
    expect([...written].filter((type) => !CATALOGUED_TYPES.has(type))).toEqual([]);
  });
});

describe('usage per command', () => {
  it('`<command> --help` prints that command group only; `--help` and `help` the whole list', async () => {
    const events = await runCli(['events', '--help']);
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/^usage: switchyard <command> \[options\], for <command> = events:/);
    expect(events.stdout).toContain('--types');
    expect(events.stdout).toContain('--type A,B');
    expect(events.stdout).not.toContain('customers add');
    const users = await runCli(['users', 'add', '-h']);
    expect(users.stdout).toContain('users add --org ORG');
    expect(users.stdout).toContain('users list');
    expect(users.stdout).not.toContain('orgs add');
    const orgs = await runCli(['help', 'orgs']);
    expect(orgs.code).toBe(0);
    expect(orgs.stdout).toContain('orgs list [--json]');
    expect(orgs.stdout).not.toContain('users add');
    for (const args of [['--help'], ['help'], ['-h', 'events']]) {
      const global = await runCli(args);
      expect(global.code, args.join(' ')).toBe(0);
      expect(global.stdout, args.join(' ')).toMatch(/^usage: switchyard <command> \[options\]\n\ncommands:\n/);
      for (const group of ['start', 'events', 'replay', 'orgs add', 'orgs list', 'users list', 'groups list', 'clients list', 'customers list', 'keys rotate']) {
        expect(global.stdout, group).toContain(`  ${group}`);
      }
    }
    const start = await runCli(['start', '--help']);
    expect(start.stdout).toMatch(/^usage: switchyard <command> \[options\], for <command> = start:\n\n  start /);
  });
});
