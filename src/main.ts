#!/usr/bin/env node
/**
 * Process entry: reads argv and the environment (the only reader of process.env), builds
 * the config, wires the gateway or runs a CLI command, and handles signals.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, unknownEnvironmentWarnings } from './app/config.js';
import { AppError } from './core/errors.js';
import { eventTypesCommand, eventsCommand } from './cli/events.js';
import { identityCommand } from './cli/identity.js';
import { GLOBAL_USAGE, usageOf } from './cli/usage.js';
import { consoleOutput } from './cli/output.js';
import { customersCommand } from './cli/customers.js';
import { demoDataCommand } from './cli/demo-data.js';
import { invitationsCommand } from './cli/invitations.js';
import { replayCommand } from './cli/replay.js';
import { syncCommand } from './cli/sync.js';
import { zoomCommand } from './cli/zoom.js';
import { Gateway } from './app/gateway.js';
import { createLogger } from './edge/logger.js';
import { StartupError, prepareDataDir, type DataDirLock } from './store/index.js';

/** Every command's usage (src/cli/usage.ts); `<command> --help` prints only its own. */
const USAGE = GLOBAL_USAGE;

const COMMON = {
  data: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Past this many last-resort errors in a minute the process exits (1) instead of serving on. */
const UNCAUGHT_PER_MINUTE_BEFORE_EXIT = 100;

async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...COMMON,
      host: { type: 'string' },
      port: { type: 'string' },
      ssl: { type: 'boolean' },
      certificate: { type: 'string' },
      privatekey: { type: 'string' },
      'log-level': { type: 'string' },
      cluster: { type: 'string' },
    },
  });
  const config = loadConfig({ flags: values, env: process.env, cwd: process.cwd() });
  const logger = createLogger(config.logLevel);
  let gateway: Gateway;
  let lock: DataDirLock | undefined;
  try {
    // Before anything opens the log: the data dir exists with mode 0700 and is this process's alone.
    lock = prepareDataDir(config.dataDir);
    gateway = await Gateway.start({ config, logger });
  } catch (error) {
    lock?.release();
    if (error instanceof StartupError) {
      // One line naming the file, exit 2: a supervisor's restart would meet the same file.
      consoleOutput.err(`switchyard: cannot start: ${error.message.replace(/\s*\n\s*/g, ' ')}`);
      return 2;
    }
    logger.fatal({ err: error }, 'gateway failed to start');
    return 1;
  }
  const heldLock = lock;
  // Released on every way out, including exits the promise below never sees.
  process.once('exit', () => heldLock.release());
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      // Whatever happens, the process is gone within the configured deadline.
      setTimeout(() => {
        logger.error('shutdown deadline passed; exiting with work unfinished');
        resolve(1);
      }, config.shutdownTimeoutMs).unref();
      gateway.stop().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // One stray exception (a timer, a callback outside the edge's guard) must not take every
    // socket down with it: it is logged and counted, and the gateway goes on. A burst of them
    // means the process is in a state nobody planned for, and a supervisor restart is safer.
    const recent: number[] = [];
    const lastResort = (where: string) => (error: unknown) => {
      gateway.uncaught(where, error);
      const now = Date.now();
      recent.push(now);
      while (recent.length > 0 && recent[0]! < now - 60_000) recent.shift();
      if (recent.length > UNCAUGHT_PER_MINUTE_BEFORE_EXIT) {
        logger.fatal(`${recent.length} uncaught errors within a minute; exiting for a clean restart`);
        resolve(1);
      }
    };
    process.on('uncaughtException', lastResort('process'));
    process.on('unhandledRejection', lastResort('promise'));
  });
}

/**
 * `--after`/`--limit` as whole numbers. Number('abc') is NaN, which printed nothing for
 * `--after abc` and an SQLite stack trace for `--limit abc`; a bad value is a usage error
 * (exit 2) naming the flag, like a bad config value.
 */
function wholeNumberFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(number) || number < min) {
    throw new ConfigError(`--${name} must be a whole number >= ${min}, got "${value}"`);
  }
  return number;
}

/** `--help` / `-h` anywhere among a command's arguments: print usage instead of acting. */
const wantsHelp = (args: readonly string[]): boolean => args.includes('--help') || args.includes('-h');

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === undefined) {
    // A bare `switchyard` used to start a server; `npm start` says `switchyard start`.
    consoleOutput.err(`no command given\n\n${USAGE}`);
    return 2;
  }
  if (command === 'help' || wantsHelp([command]) || wantsHelp(rest)) {
    // `switchyard start --help` printed nothing and started a server; `events --help` dumped the log.
    // `switchyard <command> --help` and `switchyard help <command>` print that command's usage.
    const topic = command === 'help' ? rest[0] : wantsHelp([command]) ? undefined : command;
    consoleOutput.out((topic !== undefined ? usageOf(topic) : undefined) ?? USAGE);
    return 0;
  }
  // A mistyped variable (SWITCHYARD_PROT) was ignored without a word and the default applied.
  for (const warning of unknownEnvironmentWarnings(process.env)) consoleOutput.err(`switchyard: warning: ${warning}`);
  const dataDirOf = (values: { data?: string | undefined; config?: string | undefined }) =>
    loadConfig({ flags: { data: values.data, config: values.config }, env: process.env, cwd: process.cwd() }).dataDir;
  switch (command) {
    case 'start':
      return start(rest);
    case 'events': {
      const { values } = parseArgs({
        args: rest,
        options: {
          ...COMMON,
          stream: { type: 'string' },
          type: { type: 'string' },
          after: { type: 'string' },
          limit: { type: 'string' },
          follow: { type: 'boolean', short: 'f' },
          types: { type: 'boolean' },
        },
      });
      if (values.types) return eventTypesCommand({ json: values.json }, consoleOutput);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      return eventsCommand(
        {
          dataDir: dataDirOf(values),
          stream: values.stream,
          type: values.type,
          after: wholeNumberFlag('after', values.after, 0),
          limit: wholeNumberFlag('limit', values.limit, 1),
          follow: values.follow,
          json: values.json,
          signal: controller.signal,
        },
        consoleOutput,
      );
    }
    case 'replay': {
      const { values } = parseArgs({ args: rest, options: { ...COMMON, out: { type: 'string' } } });
      return replayCommand({ dataDir: dataDirOf(values), out: values.out, json: values.json }, consoleOutput);
    }
    case 'orgs':
    case 'groups':
    case 'users':
    case 'clients':
    case 'keys': {
      const { values } = parseArgs({ args: rest, options: COMMON, strict: false });
      const config = loadConfig({
        flags: { data: values.data as string | undefined, config: values.config as string | undefined },
        env: process.env,
        cwd: process.cwd(),
      });
      return identityCommand(command, rest, config, consoleOutput, process.stdin);
    }
    case 'customers': {
      const { values } = parseArgs({ args: rest, options: COMMON, strict: false });
      const config = loadConfig({
        flags: { data: values.data as string | undefined, config: values.config as string | undefined },
        env: process.env,
        cwd: process.cwd(),
      });
      return customersCommand(rest, config, consoleOutput);
    }
    case 'demo-data': {
      const { values } = parseArgs({ args: rest, options: COMMON, strict: false });
      const config = loadConfig({
        flags: { data: values.data as string | undefined, config: values.config as string | undefined },
        env: process.env,
        cwd: process.cwd(),
      });
      return demoDataCommand(rest, config, consoleOutput);
    }
    case 'invite':
    case 'uninvite': {
      const { values } = parseArgs({ args: rest, options: COMMON, strict: false });
      const config = loadConfig({
        flags: { data: values.data as string | undefined, config: values.config as string | undefined },
        env: process.env,
        cwd: process.cwd(),
      });
      return invitationsCommand(command, rest, config, consoleOutput);
    }
    case 'zoom': {
      const { values } = parseArgs({ args: rest, options: COMMON, strict: false });
      return zoomCommand(rest, loadConfig({ flags: { data: values.data as string | undefined, config: values.config as string | undefined }, env: process.env, cwd: process.cwd() }), consoleOutput, process.stdin);
    }
    case 'sync': {
      const { values } = parseArgs({ args: rest, options: COMMON, strict: false });
      return syncCommand(rest, loadConfig({ flags: { data: values.data as string | undefined, config: values.config as string | undefined }, env: process.env, cwd: process.cwd() }), consoleOutput);
    }
    default:
      consoleOutput.err(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/**
 * Exits once stdout and stderr are flushed. Writes to a pipe are asynchronous once the pipe's
 * 64 KiB buffer is full, and a bare process.exit() drops what is still queued: `switchyard
 * events --json | jq` silently lost every line past the first 64 KiB. A write's callback runs
 * after every earlier write on that stream has been handed to the OS.
 */
function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  // A reader that never drains the pipe must not keep the process alive for ever.
  setTimeout(() => process.exit(code), 5000).unref();
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0) done();
    else stream.write('', done);
  }
}

main().then(
  (code) => exitWhenFlushed(code),
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof StartupError || (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      consoleOutput.err(error.message);
      exitWhenFlushed(2);
      return;
    }
    if (error instanceof AppError) {
      // A refusal met while opening the log (a cluster that cannot be reached, refused
      // credentials): one line with its stable code, exit 1, as a command's own refusals.
      consoleOutput.err(`${error.code}: ${error.message}`);
      exitWhenFlushed(1);
      return;
    }
    consoleOutput.err(error instanceof Error ? (error.stack ?? error.message) : String(error));
    exitWhenFlushed(1);
  },
);
