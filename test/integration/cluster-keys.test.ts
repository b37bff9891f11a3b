import { sign, verify } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, SecretBox, loadOrCreateMasterKey } from '../../src/auth/index.js';
import { KEYS_BUCKET, shareKeyFiles, type SharedKeyFiles } from '../../src/cluster/index.js';
import { openBucket } from '../../src/cluster/kv-buckets.js';
import { connectCluster } from '../../src/cluster/nats.js';
import { ServerRsaKey } from '../../src/modules/sync/rsa.js';
import { deferred, until } from '../helpers/conditions.js';
import { skipWithoutNats, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Key files shared through KV against a real three-server NATS cluster: three data dirs,
 * three nodes starting at once, each with the gateway's own load-or-generate functions.
 */

interface Logged {
  level: 'info' | 'warn';
  details: Record<string, unknown>;
  message: string;
}

/** What the gateway would make on a first start (identity, grid, sync). */
function generateLikeTheGateway(dataDir: string): () => void {
  return () => {
    new KeyRing(dataDir).loadOrCreate(Date.now());
    SecretBox.open(dataDir);
    loadOrCreateMasterKey(dataDir);
    ServerRsaKey.loadOrCreate(dataDir);
  };
}

/** Every file under keys/ by relative path, with its bytes; asserts 0600 files in 0700 directories. */
function keyFiles(dataDir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (relative: string) => {
    const absolute = join(dataDir, relative);
    expect(statSync(absolute).mode & 0o777, `${absolute} is 0700`).toBe(0o700);
    for (const item of readdirSync(absolute, { withFileTypes: true })) {
      const path = `${relative}/${item.name}`;
      if (item.isDirectory()) walk(path);
      else {
        expect(statSync(join(dataDir, path)).mode & 0o777, `${path} is 0600`).toBe(0o600);
        files.set(path, readFileSync(join(dataDir, path)).toString('base64'));
      }
    }
  };
  walk('keys');
  return files;
}

describe.skipIf(skipWithoutNats())('cluster key files (3 NATS servers)', () => {
  let cluster: NatsCluster;
  let dir: ReturnType<typeof tempDir>;
  const connections: NatsConnection[] = [];
  const handles: SharedKeyFiles[] = [];
  const logs: Logged[][] = [];

  const connectTo = async (server: number, name: string): Promise<NatsConnection> => {
    const connection = await connectCluster({ servers: [cluster.urls[server]!], user: cluster.user, password: cluster.password, name }, { info: () => {}, warn: () => {} });
    connections.push(connection);
    return connection;
  };
  const startNode = async (server: number, name: string, generate?: (dataDir: string) => () => Promise<void>): Promise<{ handle: SharedKeyFiles; dataDir: string; logged: Logged[] }> => {
    const dataDir = join(dir.path, name);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const logged: Logged[] = [];
    logs.push(logged);
    const logger = {
      info: (details: Record<string, unknown>, message: string) => logged.push({ level: 'info', details, message }),
      warn: (details: Record<string, unknown>, message: string) => logged.push({ level: 'warn', details, message }),
    };
    const handle = await shareKeyFiles(await connectTo(server, name), dataDir, { replicas: 3, node: name, generate: generate ? generate(dataDir) : generateLikeTheGateway(dataDir), localScanMs: 0, logger });
    handles.push(handle);
    return { handle, dataDir, logged };
  };

  beforeAll(async () => {
    dir = tempDir('switchyard-cluster-keys-');
    cluster = await startNatsCluster(dir.path, 3);
  }, 60_000);

  afterAll(async () => {
    for (const handle of handles) await handle.close();
    for (const connection of connections) await connection.close().catch(() => undefined);
    await cluster?.stop();
    dir?.remove();
  });

  it('gives three nodes started at once byte-identical key files, and carries a rotation to the others', async () => {
    // A gate in generate() holds each node until all three have found the bucket empty and made
    // keys of their own: then all three race to seed it, however the starts are scheduled.
    const allGenerated = deferred();
    let generated = 0;
    const gated = (dataDir: string) => async () => {
      generateLikeTheGateway(dataDir)();
      if (++generated === 3) allGenerated.resolve();
      await allGenerated.promise;
    };
    const nodes = await Promise.all([startNode(0, 'node-1', gated), startNode(1, 'node-2', gated), startNode(2, 'node-3', gated)]);
    expect(generated).toBe(3);
    // Each loser took the winner's four files (three over its own of the same name) and removed the signing key it made.
    for (const loser of nodes.filter((node) => !node.handle.seeded)) expect(loser.handle.stats()).toMatchObject({ written: 4, replaced: 3, removed: 1 });

    expect(nodes.filter((node) => node.handle.seeded)).toHaveLength(1);
    const [first, second, third] = nodes.map((node) => keyFiles(node.dataDir));
    expect([...first!.keys()].filter((path) => path.startsWith('keys/signing/'))).toHaveLength(1);
    expect([...first!.keys()].filter((path) => !path.startsWith('keys/signing/')).sort()).toEqual(['keys/grid-master.key', 'keys/secrets.key', 'keys/sync-rsa.pem']);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    // The losers' own fresh keys were taken back without a warning: nothing was in use yet.
    for (const node of nodes) expect(node.logged.filter((entry) => entry.level === 'warn')).toEqual([]);

    // A token signed on one node verifies on another: same key ring, same kid.
    const ringOne = new KeyRing(nodes[0]!.dataDir);
    const ringThree = new KeyRing(nodes[2]!.dataDir);
    ringOne.reload();
    ringThree.reload();
    const signature = sign(null, Buffer.from('claims'), ringOne.active().privateKey);
    expect(verify(null, Buffer.from('claims'), ringThree.verifying(ringOne.active().kid, Date.now())!.publicKey, signature)).toBe(true);

    // `switchyard keys rotate` on node 2: a new key file, the old one rewritten as retired.
    const rotated = new KeyRing(nodes[1]!.dataDir).rotate(Date.now(), 3600);
    const publishedPaths = await nodes[1]!.handle.publishLocalChanges();
    expect([...publishedPaths].sort()).toEqual([`keys/signing/${rotated.kid}.json`, `keys/signing/${rotated.retired[0]}.json`].sort());
    const rotatedFiles = keyFiles(nodes[1]!.dataDir);
    expect(rotatedFiles.size).toBe(first!.size + 1);
    // The new key and the rewritten retired one, byte for byte on every node.
    await until(() => nodes.every((node) => JSON.stringify([...keyFiles(node.dataDir)]) === JSON.stringify([...rotatedFiles])), 'every node holds the rotated set');
    // A running gateway's KeyRing notices the new files and signs with the new key.
    expect(ringThree.reloadIfChanged()).toBe(true);
    expect(ringThree.active().kid).toBe(rotated.kid);
    expect(ringThree.verifying(rotated.retired[0]!, Date.now())).toBeDefined();
    // Nothing echoes back: the files written from the cluster are not published again.
    expect(await nodes[0]!.handle.publishLocalChanges()).toEqual([]);
    expect(await nodes[2]!.handle.publishLocalChanges()).toEqual([]);
  });

  it('replaces a differing local file with a warning, and writes nothing outside keys/', async () => {
    const dataDir = join(dir.path, 'node-4');
    mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'keys', 'secrets.key'), Buffer.alloc(32, 7).toString('base64'), { mode: 0o644 });
    const { handle, logged } = await startNode(0, 'node-4');
    const reference = keyFiles(join(dir.path, 'node-1'));
    expect(keyFiles(dataDir)).toEqual(reference);
    expect(logged).toContainEqual(expect.objectContaining({ level: 'warn', message: 'local key file differed from the cluster and was replaced' }));
    expect(handle.stats()).toMatchObject({ replaced: 1, published: 0 });
    expect(handle.seeded).toBe(false);

    // Any cluster member can write the bucket; only safe names under keys/ are written. (A `..`
    // segment cannot even be a KV key: `keys/../x` is an empty subject token, refused by NATS.)
    const raw = await new Kvm(connections[0]!).open(KEYS_BUCKET);
    await raw.put('keys/.hidden', 'x');
    await raw.put('elsewhere/file', 'x');
    await raw.put('keys/late.key', 'late');
    await until(() => existsSync(join(dataDir, 'keys', 'late.key')), 'a key file added in the cluster arrives');
    expect(existsSync(join(dataDir, 'keys', '.hidden'))).toBe(false);
    expect(existsSync(join(dataDir, 'elsewhere'))).toBe(false);
    expect(statSync(join(dataDir, 'keys', 'late.key')).mode & 0o777).toBe(0o600);

    // A delete in the cluster is mirrored.
    await raw.delete('keys/late.key');
    await until(() => !existsSync(join(dataDir, 'keys', 'late.key')), 'a key file deleted in the cluster goes here too');
  });

  it('finishes a seed whose seeder died before putting its files, and never brings back a file deleted since', async () => {
    // A NATS server of its own: this needs an empty bucket.
    const single = await startNatsCluster(join(dir.path, 'single'), 1);
    const local: NatsConnection[] = [];
    const connect = async (name: string) => {
      const connection = await connectCluster({ servers: single.urls, user: single.user, password: single.password, name }, { info: () => {}, warn: () => {} });
      local.push(connection);
      return connection;
    };
    const opened: SharedKeyFiles[] = [];
    try {
      // What a seeder leaves when killed right after its create of `seed`: the seed, no file keys.
      const seederDir = join(dir.path, 'dead-seeder');
      generateLikeTheGateway(seederDir)();
      const files = Object.fromEntries([...keyFiles(seederDir)].map(([path, base64]) => [path, base64]));
      const kv = await openBucket(await connect('dead-seeder'), KEYS_BUCKET, { replicas: 1, history: 5, allow_direct: false });
      await kv.create('seed', JSON.stringify({ node: 'dead-seeder', nonce: 'n', at: Date.now(), files, complete: false }));

      const join1 = join(dir.path, 'joiner-1');
      const never = () => {
        throw new Error('a node that finds a seed never generates');
      };
      opened.push(await shareKeyFiles(await connect('joiner-1'), join1, { node: 'joiner-1', generate: never, localScanMs: 0 }));
      expect(keyFiles(join1)).toEqual(keyFiles(seederDir));
      expect((await kv.get('seed'))!.json<{ complete: boolean }>().complete).toBe(true);

      // The RSA key deleted in the cluster (pruned): a later node does not get it from the old seed.
      await kv.delete('keys/sync-rsa.pem');
      await until(() => !existsSync(join(join1, 'keys', 'sync-rsa.pem')), 'the deletion reaches the running node');
      const join2 = join(dir.path, 'joiner-2');
      opened.push(await shareKeyFiles(await connect('joiner-2'), join2, { node: 'joiner-2', generate: never, localScanMs: 0 }));
      expect([...keyFiles(join2).keys()]).not.toContain('keys/sync-rsa.pem');
      expect(keyFiles(join2)).toEqual(keyFiles(join1));
    } finally {
      for (const handle of opened) await handle.close();
      for (const connection of local) await connection.close();
      await single.stop();
    }
  });
});
