// A NATS cluster for the benchmarks: Debian's `nats-server` started `size` times on loopback
// ports, JetStream on with a fresh store directory each, routes between them, and
// user/password auth required on clients and routes, as a deployment runs it (and as
// test/helpers/nats-cluster.ts does for the tests; benches do not import test helpers).
//
// Each server can be pinned (`taskset -c <core>`), so a bench can keep NATS off the cores
// it measures. `stop()` SIGKILLs every server and removes the store; a bench must also call
// `disposeNow()` from its exit handler, which works synchronously.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server', 'nats-server'];

/** The first nats-server that answers `--version`, with its version line; undefined if none. */
export function findNatsServer() {
  for (const candidate of CANDIDATES) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return { binary: candidate, version: probe.stdout.trim() };
  }
  return undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts the servers; resolves once every one accepts clients (JetStream's meta leader is
 * elected a moment later: the store's open waits for it). `core`: a taskset core list, or
 * undefined for no pinning.
 */
export async function startNatsCluster({ size = 3, core } = {}) {
  const found = findNatsServer();
  if (!found) throw new Error('nats-server is not installed (Debian: apt-get install -y nats-server)');
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-nats-'));
  const user = 'gateway';
  const password = randomBytes(12).toString('hex');
  const routePassword = randomBytes(12).toString('hex');
  const servers = [];
  for (let index = 0; index < size; index++) {
    servers.push({ name: `nats-${index + 1}`, port: await freePort(), clusterPort: await freePort(), storeDir: join(dir, `nats-${index + 1}`), child: null, log: '' });
  }
  const configOf = (server) => {
    const routes = servers.filter((other) => other !== server).map((other) => `nats-route://route:${routePassword}@127.0.0.1:${other.clusterPort}`);
    return [
      `server_name: ${server.name}`,
      `listen: 127.0.0.1:${server.port}`,
      `jetstream { store_dir: "${server.storeDir}", max_memory_store: 268435456, max_file_store: 4294967296 }`,
      // Quoted: a bare value starting with a digit is a parse error in the NATS config syntax.
      `authorization { users: [ { user: "${user}", password: "${password}" } ] }`,
      size > 1
        ? `cluster { name: switchyard-bench, listen: 127.0.0.1:${server.clusterPort}, authorization { user: "route", password: "${routePassword}" }, routes: [ ${routes.join(', ')} ] }`
        : '',
    ].join('\n');
  };
  const killNow = () => {
    for (const server of servers) {
      if (server.child && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    }
  };
  /** For an exit handler: kills every server and removes the store, synchronously. */
  const disposeNow = () => {
    killNow();
    rmSync(dir, { recursive: true, force: true });
  };
  const start = async (server) => {
    mkdirSync(server.storeDir, { recursive: true });
    const configFile = join(dir, `${server.name}.conf`);
    writeFileSync(configFile, configOf(server));
    const command = core === undefined ? [found.binary, '-c', configFile] : ['taskset', '-c', String(core), found.binary, '-c', configFile];
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    server.child = child;
    const keep = (chunk) => (server.log = (server.log + chunk.toString()).slice(-8000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    for (let attempt = 0; attempt < 400; attempt++) {
      if (child.exitCode !== null) throw new Error(`${server.name} exited with ${child.exitCode}:\n${server.log}`);
      if (await portOpen(server.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${server.name} never listened on ${server.port}:\n${server.log}`);
  };
  const stop = async () => {
    const exits = servers
      .filter((server) => server.child && server.child.exitCode === null && server.child.signalCode === null)
      .map((server) => new Promise((resolve) => server.child.once('exit', resolve)));
    killNow();
    await Promise.all(exits);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(servers.map(start));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    version: found.version,
    urls: servers.map((server) => `nats://127.0.0.1:${server.port}`),
    user,
    password,
    /** The nats-server processes' pids (taskset execs in place, so the pid is the server's). */
    pids: () => servers.map((server) => server.child.pid),
    storeDir: dir,
    stop,
    disposeNow,
  };
}
