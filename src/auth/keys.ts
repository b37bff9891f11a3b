import { chmodSync, existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { DATABASE_FILE, StartupError, ensurePrivateDirectory, logHasEvents } from '../store/index.js';

/**
 * Ed25519 signing keys in `data/keys/signing/`, one JSON file per key. The newest active
 * key signs; every key not yet past `verifyUntil` verifies, so tokens signed before a
 * rotation keep working until they expire. Keys are generated on first start: there is
 * never a built-in key that would work on someone else's deployment.
 */
export interface SigningKey {
  kid: string;
  createdAt: number;
  /** Set when a newer key took over signing. */
  retiredAt: number | null;
  /** After this, tokens signed by the key are refused (retiredAt + longest token lifetime). */
  verifyUntil: number | null;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

interface StoredKey {
  kid: string;
  alg: 'EdDSA';
  createdAt: number;
  retiredAt: number | null;
  verifyUntil: number | null;
  /** PKCS#8 PEM. The file is mode 0600. */
  privateKeyPem: string;
}

const isTime = (value: unknown): value is number | null => value === null || (typeof value === 'number' && Number.isFinite(value));

/**
 * One key file, checked: a garbage, truncated or RSA key used to load (or fail deep inside
 * jose at the first token) with no word of which file; now it is a StartupError naming it.
 */
function readKeyFile(path: string): SigningKey {
  const refuse = (why: string) => new StartupError(path, `signing key ${path} ${why}: restore it from a backup, or remove it and run "switchyard keys rotate"`);
  let stored: Partial<StoredKey>;
  try {
    stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<StoredKey>;
  } catch {
    throw refuse('is not a JSON key file (garbage or truncated)');
  }
  if (stored === null || typeof stored !== 'object' || typeof stored.kid !== 'string' || typeof stored.privateKeyPem !== 'string') {
    throw refuse('lacks kid or privateKeyPem');
  }
  if (typeof stored.createdAt !== 'number' || !isTime(stored.retiredAt) || !isTime(stored.verifyUntil)) {
    throw refuse('has invalid createdAt, retiredAt or verifyUntil');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(stored.privateKeyPem);
  } catch {
    throw refuse('holds no readable private key (bad or truncated PEM)');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw refuse(`holds an ${privateKey.asymmetricKeyType ?? 'unknown'} key; tokens are signed with Ed25519 (EdDSA) only`);
  }
  return {
    kid: stored.kid,
    createdAt: stored.createdAt,
    retiredAt: stored.retiredAt,
    verifyUntil: stored.verifyUntil,
    privateKey,
    publicKey: createPublicKey(privateKey),
  };
}

export class KeyRing {
  private keys: SigningKey[] = [];
  private readonly directory: string;
  private readonly keysDirectory: string;
  private readonly databasePath: string;
  /** What the key directory looked like when last read (see `reloadIfChanged`). */
  private loadedStamp: string | undefined;

  constructor(private readonly dataDir: string) {
    this.keysDirectory = join(dataDir, 'keys');
    this.directory = join(this.keysDirectory, 'signing');
    this.databasePath = join(dataDir, DATABASE_FILE);
  }

  /**
   * Loads the keys, generating the first one if there is none. Returns whether it generated.
   * Generates only for a log without events: once tokens may have been signed, a missing key
   * was removed (a restore that forgot `keys/`), and a silent new key would invalidate every
   * token and session while looking like a first start.
   */
  loadOrCreate(now: number): { generated: boolean; kid: string } {
    this.reload();
    if (this.keys.some((key) => key.retiredAt === null)) return { generated: false, kid: this.active().kid };
    if (logHasEvents(this.databasePath)) {
      throw new StartupError(
        this.directory,
        `no active signing key in ${this.directory}, but the log ${this.databasePath} has events: the key was removed. ` +
          `Restore ${this.directory} from a backup, or run "switchyard keys rotate --data ${this.dataDir}" to sign with a new key (tokens signed by the old one stop working)`,
      );
    }
    const key = this.generate(now);
    return { generated: true, kid: key.kid };
  }

  /**
   * Loads the keys for an operator command: like `loadOrCreate`, except that a key missing
   * beside a log with events is left missing instead of refused, so `switchyard keys rotate`
   * (the recovery) and commands that sign nothing still run. The gateway refuses to start.
   */
  loadForOperator(now: number): void {
    this.reload();
    if (this.keys.some((key) => key.retiredAt === null) || logHasEvents(this.databasePath)) return;
    this.generate(now);
  }

  reload(): void {
    this.loadedStamp = this.stamp();
    if (!existsSync(this.directory)) {
      this.keys = [];
      return;
    }
    this.keys = readdirSync(this.directory)
      .filter((name) => name.endsWith('.json'))
      .map((name) => readKeyFile(join(this.directory, name)))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * Reloads when the key directory changed since it was read: `switchyard keys rotate` (another
   * process) adds a key file and rewrites the retired ones while the server runs. A stat and a
   * readdir, cheap next to a signature.
   */
  reloadIfChanged(): boolean {
    if (this.loadedStamp === undefined || this.stamp() === this.loadedStamp) return false;
    this.reload();
    return true;
  }

  private stamp(): string {
    try {
      return `${statSync(this.directory).mtimeMs}|${readdirSync(this.directory).sort().join('|')}`;
    } catch {
      return 'absent';
    }
  }

  /** The key that signs new tokens: the newest one not retired. */
  active(): SigningKey {
    const active = this.keys.filter((key) => key.retiredAt === null).at(-1);
    if (!active) throw new Error(`no signing key in ${this.directory}`);
    return active;
  }

  /** A key that may verify a token at `now`, or undefined (unknown or past its grace). */
  verifying(kid: string, now: number): SigningKey | undefined {
    const key = this.keys.find((candidate) => candidate.kid === kid);
    if (!key) return undefined;
    if (key.verifyUntil !== null && now > key.verifyUntil) return undefined;
    return key;
  }

  /** Public keys still verifying, for `/.well-known/jwks.json`. */
  published(now: number): SigningKey[] {
    return this.keys.filter((key) => key.verifyUntil === null || now <= key.verifyUntil);
  }

  /**
   * A new key takes over signing; the old ones keep verifying for `graceSeconds` (the longest
   * lifetime of a token they may have signed).
   */
  rotate(now: number, graceSeconds: number): { kid: string; retired: string[] } {
    this.reload();
    const retired: string[] = [];
    for (const key of this.keys) {
      if (key.retiredAt !== null) continue;
      key.retiredAt = now;
      key.verifyUntil = now + graceSeconds * 1000;
      this.write(key);
      retired.push(key.kid);
    }
    const fresh = this.generate(now);
    return { kid: fresh.kid, retired };
  }

  private generate(now: number): SigningKey {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const key: SigningKey = {
      kid: `${new Date(now).toISOString().slice(0, 10)}-${randomBytes(6).toString('base64url')}`,
      createdAt: now,
      retiredAt: null,
      verifyUntil: null,
      privateKey,
      publicKey,
    };
    this.write(key);
    this.keys.push(key);
    return key;
  }

  private write(key: SigningKey): void {
    // Both levels 0700 whatever the umask: mkdir's mode alone is masked by it.
    ensurePrivateDirectory(this.keysDirectory);
    ensurePrivateDirectory(this.directory);
    const stored: StoredKey = {
      kid: key.kid,
      alg: 'EdDSA',
      createdAt: key.createdAt,
      retiredAt: key.retiredAt,
      verifyUntil: key.verifyUntil,
      privateKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    // Write-then-rename: a crash never leaves a half-written key that would fail every start.
    const path = join(this.directory, `${key.kid}.json`);
    writeFileSync(`${path}.tmp`, JSON.stringify(stored, null, 2), { mode: 0o600 });
    chmodSync(`${path}.tmp`, 0o600);
    renameSync(`${path}.tmp`, path);
  }
}
