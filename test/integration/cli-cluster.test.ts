import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenGenerator } from '@4players/odin-tokens';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { openOperatorContext } from '../../src/cli/context.js';
import { AppError } from '../../src/core/errors.js';
import { MAIN, ROOT, readLogDirect, removeTempDataDirs, runCli, tempDataDir, waitFor, type ChildGateway, type CliResult } from '../helpers/child-gateway.js';
import { appTokenOf, clusterLogs, connectPeerTo, replayOf, rpcTo, startClusterGateways, type ClusterGateways } from '../helpers/cluster-gateways.js';
import { ask } from '../helpers/identity.js';
import { skipWithoutNats } from '../helpers/nats-cluster.js';
import { gridOverrides } from '../helpers/odin.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Issue 13: the operator CLI on a cluster node writes to the cluster's log, not to the node's
 * mirror. Two gateway nodes (the built dist/main.js) on three NATS servers; the commands are
 * the built CLI run against node A's data dir with the cluster's config in the environment,
 * as an operator would run them there. What they make works on node B; with NATS gone they
 * refuse with one line and leave the log as it was. Run `npm run build` first.
 */

/** A hang guard for a CLI that connects to NATS and hashes a password on a loaded 2-core machine. */
const CLI_GUARD_MS = 60_000;

/**
 * `node dist/main.js <args>` with `input` on standard input (child-gateway.ts `runCli` has no
 * stdin, and `users add` reads the password there), in an environment without the caller's
 * SWITCHYARD_* variables, plus `env`.
 */
function runCliWithInput(args: string[], env: Record<string, string>, input = ''): Promise<CliResult> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHYARD_')));
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input);
  const guard = setTimeout(() => child.kill('SIGKILL'), CLI_GUARD_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe.skipIf(skipWithoutNats())('the operator CLI on a cluster node (issue 13)', { timeout: 180_000 }, () => {
  let cluster: ClusterGateways;
  let a: ChildGateway;
  let b: ChildGateway;
  /** A command run as an operator would on node A (or `node`): its data dir, the cluster's config. */
  const cliOn = (node: ChildGateway, args: string[], input?: string, env: Record<string, string> = {}) =>
    runCliWithInput([...args, '--data', node.dataDir], { ...cluster.env, ...env }, input);
  /** `node`'s copy of the log holds an event of `type` whose data passes `where` (polled: another process ingests it). */
  const inLogOf = (node: ChildGateway, type: string, where: (data: Record<string, unknown>) => boolean) =>
    waitFor(
      () => readLogDirect(node.dataDir).some((event) => event.type === type && where(event.data)),
      (found) => found,
      CLI_GUARD_MS,
      `${type} in ${node.dataDir}`,
    );

  beforeAll(async () => {
    // The room API is on: a customer's access key is what it checks.
    cluster = await startClusterGateways({ nodes: 2, config: gridOverrides([], { sfuReportIntervalSeconds: '3600' }) });
    [a, b] = cluster.nodes as [ChildGateway, ChildGateway];
  }, 120_000);

  afterAll(async () => {
    await cluster?.dispose();
    removeTempDataDirs();
  });

  it('users add on node A makes a user who signs in with the password on node B; the nodes keep one log', async () => {
    const org = await cliOn(a, ['orgs', 'add', 'Cluster Co', '--json']);
    expect(org.stderr).toBe('');
    expect(org.code).toBe(0);
    const { organisationId } = JSON.parse(org.stdout) as { organisationId: string };

    const added = await cliOn(a, ['users', 'add', '--org', organisationId, '--username', 'ada', '--password-stdin', '--json'], 'ada-cluster-password\n');
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const { userId } = JSON.parse(added.stdout) as { userId: string };
    // Answered once JetStream acknowledged it and A's mirror ingested it: A's log has it now.
    expect(readLogDirect(a.dataDir).filter((event) => event.data.userId === userId).map((event) => event.type)).toContain('UserRegistered');

    // Its last event: joining its organisation's `members` group.
    await inLogOf(b, 'UserAddedToGroup', (data) => data.userId === userId);
    const client = await TestClient.open(b.wsUrl());
    try {
      await client.next('welcome');
      const signedIn = await ask(client, 'login', { username: 'ada', password: 'ada-cluster-password' });
      expect(signedIn).toMatchObject({ event: 'authorized', data: { userId } });
      const { token } = signedIn.data as { token: string };
      expect(await ask(client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized', data: { userId, organisationId } });
    } finally {
      client.close();
    }

    // A read-only listing on B reads B's mirror, which holds what was made through A.
    const listed = await cliOn(b, ['users', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`"userId":"${userId}"`);

    // The CLI's appends did not fork A's mirror: both nodes hold the same events at the same
    // positions, and A's read models (ingested by the CLI and the gateway in turn) replay equal.
    const [logOfA, logOfB] = await clusterLogs([a, b]);
    expect(logOfA!.some((event) => event.data.userId === userId)).toBe(true);
    expect(logOfB).toEqual(logOfA);
    const replay = await replayOf(a);
    expect(replay.tables.filter((table) => table.differences > 0)).toEqual([]);
    expect(replay.equal).toBe(true);
  });

  it("customers add on node A: node B's room API accepts the customer's access key", async () => {
    const added = await cliOn(a, ['customers', 'add', '--id', 'cluster-customer', '--max-peers', '10', '--max-rooms', '1', '--json']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const { accessKey, keyId } = JSON.parse(added.stdout) as { accessKey: string; keyId: string };

    await inLogOf(b, 'CustomerKeyAdded', (data) => data.keyId === keyId);
    const token = new TokenGenerator(accessKey).createToken('no-such-room', 'u1', { audience: 'gateway', subject: ['roomclose'] });
    // A key B knows passes the door (401 for an unknown key); the room is simply not there.
    const answer = await rpcTo(b, `Bearer ${token}`, 'RoomClose', { room_id: 'no-such-room' });
    expect(answer.status).toBe(200);
    expect(answer.body.error).toMatchObject({ code: -32004 });

    const listed = await cliOn(b, ['customers', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout.trim())).toMatchObject({ customerId: 'cluster-customer', maxPeers: 10, maxRooms: 1, keyIds: [keyId] });
  });

  it("keys rotate on node A's data dir while its gateway is down reaches node B, and A restarts signing with the new key", async () => {
    // Without A's gateway nothing else on A shares the rotated files: the command itself must.
    await cluster.kill9(0);
    const rotated = await cliOn(a, ['keys', 'rotate', '--json']);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const { kid, retired } = JSON.parse(rotated.stdout) as { kid: string; retired: string[] };
    expect(retired.length).toBeGreaterThan(0);
    const signingFile = (node: ChildGateway, keyId: string) => join(node.dataDir, 'keys', 'signing', `${keyId}.json`);
    await waitFor(() => existsSync(signingFile(b, kid)), (found) => found, CLI_GUARD_MS, `${kid} on node B`);
    // The retirement travelled too: B no longer signs with the old key.
    await waitFor(
      () => retired.every((old) => (JSON.parse(readFileSync(signingFile(b, old), 'utf8')) as { retiredAt: number | null }).retiredAt !== null),
      (done) => done,
      CLI_GUARD_MS,
      'the retired keys retired on node B',
    );

    // A's start takes the cluster's key files, which are now the rotated ones.
    a = await cluster.restart(0);
    const token = await appTokenOf(a);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string };
    expect(header.kid).toBe(kid);
    const peer = await connectPeerTo(b, token);
    peer.client.close();
    expect(peer.sessionToken.split('.')).toHaveLength(3);
  });

  it('wrong cluster credentials: one UNAUTHORIZED line, exit 1, nothing written', async () => {
    const head = readLogDirect(a.dataDir).at(-1)?.position ?? 0;
    const refused = await cliOn(a, ['orgs', 'add', 'Never Made'], undefined, { SWITCHYARD_CLUSTER_PASSWORD: 'not-the-cluster-password' });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^UNAUTHORIZED: NATS at nats:\/\/127\.0\.0\.1:\d+.* refused the cluster credentials .*\n$/);
    expect(refused.stderr).not.toContain('not-the-cluster-password');
    // The node's gateway goes on appending its own events (it just restarted); none is the command's.
    const since = readLogDirect(a.dataDir).filter((event) => event.position > head);
    expect(since.filter((event) => event.type.startsWith('Organisation'))).toEqual([]);
  });

  it('the NATS cluster down: one UNAVAILABLE line, exit 1, and the log is unchanged', async () => {
    await Promise.all(cluster.nats.servers.map((_, index) => cluster.nats.kill(index)));
    const before = readLogDirect(a.dataDir);
    const refused = await cliOn(a, ['users', 'add', '--org', 'Cluster Co', '--username', 'bob', '--password-stdin'], 'bob-cluster-password\n');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    // One line, with the stable code: no stack trace, no half-done output.
    expect(refused.stderr).toMatch(/^UNAVAILABLE: the cluster is unreachable: no NATS server at nats:\/\/127\.0\.0\.1:\d+.* answered within 5 s .*nothing was written\n$/);
    // Unchanged but for what the gateway may still have ingested from before the outage: no user bob.
    const after = readLogDirect(a.dataDir);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.filter((event) => event.data.username === 'bob')).toEqual([]);
    // A listing needs no NATS: it reads the node's mirror.
    const listed = await cliOn(a, ['orgs', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('"name":"Cluster Co"');
  });
});

describe('a cluster config, before any NATS is asked', () => {
  afterAll(() => removeTempDataDirs());
  // Nothing listens on port 1: these must not even try to connect.
  const env = { SWITCHYARD_CLUSTER: 'nats://127.0.0.1:1' };

  it('the synchronous single-node opening refuses it (BAD_REQUEST) instead of writing into the mirror', () => {
    const dataDir = tempDataDir();
    const open = () => openOperatorContext(loadConfig({ flags: { data: dataDir }, env }));
    expect(open).toThrow(AppError);
    expect(open).toThrow(/is a cluster node's mirror: operator commands append through the cluster/);
    expect(existsSync(join(dataDir, 'switchyard.db'))).toBe(false);
  });

  it('a listing on a data dir without a mirror: one NOT_FOUND line, exit 1, no file made', async () => {
    const dataDir = tempDataDir();
    const listed = await runCli(['users', 'list', '--data', dataDir], { env });
    expect(listed.code).toBe(1);
    expect(listed.stdout).toBe('');
    expect(listed.stderr).toBe(`NOT_FOUND: no mirror of the cluster's log at ${join(dataDir, 'switchyard.db')}: start this node once (switchyard start --cluster ...)\n`);
    expect(existsSync(join(dataDir, 'switchyard.db'))).toBe(false);
  });
});
