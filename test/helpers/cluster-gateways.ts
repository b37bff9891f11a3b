import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLog, readLogDirect, runCli, spawnGateway, tempDataDir, waitFor, type ChildGateway, type LoggedEvent } from './child-gateway.js';
import { startNatsCluster, type NatsCluster } from './nats-cluster.js';
import { eventually, post, type RpcAnswer } from './odin.js';
import { APP_PASSWORD, type Peer } from './rooms.js';
import { TestClient, type Frame } from './ws-client.js';

/**
 * N gateway nodes (the built `dist/main.js`, child-gateway.ts) on one real NATS cluster
 * (nats-cluster.ts): each node its own process and data dir, port 0 read from its
 * `gateway ready` line, the app password set, so kill -9 and a restart on the same data dir
 * are what an operator would see. The tests need `npm run build` after any change in src/.
 */

/** Every config key as its environment variable, as test/helpers/gateway.ts spells them. */
export function envOf(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) env[`SWITCHYARD_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}`] = value;
  return env;
}

export interface ClusterGatewaysOptions {
  /** Gateway nodes; default 3. */
  nodes?: number;
  /** NATS servers; default 3 (R3 needs three). */
  natsServers?: number;
  /** Config keys every node gets (camelCase, as in src/app/config.ts), beside the cluster's. */
  config?: Record<string, string>;
}

export interface ClusterGateways {
  nats: NatsCluster;
  /** The node processes as they run now: `restart(i)` replaces entry i. */
  readonly nodes: readonly ChildGateway[];
  node(index: number): ChildGateway;
  /** The environment a node starts with (cluster URLs, credentials and the options' config). */
  readonly env: Record<string, string>;
  /** SIGKILL node `index` and wait for its exit; its data dir stays, as after a crash. */
  kill9(index: number): Promise<void>;
  /** Starts node `index` again on the same data dir; resolves once it is ready. */
  restart(index: number): Promise<ChildGateway>;
  /** Kills every node and NATS server and removes the NATS store (data dirs: `removeTempDataDirs`). */
  dispose(): Promise<void>;
}

export async function startClusterGateways(options: ClusterGatewaysOptions = {}): Promise<ClusterGateways> {
  const natsDir = mkdtempSync(join(tmpdir(), 'switchyard-nats-'));
  const nats = await startNatsCluster(natsDir, options.natsServers ?? 3);
  const env = envOf({
    cluster: nats.urls.join(','),
    clusterUser: nats.user,
    clusterPassword: nats.password,
    clusterReplicas: String(Math.min(3, nats.servers.length)),
    appPassword: APP_PASSWORD,
    ...options.config,
  });
  const dataDirs = Array.from({ length: options.nodes ?? 3 }, () => tempDataDir());
  const nodes: ChildGateway[] = [];
  const start = (index: number) => spawnGateway({ dataDir: dataDirs[index]!, env, readyTimeoutMs: 60_000 });
  try {
    // All at once, as an operator's supervisor would: the key files' seed race has one winner.
    nodes.push(...(await Promise.all(dataDirs.map((_, index) => start(index)))));
  } catch (error) {
    await nats.stop();
    rmSync(natsDir, { recursive: true, force: true });
    throw error;
  }
  try {
    await everyNodeSees(nodes);
  } catch (error) {
    await Promise.all(nodes.map((running) => running.dispose()));
    await nats.stop();
    rmSync(natsDir, { recursive: true, force: true });
    throw error;
  }
  const node = (index: number): ChildGateway => {
    const found = nodes[index];
    if (!found) throw new Error(`no gateway node ${index}`);
    return found;
  };
  return {
    nats,
    nodes,
    node,
    env,
    async kill9(index) {
      await node(index).dispose();
    },
    async restart(index) {
      if (node(index).child.exitCode === null && node(index).child.signalCode === null) throw new Error(`node ${index} is still running`);
      nodes[index] = await start(index);
      await everyNodeSees(nodes);
      return nodes[index];
    },
    async dispose() {
      await Promise.all(nodes.map((running) => running.dispose()));
      await nats.stop();
      rmSync(natsDir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until every node's directory lists all of `nodes` (`switchyard_cluster_nodes`). A node
 * is ready before it has heard the others' heartbeats (nodes already running are listed from
 * their next heartbeat), and a peer on a node not yet heard of is not reachable from it.
 */
export async function everyNodeSees(nodes: readonly NodeAddress[]): Promise<void> {
  for (const node of nodes) {
    await eventually(async () => (await metricOf(node, 'switchyard_cluster_nodes')) === nodes.length, `${node.url()} sees ${nodes.length} nodes`, 60_000);
  }
}

/** What the helpers below need of a node: its URLs (a ChildGateway, or an in-process TestGateway). */
export interface NodeAddress {
  url(path?: string): string;
  wsUrl(path?: string): string;
}

/** An app token from `POST /app` of `node` (nodes start with APP_PASSWORD). */
export async function appTokenOf(node: NodeAddress, app = 'demo'): Promise<string> {
  const response = await fetch(node.url('/app'), { method: 'POST', body: JSON.stringify({ app, password: APP_PASSWORD }) });
  if (response.status !== 200) throw new Error(`POST /app answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { response: { token: string } };
  return body.response.token;
}

/** A native client of `node` that completed Chat Signal's `auth-request` (JSON, or MessagePack with that subprotocol). */
export async function connectPeerTo(node: NodeAddress, token: string, codec: 'json' | 'msgpack' = 'json'): Promise<Peer> {
  const msgpack = codec === 'msgpack';
  const client = await TestClient.open(node.wsUrl(), msgpack ? { protocols: ['switchyard.v1.msgpack'] } : {});
  const welcome = await client.next('welcome');
  const frame = { event: 'auth-request', data: token };
  if (msgpack) client.sendMsgpack(frame);
  else client.sendJson(frame);
  const accept = await client.next('auth-accept', 15_000);
  return { client, peerId: (welcome.data as { peer_id: string }).peer_id, sessionToken: (accept.data as { token: string }).token };
}

/** One JSON-RPC call to `node`'s room API (`/`) or `/internal`. */
export function rpcTo(node: NodeAddress, authorization: string, method: string, params: unknown = {}, path = '/'): Promise<RpcAnswer> {
  return post(node.url(path), JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), { 'content-type': 'application/json', authorization });
}

/** A gauge's value from `node`'s `/metrics` (Prometheus text), undefined when absent. */
export async function metricOf(node: NodeAddress, name: string): Promise<number | undefined> {
  const text = await (await fetch(node.url('/metrics'))).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** A frame crosses a process, NATS and another process: a hang guard for a loaded 2-core machine, not a timing claim. */
export const FRAME_MS = 20_000;

let nextId = 1;

/** Sends `event` with a fresh id; resolves with the answer carrying that id (appends may wait out a NATS failover). */
export function ask(peer: Peer, event: string, data: unknown, timeoutMs = FRAME_MS): Promise<Frame> {
  const id = nextId++;
  peer.client.sendJson({ event, data, id });
  return peer.client.next((frame) => frame.id === id, timeoutMs).catch((error: unknown) => {
    throw new Error(`peer ${peer.peerId} got no answer to ${event}: ${error instanceof Error ? error.message : String(error)}`);
  });
}

/** The next frame named `event` (whose data passes `where`) that `peer` received. */
export function nextFrame(peer: Peer, event: string, where: (data: Record<string, unknown>) => boolean = () => true, timeoutMs = FRAME_MS): Promise<Frame> {
  return peer.client.next((frame) => frame.event === event && where(frame.data as Record<string, unknown>), timeoutMs).catch((error: unknown) => {
    // Which peer waited for what: several wait at once in these tests.
    throw new Error(`peer ${peer.peerId} never got ${event}: ${error instanceof Error ? error.message : String(error)}`);
  });
}

/**
 * Every node's log as `switchyard events --json` prints it from the node's data dir, once all
 * mirrors reached one head, each cut at the last position all of them hold (something may
 * append between two of the CLI runs).
 */
export async function clusterLogs(nodes: readonly ChildGateway[]): Promise<LoggedEvent[][]> {
  const heads = () => nodes.map((node) => readLogDirect(node.dataDir).at(-1)?.position ?? 0);
  await waitFor(heads, (positions) => positions.every((position) => position === positions[0]), 60_000, 'one head on every node');
  const logs = await Promise.all(nodes.map((node) => readLog(node.dataDir)));
  const upTo = Math.min(...logs.map((log) => log.at(-1)?.position ?? 0));
  return logs.map((log) => log.filter((event) => event.position <= upTo));
}

export interface ReplayReport {
  equal: boolean;
  events: number;
  tables: { projection: string; table: string; differences: number }[];
}

/** `switchyard replay --json` on a node's data dir: its read models rebuilt from its log, compared with the live ones. */
export async function replayOf(node: ChildGateway): Promise<ReplayReport> {
  const replay = await runCli(['replay', '--data', node.dataDir, '--json'], { timeoutMs: 60_000 });
  if (replay.code !== 0 && replay.stdout.trim() === '') throw new Error(`replay exited ${replay.code}: ${replay.stderr}`);
  return JSON.parse(replay.stdout) as ReplayReport;
}
