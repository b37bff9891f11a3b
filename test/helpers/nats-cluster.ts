import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';

/**
 * A real NATS cluster for tests: `nats-server` (Debian's package) started N times on loopback
 * ports, with JetStream, routes between them, and user/password auth required on clients and
 * routes, so tests also see what a client without the cluster credentials gets.
 *
 * Without `nats-server` on the PATH the cluster tests skip with the reason on a laptop; with
 * `CI=true` they fail: `.ci/run` installs it.
 */

export interface NatsServer {
  name: string;
  port: number;
  clusterPort: number;
  storeDir: string;
  process: ChildProcess | undefined;
}

export interface NatsCluster {
  /** Client URLs of every server, `nats://127.0.0.1:port`, without credentials. */
  urls: string[];
  user: string;
  password: string;
  servers: NatsServer[];
  /** SIGKILL one server (its JetStream files stay, as after a crash). */
  kill(index: number): Promise<void>;
  /** Starts a killed server again on the same ports and store. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

export const natsServerBinary = findNatsServer();
export const natsMissing = natsServerBinary ? undefined : 'nats-server is not installed (Debian: apt-get install -y nats-server)';

/** For `describe.skipIf(...)`: true when the cluster tests cannot run here; throws in CI instead. */
export function skipWithoutNats(): boolean {
  if (!natsMissing) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true but the cluster tests cannot run: ${natsMissing}. .ci/run should have installed it.`);
  console.warn(`skipping cluster tests: ${natsMissing}`);
  return true;
}

function findNatsServer(): string | undefined {
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? 'nats-server' : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}:\n${log()}`);
    if (await portOpen(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nats-server never listened on ${port}:\n${log()}`);
}

/** Starts `size` servers (3 for R3 streams) under `dir`; resolves once every one listens. */
export async function startNatsCluster(dir: string, size = 3): Promise<NatsCluster> {
  if (!natsServerBinary) throw new Error(natsMissing);
  const user = 'gateway';
  const password = randomBytes(12).toString('hex');
  const routePassword = randomBytes(12).toString('hex');
  const servers: NatsServer[] = [];
  for (let index = 0; index < size; index++) {
    servers.push({ name: `nats-${index + 1}`, port: await freePort(), clusterPort: await freePort(), storeDir: join(dir, `nats-${index + 1}`), process: undefined });
  }
  const logs = new Map<string, string>();

  const configOf = (server: NatsServer): string => {
    const routes = servers
      .filter((other) => other !== server)
      .map((other) => `nats-route://route:${routePassword}@127.0.0.1:${other.clusterPort}`);
    return [
      `server_name: ${server.name}`,
      `listen: 127.0.0.1:${server.port}`,
      `jetstream { store_dir: "${server.storeDir}", max_memory_store: 268435456, max_file_store: 4294967296 }`,
      // Quoted: a bare value starting with a digit is a parse error in the NATS config syntax.
      `authorization { users: [ { user: "${user}", password: "${password}" } ] }`,
      size > 1
        ? `cluster { name: switchyard-test, listen: 127.0.0.1:${server.clusterPort}, authorization { user: "route", password: "${routePassword}" }, routes: [ ${routes.join(', ')} ] }`
        : '',
    ].join('\n');
  };

  const start = async (server: NatsServer): Promise<void> => {
    mkdirSync(server.storeDir, { recursive: true });
    const configFile = join(dir, `${server.name}.conf`);
    writeFileSync(configFile, configOf(server));
    const child = spawn(natsServerBinary, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    logs.set(server.name, '');
    const keep = (chunk: Buffer) => logs.set(server.name, (logs.get(server.name)! + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    server.process = child;
    await waitForPort(server.port, child, () => logs.get(server.name)!);
  };

  const kill = async (server: NatsServer): Promise<void> => {
    const child = server.process;
    server.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };

  const started = await Promise.allSettled(servers.map(start));
  const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) {
    // One server that could not start must not leave the others running.
    await Promise.all(servers.map(kill));
    throw failed.reason;
  }
  return {
    urls: servers.map((server) => `nats://127.0.0.1:${server.port}`),
    user,
    password,
    servers,
    kill: (index) => kill(servers[index]!),
    restart: (index) => start(servers[index]!),
    stop: async () => {
      await Promise.all(servers.map(kill));
    },
  };
}
