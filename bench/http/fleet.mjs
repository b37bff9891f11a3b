// A fleet of fake ODIN SFU servers for tests and benchmarks.
//
// Each server does what a real one does towards the gateway: `sfu.GridConfig` once (and
// keeps the key the gateway hands it), then `sfu.Report` with its load, clients and rooms,
// and obeys the tasks the report is answered with. Clients "join" with the room token from
// Connect; the server verifies it as a real one would (signature with its key, `aud`,
// `adr`, `exp`), so a test that joins proves the token is good for that server.
//
//   import { startFleet } from './bench/http/fleet.mjs';
//   const fleet = await startFleet({ url: 'http://127.0.0.1:7000', token: 'secret', count: 3 });
//   await fleet.reportAll();                  // one report round, tasks obeyed
//   fleet.start(5000);                        // or report every 5 s, as real servers do
//   await fleet.stop();

import { createPublicKey, verify } from 'node:crypto';
import { parse } from 'smol-toml';

const keyOf = (id) => JSON.stringify(id);

/** Seconds of an ODIN `{secs, nanos}` duration. */
const seconds = (duration) => (duration ? duration.secs + duration.nanos / 1e9 : 0);

export class RpcCallError extends Error {
  constructor(status, error) {
    super(`${error?.code ?? status}: ${error?.message ?? 'no JSON-RPC error'}`);
    this.status = status;
    this.rpc = error;
  }
}

/** One JSON-RPC call to /internal. */
export async function internalCall(url, authorization, method, params) {
  const response = await fetch(`${url}/internal`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = response.status === 204 ? undefined : await response.json();
  if (!body || body.error) throw new RpcCallError(response.status, body?.error);
  return body.result;
}

export class FakeSfu {
  constructor({ url, authorization, address, version = 'fleet-1.0', loadPerClient = 0.001 }) {
    this.url = url;
    this.authorization = authorization;
    this.address = address;
    this.version = version;
    this.loadPerClient = loadPerClient;
    /** roomKey -> { id, customer, peers: Map<uid, count>, createdAt, userData, messages } */
    this.rooms = new Map();
    /** roomKey -> unix ms until which the room may not be joined again */
    this.roomBans = new Map();
    /** roomKey + uid -> unix ms */
    this.userBans = new Map();
    /** Every task ever handed to this server, in order. */
    this.tasks = [];
    /** Tasks for rooms this server does not host. */
    this.ignoredTasks = [];
    this.reports = 0;
    this.publicKey = undefined;
    this.keyId = undefined;
    this.config = undefined;
    this.silent = false;
  }

  /** `sfu.GridConfig`: sends this server's TOML config, keeps the merged one and its key. */
  async gridConfig(configToml = '[quic]\nbinding = "0.0.0.0:4433"\n') {
    const result = await internalCall(this.url, this.authorization, 'sfu.GridConfig', {
      public_endpoint: this.address,
      version: this.version,
      config: configToml,
    });
    this.config = parse(result.config);
    const keys = this.config.authorization?.keys ?? [];
    const jwk = keys[keys.length - 1];
    if (!jwk) throw new Error('GridConfig handed out no key');
    this.keyId = jwk.kid;
    this.publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    return result.config;
  }

  get clients() {
    let clients = 0;
    for (const room of this.rooms.values()) for (const count of room.peers.values()) clients += count;
    return clients;
  }

  get load() {
    return Math.min(1, this.clients * this.loadPerClient);
  }

  /** The report body as a real server sends it. */
  reportParams(now = Date.now()) {
    return {
      public_endpoint: this.address,
      version: this.version,
      load: this.load,
      clients: this.clients,
      rooms: [...this.rooms.values()].map((room) => {
        const age = Math.max(0, now - room.createdAt);
        let peers = 0;
        for (const count of room.peers.values()) peers += count;
        return { id: room.id, customer: room.customer, age: { secs: Math.floor(age / 1000), nanos: (age % 1000) * 1e6 }, peers };
      }),
    };
  }

  /** `sfu.Report`; obeys and returns the tasks it is answered with. Silent servers skip it. */
  async report() {
    if (this.silent) return [];
    const { tasks } = await internalCall(this.url, this.authorization, 'sfu.Report', this.reportParams());
    this.reports += 1;
    for (const task of tasks) this.obey(task);
    return tasks;
  }

  obey(task, now = Date.now()) {
    this.tasks.push(task);
    const key = keyOf(task.id);
    const room = this.rooms.get(key);
    switch (task.task) {
      case 'RoomClose':
        this.rooms.delete(key);
        if (seconds(task.ban_time) > 0) this.roomBans.set(key, now + seconds(task.ban_time) * 1000);
        break;
      case 'RoomBanClient':
        room?.peers.delete(task.user_id);
        if (seconds(task.ban_time) > 0) this.userBans.set(`${key}\u0000${task.user_id}`, now + seconds(task.ban_time) * 1000);
        break;
      case 'RoomUpdate':
        if (room) room.userData = task.user_data;
        break;
      case 'RoomSendMessage':
        room?.messages.push({ user_id: task.user_id, message: task.message });
        break;
      default:
        break;
    }
    if (!room && task.task !== 'RoomClose') this.ignoredTasks.push(task);
  }

  /**
   * A client joins with a room token from Connect. Throws what a real server would refuse:
   * a token not signed with this server's key, not for `sfu`, for another address, expired,
   * or for a banned room or user.
   */
  join(roomToken, now = Date.now()) {
    if (!this.publicKey) throw new Error('no key yet: call gridConfig() first');
    const [header, payload, signature] = roomToken.split('.');
    const ok = verify(null, Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'));
    if (!ok) throw new Error('room token signature does not verify with this server key');
    const head = JSON.parse(Buffer.from(header, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    if (head.kid !== this.keyId) throw new Error(`room token kid ${head.kid} is not this server's ${this.keyId}`);
    if (claims.aud !== 'sfu') throw new Error('room token audience is not sfu');
    if (claims.adr !== this.address) throw new Error(`room token is for ${claims.adr}, not ${this.address}`);
    if (claims.exp * 1000 < now) throw new Error('room token expired');
    const name = Array.isArray(claims.rid) ? claims.rid[claims.rid.length - 1] : claims.rid;
    const id = [claims.nsp, name];
    const key = keyOf(id);
    if ((this.roomBans.get(key) ?? 0) > now) throw new Error('room is banned');
    if ((this.userBans.get(`${key}\u0000${claims.uid}`) ?? 0) > now) throw new Error('user is banned from the room');
    let room = this.rooms.get(key);
    if (!room) {
      room = { id, customer: claims.cid, peers: new Map(), createdAt: now, userData: undefined, messages: [] };
      this.rooms.set(key, room);
    }
    room.peers.set(claims.uid, (room.peers.get(claims.uid) ?? 0) + 1);
    return { id, claims };
  }

  /** Hosts a room without a token: to simulate a server that has a room it should not. */
  host(id, customer, peers = 1, now = Date.now()) {
    const key = keyOf(id);
    const room = { id, customer, peers: new Map(), createdAt: now, userData: undefined, messages: [] };
    for (let index = 0; index < peers; index++) room.peers.set(`peer-${index}`, 1);
    this.rooms.set(key, room);
    return room;
  }

  room(id) {
    return this.rooms.get(keyOf(id));
  }
}

export class Fleet {
  constructor(servers) {
    this.servers = servers;
    this.timer = undefined;
    this.errors = [];
    this.running = undefined;
  }

  server(address) {
    return this.servers.find((server) => server.address === address);
  }

  /** One report from every server (in parallel); resolves with the tasks by address. */
  async reportAll() {
    const tasks = await Promise.all(this.servers.map((server) => server.report()));
    return new Map(this.servers.map((server, index) => [server.address, tasks[index]]));
  }

  /** Reports every `intervalMs` until stop(); a failed round is recorded in `errors`, not thrown. */
  start(intervalMs) {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.reportAll()
        .catch((error) => this.errors.push(error))
        .finally(() => {
          this.running = undefined;
        });
    }, intervalMs);
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/**
 * Starts `count` fake servers against a gateway: each registers with sfu.GridConfig and sends
 * a first report, so all are active when this resolves. `auth` picks the credential form.
 */
export async function startFleet({
  url,
  token,
  count,
  host = '127.0.0.1',
  basePort = 14433,
  prefix,
  version,
  auth = 'bearer',
  user = 'sfu',
  loadPerClient,
}) {
  const authorization = auth === 'basic' ? `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` : `Bearer ${token}`;
  const servers = Array.from(
    { length: count },
    (_, index) =>
      new FakeSfu({
        url,
        authorization,
        address: prefix ? `${prefix}-${index}.example:${basePort}` : `${host}:${basePort + index}`,
        version,
        loadPerClient,
      }),
  );
  await Promise.all(servers.map((server) => server.gridConfig()));
  const fleet = new Fleet(servers);
  await fleet.reportAll();
  return fleet;
}
