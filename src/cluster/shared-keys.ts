import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { PRIVATE_FILE_MODE, ensurePrivateDirectory } from '../store/index.js';
import { followBucket, isWrongLastSequence, openBucket, type BucketFollower } from './kv-buckets.js';
import type { ClusterLogger } from './nats.js';

/**
 * One identity across the cluster's nodes (PROTOCOL.md section 12): a token signed by any
 * node verifies on every node, MFA seeds sealed on one open on all, and every node derives
 * the same SFU server keys. The gateway keeps that material as files under `<data>/keys/`
 * (the signing key ring `keys/signing/*.json`, `keys/secrets.key`, `keys/grid-master.key`,
 * `keys/sync-rsa.pem`); this shares every file there through the KV bucket `switchyard_keys`,
 * one key per file named by its path relative to the data dir (`keys/secrets.key`).
 *
 * `shareKeyFiles` runs BEFORE the gateway opens the files:
 * - The bucket has files: they are written into the data dir (0600 in 0700 directories, by
 *   write-then-rename); a local file that differs is replaced, with a warning.
 * - It has none: this node may be the first. It makes sure its local files exist (the
 *   caller's `generate`), then races to `create` the key `seed`: one JSON value holding all of
 *   its files, so the race has exactly one winner however many nodes start at once, and a
 *   winner that dies before putting each file leaves everything needed to finish. The winner
 *   (or anyone finding a seed with files missing) `create`s each file's key from the seed.
 *   A loser takes the winner's files and removes the ones its own `generate` just made.
 * - Afterwards a watch keeps the local files in step (another node's rotation), and
 *   `publishLocalChanges` (also every `localScanMs`) puts local changes in KV: `switchyard
 *   keys rotate` on one node writes a new signing key and retires the old; the others write
 *   both and their KeyRing picks them up (`reloadIfChanged`). A change races as a
 *   compare-and-set on the file's last revision: if two nodes change one file at once, one
 *   wins and the other takes its version. Deletes in KV are mirrored; a local delete is not
 *   (the file comes back at the next start).
 *
 * Why a `generate` callback rather than calling the load-or-generate functions here: those
 * belong to the modules that own each file (identity, grid, sync), with their own refusals
 * (the KeyRing never generates beside a log with events), and cluster/ imports no module.
 * The caller runs exactly what the gateway would; whatever files appear are shared, so a
 * module's new key file needs no change here.
 *
 * The secrets in this bucket are readable by cluster members only: the NATS servers require
 * the cluster credentials of every client (NATS auth), and the credentials are as secret as
 * the keys. JetStream stores them unencrypted on the NATS servers' disks: protect those as
 * you protect the data dir.
 */

export const KEYS_BUCKET = 'switchyard_keys';
const SEED_KEY = 'seed';
const KEYS_DIRECTORY = 'keys';
/** A path segment as a KV key allows it: no leading dot (so no `.` or `..`), no spaces. */
const SEGMENT = /^[A-Za-z0-9_=-][A-Za-z0-9_.=-]*$/;

export interface ShareKeyFilesOptions {
  /** Copies JetStream keeps: 3 in a three-server NATS cluster. Default 1. */
  replicas?: number;
  /** Makes the key files if missing, as the gateway would (KeyRing.loadOrCreate, SecretBox.open, ...). Only called when the bucket is empty. */
  generate: () => void | Promise<void>;
  /** This node, for the seed's record and the logs. */
  node?: string;
  /** How often local files are compared with the cluster's; 0: only when `publishLocalChanges` is called. Default 1000. */
  localScanMs?: number;
  logger?: ClusterLogger;
}

export interface SharedKeyFilesStats {
  /** Key files known in the cluster. */
  files: number;
  /** Local files written from the cluster (at start and since). */
  written: number;
  /** Of those, local files that differed and were replaced. */
  replaced: number;
  /** Local files put in the cluster. */
  published: number;
  /** Local files removed: deleted in the cluster, or generated here by a node that lost the race to seed. */
  removed: number;
}

export interface SharedKeyFiles {
  /** Whether this node's files seeded the bucket. */
  readonly seeded: boolean;
  /** Puts local files that are new or changed into KV; returns their relative paths. */
  publishLocalChanges(): Promise<string[]>;
  stats(): SharedKeyFilesStats;
  close(): Promise<void>;
}

interface Seed {
  node: string;
  /** Tells this node's seed from another's when the answer to its create was lost. */
  nonce: string;
  at: number;
  /** Relative path to base64 content. */
  files: Record<string, string>;
  /** Every file of it has its own key: nothing left to complete from it. */
  complete: boolean;
}

interface StoredSeed {
  value: Seed;
  revision: number;
}

const silentLogger: ClusterLogger = { info: () => {}, warn: () => {} };

export async function shareKeyFiles(connection: NatsConnection, dataDir: string, options: ShareKeyFilesOptions): Promise<SharedKeyFiles> {
  // Reads through the stream leader, not any replica's direct get: a node that just lost the
  // race to seed must read the winner's seed, never a replica's view from before it.
  const kv = await openBucket(connection, KEYS_BUCKET, { replicas: options.replicas ?? 1, history: 5, allow_direct: false });
  const sharing = new KeyFileSharing(kv, dataDir, options);
  await sharing.start();
  return sharing;
}

class KeyFileSharing implements SharedKeyFiles {
  seeded = false;
  /** What the cluster holds, by relative path: the revision and content last seen. */
  private readonly known = new Map<string, { revision: number; content: Buffer }>();
  private readonly logger: ClusterLogger;
  private readonly node: string;
  private follower: BucketFollower | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Publishing one after another: two overlapping scans would race each other's compare-and-sets. */
  private publishing: Promise<string[]> = Promise.resolve([]);
  private closed = false;
  private readonly counts = { written: 0, replaced: 0, published: 0, removed: 0 };

  constructor(
    private readonly kv: KV,
    private readonly dataDir: string,
    private readonly options: ShareKeyFilesOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.node = options.node ?? 'unnamed node';
  }

  async start(): Promise<void> {
    // The files, then the seed: the seed is created before any file's key, so files found
    // here mean a seed is found next, and a set still being put by its seeder is completed
    // from the seed instead of being taken for the whole set.
    let remote = await this.readRemote();
    let seed = await this.readSeed();
    let generatedHere = new Set<string>();
    if (!seed && remote.size === 0) {
      const before = new Set(this.localFiles());
      await this.options.generate();
      generatedHere = new Set(this.localFiles().filter((path) => !before.has(path)));
      seed = await this.raceToSeed();
    }
    if (seed) {
      if (!seed.value.complete) await this.completeFromSeed(seed);
      // Again: files may have been put since the first read.
      remote = await this.readRemote();
    }
    for (const [path, entry] of remote) this.writeLocal(path, entry.content, generatedHere.has(path));
    for (const path of generatedHere) {
      if (remote.has(path)) continue;
      // Made by this call's generate() for a race another node won: never used, and it
      // would otherwise be published as one more (active) signing key.
      rmSync(join(this.dataDir, path), { force: true });
      this.counts.removed += 1;
    }
    this.follower = await followBucket(
      this.kv,
      (entry) => this.see(entry),
      (what, error) => {
        // A file that cannot be written (disk full) is reported here; the watch goes on.
        if (!this.closed) this.logger.warn({ node: this.node, error: error === undefined ? undefined : String(error) }, `key files: ${what}`);
      },
    );
    // Files this node had and the cluster lacks (a node that ran alone before joining).
    await this.publishLocalChanges();
    const scanMs = this.options.localScanMs ?? 1000;
    if (scanMs > 0) {
      this.timer = setInterval(() => void this.publishLocalChanges().catch((error) => this.logger.warn({ node: this.node, error: String(error) }, 'publishing local key files failed')), scanMs);
      this.timer.unref();
    }
  }

  publishLocalChanges(): Promise<string[]> {
    const next = this.publishing.then(
      () => this.publishNow(),
      () => this.publishNow(),
    );
    this.publishing = next.catch(() => []);
    return next;
  }

  stats(): SharedKeyFilesStats {
    return { files: this.known.size, ...this.counts };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.follower?.stop();
    await this.publishing;
  }

  private async publishNow(): Promise<string[]> {
    if (this.closed) return [];
    const published: string[] = [];
    for (const path of this.localFiles()) {
      const content = this.readLocal(path);
      if (!content) continue;
      const known = this.known.get(path);
      if (known && known.content.equals(content)) continue;
      try {
        // Compare-and-set: on a file someone else changed meanwhile, theirs wins (the watch brings it).
        const revision = known ? await this.kv.update(path, content, known.revision) : await this.kv.create(path, content);
        this.known.set(path, { revision, content });
        this.counts.published += 1;
        published.push(path);
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
        this.logger.warn({ node: this.node, path }, 'a key file changed here and on another node at once: taking the other version');
      }
    }
    if (published.length > 0) this.logger.info({ node: this.node, files: published }, 'published local key files to the cluster');
    return published;
  }

  private see(entry: KvWatchEntry): void {
    if (!isKeyFilePath(entry.key)) return;
    // Not news: the watch's opening values, or the echo of this node's own put. Writing them
    // would undo a local change made since and not yet published (a rotation right after start).
    const known = this.known.get(entry.key);
    if (known && entry.revision <= known.revision) return;
    if (entry.operation !== 'PUT') {
      this.known.delete(entry.key);
      if (existsSync(join(this.dataDir, entry.key))) {
        rmSync(join(this.dataDir, entry.key), { force: true });
        this.counts.removed += 1;
        this.logger.warn({ node: this.node, path: entry.key }, 'key file deleted in the cluster: removed here too');
      }
      return;
    }
    const content = Buffer.from(entry.value);
    this.known.set(entry.key, { revision: entry.revision, content });
    this.writeLocal(entry.key, content, false);
  }

  /** Creates `seed` from this node's files; returns the seed that won, this node's or another's. */
  private async raceToSeed(): Promise<StoredSeed> {
    const files = Object.fromEntries(this.localFiles().map((path) => [path, this.readLocal(path)!.toString('base64')]));
    if (Object.keys(files).length === 0) throw new Error(`no key files under ${join(this.dataDir, KEYS_DIRECTORY)} after generate(): nothing to share`);
    const mine: Seed = { node: this.node, nonce: randomBytes(9).toString('base64url'), at: Date.now(), files, complete: false };
    let failure: unknown;
    try {
      await this.kv.create(SEED_KEY, JSON.stringify(mine));
    } catch (error) {
      failure = error;
    }
    // Read back in both cases: a timeout may hide a create that did commit, and the stored
    // nonce says whose it is.
    const stored = await this.readSeed();
    if (!stored) throw failure instanceof Error && !isWrongLastSequence(failure) ? failure : new Error(`the seed of ${KEYS_BUCKET} cannot be read`);
    this.seeded = stored.value.nonce === mine.nonce;
    if (this.seeded) this.logger.info({ node: this.node, files: Object.keys(files).length }, 'this node seeded the cluster key files');
    return stored;
  }

  /**
   * Creates each file of a seed not yet marked complete (its seeder may have died before it
   * put them all), then marks it complete: after that the seed is history, and a key file
   * deleted in the cluster is not brought back from it.
   */
  private async completeFromSeed(seed: StoredSeed): Promise<void> {
    for (const [path, base64] of Object.entries(seed.value.files)) {
      if (!isKeyFilePath(path)) continue;
      try {
        await this.kv.create(path, Buffer.from(base64, 'base64'));
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    try {
      await this.kv.update(SEED_KEY, JSON.stringify({ ...seed.value, complete: true }), seed.revision);
    } catch (error) {
      // Another node marked it first.
      if (!isWrongLastSequence(error)) throw error;
    }
  }

  private async readSeed(): Promise<StoredSeed | undefined> {
    const entry = await this.kv.get(SEED_KEY);
    if (!entry || entry.operation !== 'PUT') return undefined;
    const value = parseSeed(entry.string());
    if (!value) throw new Error(`${KEYS_BUCKET} holds an unreadable seed: delete its key "${SEED_KEY}" if every node already has the key files`);
    return { value, revision: entry.revision };
  }

  private async readRemote(): Promise<Map<string, { revision: number; content: Buffer }>> {
    const files = new Map<string, { revision: number; content: Buffer }>();
    for await (const key of await this.kv.keys()) {
      if (!isKeyFilePath(key)) continue;
      const entry = await this.kv.get(key);
      if (entry && entry.operation === 'PUT') files.set(key, { revision: entry.revision, content: Buffer.from(entry.value) });
    }
    this.known.clear();
    for (const [path, entry] of files) this.known.set(path, entry);
    return files;
  }

  /** Relative paths (with `/`) of the regular files under keys/, skipping write-then-rename leftovers. */
  private localFiles(): string[] {
    const found: string[] = [];
    const walk = (relative: string) => {
      const absolute = join(this.dataDir, relative);
      if (!existsSync(absolute)) return;
      for (const item of readdirSync(absolute, { withFileTypes: true })) {
        const path = `${relative}/${item.name}`;
        if (item.isDirectory()) walk(path);
        else if (item.isFile() && !item.name.endsWith('.tmp')) {
          if (isKeyFilePath(path)) found.push(path);
          else this.logger.warn({ node: this.node, path }, 'key file name cannot be shared (use A-Z, a-z, 0-9, "_", "-", "=", ".")');
        }
      }
    };
    walk(KEYS_DIRECTORY);
    return found.sort();
  }

  private readLocal(path: string): Buffer | undefined {
    try {
      return readFileSync(join(this.dataDir, path));
    } catch {
      return undefined;
    }
  }

  private writeLocal(path: string, content: Buffer, generatedHere: boolean): void {
    const current = this.readLocal(path);
    if (current?.equals(content)) return;
    const absolute = join(this.dataDir, path);
    // Each directory from keys/ down is 0700, whatever the umask.
    const parts = path.split('/');
    for (let depth = 1; depth < parts.length; depth++) ensurePrivateDirectory(join(this.dataDir, ...parts.slice(0, depth)));
    const staged = `${absolute}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(staged, content, { mode: PRIVATE_FILE_MODE });
    chmodSync(staged, PRIVATE_FILE_MODE);
    renameSync(staged, absolute);
    this.counts.written += 1;
    if (current !== undefined) {
      this.counts.replaced += 1;
      if (generatedHere) this.logger.info({ node: this.node, path }, 'took the cluster key file instead of the one just generated');
      else this.logger.warn({ node: this.node, path: absolute }, 'local key file differed from the cluster and was replaced');
    }
  }
}

/** `keys/...` with safe segments only: nothing from the bucket may write outside keys/. */
function isKeyFilePath(key: string): boolean {
  const parts = key.split('/');
  return parts.length >= 2 && parts[0] === KEYS_DIRECTORY && parts.every((part) => SEGMENT.test(part)) && !key.endsWith('.');
}

function parseSeed(text: string): Seed | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { node, nonce, at, files, complete } = value as Record<string, unknown>;
  if (typeof node !== 'string' || typeof nonce !== 'string' || typeof at !== 'number' || typeof complete !== 'boolean') return undefined;
  if (typeof files !== 'object' || files === null || Object.values(files).some((content) => typeof content !== 'string')) return undefined;
  return { node, nonce, at, files: files as Record<string, string>, complete };
}
