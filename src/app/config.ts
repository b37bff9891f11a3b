import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { configInt as int, configList as list } from '../core/index.js';
import { gridConfigShape } from '../modules/grid/grid-config.js';
import { syncConfigShape } from '../modules/sync/config.js';
import { eventListingsConfigShape } from '../modules/event-listings/config.js';
import { itinerariesConfigShape } from '../modules/itineraries/config.js';
import { invitationsConfigShape } from '../modules/invitations/config.js';
import { chatConfigShape } from '../modules/chat/config.js';
import { pollsConfigShape } from '../modules/polls/config.js';
import { presenceConfigShape } from '../modules/presence/config.js';
import { noticesConfigShape } from '../modules/notices/config.js';
import { callsConfigShape } from '../modules/calls/config.js';
import { streamsConfigShape } from '../modules/streams/config.js';
import { resumeConfigShape } from '../modules/connections/config.js';
import { clusterConfigShape } from '../cluster/config.js';

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1')]);

/**
 * An Origin header is `scheme://host[:port]` and nothing else (RFC 6454): an entry with a
 * path, a trailing slash, a query or credentials can never equal one, so it silently allowed
 * nothing. `*` allows every origin. IPv6 hosts are bracketed.
 */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[0-9a-f:.]+\]|[^\s/?#@:[\]]+)(?::\d{1,5})?$/i;
const origin = z.string().refine((value) => value === '*' || ORIGIN.test(value), {
  error: (issue) => `${JSON.stringify(issue.input)} is not an origin: use * or scheme://host[:port], without a path or trailing slash`,
});

/**
 * Every configuration key, its type and default. Sources, later wins: defaults, the JSON
 * config file (`--config FILE` or SWITCHYARD_CONFIG), environment `SWITCHYARD_<KEY>` in
 * upper snake case (SWITCHYARD_MAX_FRAME_BYTES), then command-line flags.
 */
export const configSchema = z
  .object({
    /** Interface to listen on. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Port to listen on; 0 picks a free one (tests). */
    port: int(0, 65535).default(7000),
    /** Directory of the database and keys. */
    dataDir: z.string().min(1).default('data'),
    /** Serve TLS (uWS SSLApp) with `certificate` and `privateKey`. */
    ssl: bool.default(false),
    certificate: z.string().optional(),
    privateKey: z.string().optional(),
    /**
     * Origins browsers may open sockets from. Empty: only pages served by this gateway
     * (Origin equal to the Host) and non-browser clients (no Origin). `*` allows any.
     */
    allowedOrigins: list.pipe(z.array(origin)).default([]),
    /** Largest WebSocket frame accepted; larger ones close the socket with 1009. */
    maxFrameBytes: int(1024, 16 * 1024 * 1024).default(64 * 1024),
    /** Largest `payload` field in room and relay frames, measured as JSON. */
    maxPayloadBytes: int(16, 1024 * 1024).default(4 * 1024),
    /** Bytes queued to a slow reader before it is closed with 4008. */
    maxBackpressureBytes: int(16 * 1024, 256 * 1024 * 1024).default(1024 * 1024),
    /** Seconds without traffic before the server pings and then drops a socket. */
    idleTimeoutSeconds: int(8, 960).default(120),
    /** Bad frames tolerated per window before closing with 4400. */
    badFrameLimit: int(1, 10_000).default(20),
    badFrameWindowSeconds: int(1, 3600).default(10),
    /** Deepest nesting of containers accepted inside a frame's `data`. */
    maxFrameDepth: int(2, 1000).default(32),
    /** Socket.IO (`/socket.io/`): how often the server pings Engine.IO v4 clients; v3 clients ping this often themselves. */
    socketIoPingIntervalMs: int(50, 3_600_000).default(25_000),
    /** How long a Socket.IO heartbeat may be late before the socket is closed with 4408. */
    socketIoPingTimeoutMs: int(50, 3_600_000).default(20_000),
    /** Largest Socket.IO WebSocket message (Engine.IO `maxPayload`); larger ones close with 1009. */
    socketIoMaxPayloadBytes: int(1024, 100 * 1024 * 1024).default(1_000_000),
    /** A Socket.IO socket that has joined no namespace by then is closed with 4408. */
    socketIoConnectTimeoutMs: int(100, 3_600_000).default(45_000),
    /** Namespaces a Socket.IO CONNECT may name; others are refused with "Invalid namespace". */
    socketIoNamespaces: list
      .pipe(z.array(z.string().regex(/^\/[^,?]{0,255}$/, 'a namespace starts with "/" and has no "," or "?"')).min(1))
      .default(['/']),
    /** pino level. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Largest number of appends committed in one transaction. */
    maxAppendBatch: int(1, 100_000).default(2000),
    /** How often the checkpoint worker folds the WAL into the database; 0 turns it off. */
    walCheckpointIntervalMs: int(0, 60_000).default(1000),
    /** Size the WAL file is kept under by TRUNCATE checkpoints past a quarter of it (bytes, default 64 MiB). */
    walMaxBytes: int(1024 * 1024, 1024 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /** How long shutdown waits for sockets and appends before exiting anyway. */
    shutdownTimeoutMs: int(100, 60_000).default(10_000),
    /** Per-connection relay budgets (token buckets, burst = 2 s worth): SDP and ICE apart. */
    relaySdpPerSecond: int(1, 1_000_000).default(20),
    relayIcePerSecond: int(1, 1_000_000).default(200),
    /** Rate-limited frames tolerated per 10 s before the socket is closed with 4029. */
    rateLimitStrikes: int(1, 100_000).default(50),
    /** Open rooms whose actor saw no command this long lose it (reloaded from the log on demand). */
    roomIdleSeconds: int(1, 86_400).default(300),
    /** At most this many room actors stay after a sweep; the least recently used go first. */
    roomMaxActors: int(1, 10_000_000).default(10_000),
    /** Seconds between two sweeps of idle room actors. */
    roomSweepSeconds: int(1, 3600).default(60),
    /** `iss` of every token the gateway signs. */
    issuer: z.string().min(1).default('switchyard'),
    accessTokenTtlSeconds: int(60, 7 * 86400).default(3600),
    refreshTokenTtlSeconds: int(60, 365 * 86400).default(30 * 86400),
    organisationTokenTtlSeconds: int(60, 7 * 86400).default(3600),
    sessionTokenTtlSeconds: int(60, 30 * 86400).default(86400),
    /** Leeway on `exp`/`nbf` when verifying tokens. */
    tokenClockToleranceSeconds: int(0, 300).default(30),
    /** Password of `POST /app` (Chat Signal app tokens). Unset: `/app` is disabled. */
    appPassword: z.string().min(12, 'appPassword must be at least 12 characters').optional(),
    /** Wrong `POST /app` passwords allowed per minute per remote address; past it 429 with `retry-after`. */
    appPasswordAttemptsPerMinutePerAddress: int(1, 100_000).default(10),
    /** A socket that has not authenticated by then is closed with 4401; 0 turns it off. */
    authDeadlineSeconds: int(0, 3600).default(30),
    /** Sockets open at once from one remote address; past it the upgrade gets 429. 0 turns it off. */
    maxConnectionsPerAddress: int(0, 1_000_000).default(1000),
    /**
     * Sockets open at once over all addresses; past it the upgrade gets 503 UNAVAILABLE. Unset:
     * the process's open-file limit less DESCRIPTOR_RESERVE (maxConnectionsOf), so the log, key
     * files and HTTP requests always find a descriptor. 0 turns it off.
     */
    maxConnections: int(0, 10_000_000).optional(),
    /** New sockets per second from one remote address (burst: 5 s worth); past it 429. 0 turns it off. */
    connectionsPerSecondPerAddress: int(0, 1_000_000).default(100),
    /**
     * New sockets per second over all addresses (burst: 5 s worth): each is two log events
     * (opened, closed), so anonymous churn grows the log by at most twice this. 0 turns it off.
     */
    connectionOpensPerSecond: int(0, 1_000_000).default(1000),
    /** Consecutive wrong TOTP codes before MFA locks, and for how long. */
    mfaMaxFailures: int(1, 1000).default(10),
    mfaLockSeconds: int(1, 30 * 86400).default(900),
    /** Login attempts allowed per minute per username and per remote address. */
    loginAttemptsPerMinutePerUser: int(1, 10_000).default(10),
    loginAttemptsPerMinutePerAddress: int(1, 100_000).default(30),
    /** scrypt hashes computed at once (each takes 128 MiB); the excess is RATE_LIMITED. */
    maxConcurrentPasswordHashes: int(1, 64).default(4),
    /**
     * Sign-in frames (`authenticate`, `authorize`, `auth-request`, `login`, `mfa`) in flight per
     * connection and per remote address; past it a frame is refused at once with RATE_LIMITED.
     */
    maxSignInsInFlightPerConnection: int(1, 10_000).default(4),
    maxSignInsInFlightPerAddress: int(1, 1_000_000).default(64),
    /**
     * Refused tokens and logins: the first `refusalEventsPerWindow` per remote address in each
     * window of `refusalWindowSeconds` are logged one by one (TokenRefused, LoginFailed), the
     * rest as one RefusalsSummarised per address at the window's end.
     */
    refusalWindowSeconds: int(1, 3600).default(10),
    refusalEventsPerWindow: int(0, 100_000).default(50),
    /** Wrong OAuth2 client secrets allowed per minute per client id and per remote address; past it 429 `slow_down`. */
    clientSecretAttemptsPerMinutePerClient: int(1, 100_000).default(20),
    clientSecretAttemptsPerMinutePerAddress: int(1, 100_000).default(60),
    /** External OIDC providers whose tokens `authenticate`/`authorize` accept. */
    externalIssuers: z
      .union([
        z.string().transform((value, context) => {
          try {
            return JSON.parse(value) as unknown;
          } catch {
            context.addIssue({ code: 'custom', message: 'externalIssuers must be JSON' });
            return z.NEVER;
          }
        }),
        z.array(z.unknown()),
      ])
      .pipe(
        z.array(
          z
            .object({
              issuer: z.string().min(1),
              audience: z.string().min(1),
              jwksUri: z.url().optional(),
              keys: z.array(z.record(z.string(), z.unknown())).optional(),
              algorithms: z.array(z.string()).min(1).default(['RS256', 'ES256', 'EdDSA']),
              organisationClaim: z.string().default('org'),
              userClaim: z.string().default('sub'),
              groupsClaim: z.string().optional(),
            })
            .strict()
            .refine((issuer) => issuer.jwksUri !== undefined || (issuer.keys?.length ?? 0) > 0, 'an external issuer needs jwksUri or keys'),
        ),
      )
      .default([]),
    /**
     * OAuth2 clients registered at start when absent (beside `switchyard clients add`), as a
     * JSON array of {id, organisation (id or name, must exist), name, redirectUris, public,
     * secret}. Confidential clients need a secret of at least 32 characters; only its hash is
     * recorded. A client already registered is kept as it is (clients never change).
     */
    oauthClients: z
      .union([
        z.string().transform((value, context) => {
          try {
            return JSON.parse(value) as unknown;
          } catch {
            context.addIssue({ code: 'custom', message: 'oauthClients must be JSON' });
            return z.NEVER;
          }
        }),
        z.array(z.unknown()),
      ])
      .pipe(
        z.array(
          z
            .object({
              id: z.string().regex(/^[A-Za-z0-9_-]{3,64}$/, 'a client id is 3-64 characters of [A-Za-z0-9_-]'),
              organisation: z.string().min(1),
              name: z.string().min(1).max(200),
              redirectUris: z.array(z.string().min(1)).default([]),
              public: z.boolean().default(false),
              secret: z.string().min(32).max(512).optional(),
            })
            .strict()
            .refine((client) => client.public === (client.secret === undefined), 'a public client has no secret; a confidential one needs one'),
        ),
      )
      .default([]),
    /** Start even when the native uWS binary did not load (the slow `ws` shim). */
    allowUwsFallback: bool.default(false),
    /** Room API and SFU grid (customers, tokens, /internal): documented in src/modules/grid/grid-config.ts. */
    ...gridConfigShape,
    /** Device sync (syncChangeLimit, syncSleepSeconds, syncPausedSeconds): documented in src/modules/sync/config.ts. */
    ...syncConfigShape,
    /** Event listings (eventSubscriptionsPerConnection): documented in src/modules/event-listings/config.ts. */
    ...eventListingsConfigShape,
    /** Itineraries and items (rtmpPlaybackBaseUrl, rtmpRecordingSeconds, itemSessionTokenSeconds, itemHtmlIframeHostnames): documented in src/modules/itineraries/config.ts. */
    ...itinerariesConfigShape,
    /** Invitations (smtpUrl, mailFrom, guestTicketSeconds, ...): documented in src/modules/invitations/config.ts. */
    ...invitationsConfigShape,
    /** Chat: documented in src/modules/chat/config.ts. */
    ...chatConfigShape,
    /** Polls: documented in src/modules/polls/config.ts. */
    ...pollsConfigShape,
    /** Presence: documented in src/modules/presence/config.ts. */
    ...presenceConfigShape,
    /** Notices: documented in src/modules/notices/config.ts. */
    ...noticesConfigShape,
    /** Calls: documented in src/modules/calls/config.ts. */
    ...callsConfigShape,
    /** Streams: documented in src/modules/streams/config.ts. */
    ...streamsConfigShape,
    /** Reconnect and resume (resumeWindowSeconds, resumeBufferPushes, resumeFailuresPerMinutePerAddress): documented in src/modules/connections/config.ts. */
    ...resumeConfigShape,
    /** The cluster (cluster, clusterUser, clusterPassword, clusterReplicas, ...): documented in src/cluster/config.ts. */
    ...clusterConfigShape,
  })
  .strict()
  .superRefine((config, context) => {
    if (config.ssl && (!config.certificate || !config.privateKey)) {
      context.addIssue({ code: 'custom', message: 'ssl needs both certificate and privateKey', path: ['ssl'] });
    }
  });

export type Config = Readonly<z.infer<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;

const FLAG_KEYS: Readonly<Record<string, keyof ConfigInput>> = {
  host: 'host',
  port: 'port',
  data: 'dataDir',
  ssl: 'ssl',
  certificate: 'certificate',
  privatekey: 'privateKey',
  'log-level': 'logLevel',
  cluster: 'cluster',
};

const toEnvName = (key: string): string => `SWITCHYARD_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}`;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface ConfigSources {
  /** Parsed command-line flags (`--port 7001` as { port: '7001' }). */
  flags?: Record<string, string | boolean | undefined>;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Builds the one frozen config object from all sources; throws ConfigError naming the bad key. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? {};
  const flags = sources.flags ?? {};
  const cwd = sources.cwd ?? '.';
  const merged: Record<string, unknown> = {};

  const configFile = (flags.config as string | undefined) ?? env.SWITCHYARD_CONFIG;
  if (configFile) {
    const path = isAbsolute(configFile) ? configFile : resolve(cwd, configFile);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${path} must hold a JSON object`);
    }
    Object.assign(merged, parsed);
  }
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[toEnvName(key)];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const value = flags[flag];
    if (value !== undefined) merged[key] = value;
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = result.data;
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(cwd, config.dataDir);
  // Freeze the one nested value too: Object.freeze is shallow, and a shared config whose
  // allowedOrigins list any module could push to would not be the frozen object promised.
  Object.freeze(config.allowedOrigins);
  Object.freeze(config.socketIoNamespaces);
  Object.freeze(config.itemHtmlIframeHostnames);
  Object.freeze(config.cluster);
  return Object.freeze(config);
}

/** The environment variable for a key, for docs and error messages. */
export const envNameOf = toEnvName;

/** Variables with the SWITCHYARD_ prefix that name no config key but are read all the same. */
const OTHER_ENV_NAMES = ['SWITCHYARD_CONFIG'];

/** Edits (insert, delete, substitute, swap of neighbours) from one name to another. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * One warning per `SWITCHYARD_*` variable that names no config key. loadConfig reads only the
 * names it knows, so a typo (SWITCHYARD_PROT) was ignored without a word and the default
 * applied. A near miss (a third of the name's length in edits, at most 3) says which was meant.
 */
export function unknownEnvironmentWarnings(env: Record<string, string | undefined>): string[] {
  const known = [...Object.keys(configSchema.shape).map(toEnvName), ...OTHER_ENV_NAMES];
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('SWITCHYARD_') || known.includes(name)) continue;
    let nearest: { name: string; distance: number } | undefined;
    for (const candidate of known) {
      const distance = editDistance(name, candidate);
      if (!nearest || distance < nearest.distance) nearest = { name: candidate, distance };
    }
    const suffix = name.length - 'SWITCHYARD_'.length;
    const near = nearest !== undefined && nearest.distance <= Math.min(3, Math.max(1, Math.floor(suffix / 3)));
    warnings.push(`unknown environment variable ${name} is ignored${near ? ` (did you mean ${nearest!.name}?)` : ''}`);
  }
  return warnings;
}

/** Descriptors kept for everything but sockets: the log and its WAL, key files, HTTP requests, NATS. */
export const DESCRIPTOR_RESERVE = 1024;

/**
 * The open-socket cap in effect: `maxConnections` as configured, or, unset, the open-file limit
 * this process runs under less DESCRIPTOR_RESERVE (Linux: /proc/self/limits; Node raises the soft
 * limit to the hard one at start). Without it, sockets took the last descriptors and a sign-in's
 * file open failed as INTERNAL (20,000 sockets under `ulimit -n 20000`, bench/ws/idle.mjs).
 * 0 (off) where the limit cannot be read.
 */
export function maxConnectionsOf(config: Pick<Config, 'maxConnections'>, limitsFile = '/proc/self/limits'): number {
  if (config.maxConnections !== undefined) return config.maxConnections;
  let limits: string;
  try {
    limits = readFileSync(limitsFile, 'utf8');
  } catch {
    return 0;
  }
  const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
  if (soft === undefined || soft === 'unlimited') return 0;
  return Math.max(1, Number(soft) - DESCRIPTOR_RESERVE);
}
