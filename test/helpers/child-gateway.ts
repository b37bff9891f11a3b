import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATABASE_FILE } from '../../src/app/gateway.js';
import { openDatabase, readAllFrom } from '../../src/store/index.js';

/**
 * The built CLI (`node dist/main.js ...`) as a child process, for tests of what only a real
 * process shows: signals, exit codes, kill -9 and restart. `npm test` builds first; when
 * running vitest directly, run `npm run build` after changing src/.
 */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'main.js');

let checkedBuild = false;
function assertBuilt(): void {
  if (checkedBuild) return;
  checkedBuild = true;
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" before these tests`);
  const built = statSync(MAIN).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
        entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
      ),
    );
  if (newest(join(ROOT, 'src')) > built) {
    console.warn('dist/ is older than src/: child-process tests run the last build ("npm run build" to refresh)');
  }
}

/** The inherited environment without any Switchyard or uWS settings, so tests are hermetic. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SWITCHYARD_') && key !== 'UWS_USE_FALLBACK') env[key] = value;
  }
  return { ...env, ...extra };
}

const createdDirs: string[] = [];

/** A fresh data dir; `removeTempDataDirs()` (in afterAll) deletes every one made so far. */
export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-child-'));
  createdDirs.push(dir);
  return dir;
}

export function removeTempDataDirs(): void {
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildGateway {
  child: ChildProcess;
  port: number;
  dataDir: string;
  /** Every stdout line so far (pino JSON, plus whatever else the process printed). */
  stdout: string[];
  stderr: string[];
  exited: Promise<Exit>;
  url(path?: string): string;
  wsUrl(path?: string): string;
  /** Resolves with the exit, or rejects when the process is still running after `timeoutMs`. */
  waitExit(timeoutMs?: number): Promise<Exit>;
  /** kill -9 if still running; for afterEach/finally. */
  dispose(): Promise<void>;
}

export interface SpawnOptions {
  dataDir?: string;
  args?: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

function collectLines(stream: NodeJS.ReadableStream, into: string[], onLine?: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      into.push(line);
      onLine?.(line);
    }
  });
  stream.on('end', () => {
    if (partial) {
      into.push(partial);
      onLine?.(partial);
    }
  });
}

/** Resolves on 'close' (not 'exit'), so every line the process wrote has been read by then. */
function exitPromise(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Parses a pino line; undefined for anything else the process printed. */
export function logLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Starts `switchyard start --port 0` and learns the port from the `gateway ready` log line.
 * Rejects (with the output) when the process exits or stays silent instead.
 */
export async function spawnGateway(options: SpawnOptions = {}): Promise<ChildGateway> {
  assertBuilt();
  const dataDir = options.dataDir ?? tempDataDir();
  const child = spawn(process.execPath, [MAIN, 'start', '--port', '0', '--data', dataDir, ...(options.args ?? [])], {
    cwd: ROOT,
    env: cleanEnv({ SWITCHYARD_LOG_LEVEL: 'info', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = exitPromise(child);
  const ready = new Promise<number>((resolve, reject) => {
    collectLines(child.stdout!, stdout, (line) => {
      const entry = logLine(line);
      if (entry?.msg === 'gateway ready' && typeof entry.port === 'number') resolve(entry.port);
    });
    collectLines(child.stderr!, stderr);
    void exited.then((exit) =>
      reject(new Error(`gateway exited (${exit.code ?? exit.signal}) before it was ready:\n${[...stdout, ...stderr].join('\n')}`)),
    );
  });
  let port: number;
  try {
    port = await withTimeout(ready, options.readyTimeoutMs ?? 15_000, 'gateway ready');
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // What the child said before it went quiet: a start that hangs must say where (one did,
    // once, in a loaded CI run; the log lines show how far it got).
    if (error instanceof Error && !error.message.includes('exited')) {
      error.message += `; its output so far:\n${[...stdout, ...stderr].map((line) => {
        const entry = logLine(line);
        return entry ? `${String(entry.msg)} ${JSON.stringify({ ...entry, msg: undefined, time: undefined, pid: undefined, hostname: undefined, level: undefined, name: undefined })}` : line;
      }).join('\n') || '(nothing)'}`;
    }
    throw error;
  }
  const gateway: ChildGateway = {
    child,
    port,
    dataDir,
    stdout,
    stderr,
    exited,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    wsUrl: (path = '/ws') => `ws://127.0.0.1:${port}${path}`,
    waitExit: (timeoutMs = 10_000) => withTimeout(exited, timeoutMs, `gateway pid ${child.pid} to exit`),
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  return gateway;
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs `node dist/main.js <args>` to completion (or kills it after `timeoutMs`). */
export function runCli(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  assertBuilt();
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: cleanEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A long-running CLI command (`events --follow`) whose output is read line by line. */
export interface RunningCli {
  child: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<Exit>;
  /** Resolves with the first line matching, waiting for more output as needed. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
}

export function startCli(args: string[], options: { env?: Record<string, string> } = {}): RunningCli {
  assertBuilt();
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: cleanEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  collectLines(child.stdout!, lines, () => {
    for (const wake of waiters) wake();
  });
  collectLines(child.stderr!, stderr);
  const exited = exitPromise(child);
  const waitForLine = (match: (line: string) => boolean, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for a line; have:\n${lines.join('\n')}\n${stderr.join('\n')}`));
      }, timeoutMs);
      const wake = () => void check();
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      if (check()) return;
      waiters.add(wake);
      void exited.then(() => {
        if (!check()) {
          cleanup();
          reject(new Error(`process exited before the line appeared; have:\n${lines.join('\n')}\n${stderr.join('\n')}`));
        }
      });
    });
  return { child, lines, stderr, exited, waitForLine };
}

export interface LoggedEvent {
  position: number;
  streamId: string;
  version: number;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recordedAt: number;
}

/** The whole log of a data dir, through `switchyard events --json`. */
export async function readLog(dataDir: string, extraArgs: string[] = []): Promise<LoggedEvent[]> {
  const result = await runCli(['events', '--data', dataDir, '--json', ...extraArgs]);
  if (result.code !== 0) throw new Error(`events exited ${result.code}: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LoggedEvent);
}

/**
 * The log read directly (read-only SQLite), for polling while a gateway runs: much cheaper
 * than a CLI process per attempt. Assertions about the operator's view use `readLog`.
 */
export function readLogDirect(dataDir: string): LoggedEvent[] {
  const db = openDatabase(join(dataDir, DATABASE_FILE), { readonly: true });
  try {
    return readAllFrom(db) as LoggedEvent[];
  } finally {
    db.close();
  }
}

/**
 * Polls `read` until `done` holds. The short pause between attempts is a poll interval (it
 * leaves the CPU to the gateway under test), not a guess at how long something takes.
 */
export async function waitFor<T>(read: () => T, done: (value: T) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}
