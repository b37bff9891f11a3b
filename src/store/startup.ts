import { chmodSync, closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A start that must not go on: a damaged or unwritable database, a bad key file, a data dir
 * another gateway holds. `main.ts` prints the message as one line and exits 2, so a
 * supervisor does not restart into the same failure and the operator reads which file.
 * The message always names `path`.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';

  constructor(
    /** The file or directory at fault. */
    readonly path: string,
    message: string,
  ) {
    super(message.includes(path) ? message : `${path}: ${message}`);
  }
}

/** Owner-only modes: the database holds password hashes and sealed MFA seeds. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIRECTORY_MODE = 0o700;

/**
 * chmod that tolerates what an operator command may meet: a file owned by someone else (the
 * gateway's user, when root or a colleague runs the CLI) keeps its mode rather than failing
 * the command, and a file that is not there has nothing to fix.
 */
function chmodIfOwn(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOENT' && code !== 'EROFS') throw error;
  }
}

/**
 * A directory with mode 0700, created if missing. mkdir's mode is masked by the umask, so the
 * mode is set again explicitly; an existing directory (0755 from an older version) is fixed too.
 */
export function ensurePrivateDirectory(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  chmodIfOwn(path, PRIVATE_DIRECTORY_MODE);
}

/** Sets 0600 on a file if it exists (the database, its -wal and -shm, key files). */
export function makeFilePrivate(path: string): void {
  chmodIfOwn(path, PRIVATE_FILE_MODE);
}

/**
 * Operator commands work on an existing deployment only: a mistyped `--data` used to create a
 * fresh empty database and report success into it. `switchyard start` is what creates one.
 */
export function assertDataDirExists(dataDir: string): void {
  if (!existsSync(dataDir)) {
    throw new StartupError(
      dataDir,
      `data dir ${dataDir} does not exist: pass --data with the gateway's data dir (switchyard start creates a new one)`,
    );
  }
  if (!statSync(dataDir).isDirectory()) throw new StartupError(dataDir, `data dir ${dataDir} is not a directory`);
}

const WAL_MAGIC_LITTLE_ENDIAN = 0x377f0682;
const WAL_MAGIC_BIG_ENDIAN = 0x377f0683;
const WAL_HEADER_BYTES = 32;

/**
 * Refuses a `-wal` file SQLite did not write. SQLite itself would ignore a WAL whose header
 * does not validate and open the database as of its last checkpoint, silently: when the
 * file is garbage, the operator should learn that whatever it held is not in the log. A
 * valid header with torn frames after it is ordinary crash recovery and is left to SQLite
 * (it keeps every transaction whose commit frame checksums). An empty WAL is what a
 * TRUNCATE checkpoint leaves.
 */
export function assertWalHeader(walPath: string): void {
  if (!existsSync(walPath)) return;
  const size = statSync(walPath).size;
  if (size === 0) return;
  const header = Buffer.alloc(WAL_HEADER_BYTES);
  const fd = openSync(walPath, 'r');
  let read: number;
  try {
    read = readSync(fd, header, 0, WAL_HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  const refuse = (why: string) =>
    new StartupError(
      walPath,
      `${walPath} is not a SQLite WAL file (${why}): move it aside to start from the database's last checkpoint, or restore it and the database from a backup`,
    );
  if (read < WAL_HEADER_BYTES) throw refuse(`${read} bytes, shorter than a WAL header`);
  const magic = header.readUInt32BE(0);
  if (magic !== WAL_MAGIC_LITTLE_ENDIAN && magic !== WAL_MAGIC_BIG_ENDIAN) throw refuse('bad magic number');
  // The header's checksum over its first 24 bytes, in the byte order the magic names
  // (SQLite's walChecksumBytes): a random file that happens to start with the magic fails here.
  const word = magic === WAL_MAGIC_BIG_ENDIAN ? (at: number) => header.readUInt32BE(at) : (at: number) => header.readUInt32LE(at);
  let s0 = 0;
  let s1 = 0;
  for (let at = 0; at < 24; at += 8) {
    s0 = (s0 + word(at) + s1) >>> 0;
    s1 = (s1 + word(at + 4) + s0) >>> 0;
  }
  if (s0 !== header.readUInt32BE(24) || s1 !== header.readUInt32BE(28)) throw refuse('header checksum mismatch');
}

/** The file a running `switchyard start` holds in its data dir. */
export const LOCK_FILE = 'gateway.lock';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface DataDirLock {
  readonly path: string;
  /** Idempotent; only removes the file while it still names this process. */
  release(): void;
}

/**
 * One gateway per data dir: two would each run group commit, checkpoints and processors on
 * the same log and double every push. The lock is a file naming the holder's pid, created
 * with link(2) so exactly one of two racing starts gets it. A lock whose pid is dead (kill -9,
 * power loss) is stale and taken over. Operator commands do not take it: they append through
 * SQLite's own locking beside the running gateway.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const candidate = `${path}.${process.pid}`;
  writeFileSync(candidate, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(candidate, path);
        let released = false;
        return {
          path,
          release() {
            if (released) return;
            released = true;
            if (lockHolder(path) === process.pid) rmSync(path, { force: true });
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = lockHolder(path);
      if (holder !== undefined && holder !== process.pid && processAlive(holder)) {
        throw new StartupError(
          dataDir,
          `data dir ${dataDir} is in use by another gateway (pid ${holder}, lock ${path}): stop it first, or start this one with another --data`,
        );
      }
      // Stale (dead holder, or a file without a pid): remove it and race for it again.
      rmSync(path, { force: true });
    }
    throw new StartupError(dataDir, `could not take the lock ${path}: another start keeps taking it`);
  } finally {
    rmSync(candidate, { force: true });
  }
}

/**
 * What `switchyard start` does to its data dir before opening anything: create it (0700) or
 * fix its mode and that of `keys/`, then take the lock.
 */
export function prepareDataDir(dataDir: string): DataDirLock {
  ensurePrivateDirectory(dataDir);
  const keys = join(dataDir, 'keys');
  if (existsSync(keys)) ensurePrivateDirectory(keys);
  return acquireDataDirLock(dataDir);
}
