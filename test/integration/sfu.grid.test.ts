import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSfu, startFleet, type Fleet } from '../../bench/http/fleet.mjs';
import { deriveServerKey } from '../../src/auth/odin-keys.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { INTERNAL_TOKEN, gatewayToken, gridOverrides, internal, post, rpc, testCustomer, type TestCustomer } from '../helpers/odin.js';

const INTERVAL_SECONDS = 60;

let gateway: TestGateway;
let fleet: Fleet;
let acme: TestCustomer;

beforeAll(async () => {
  acme = testCustomer('acme');
  gateway = await startTestGateway(gridOverrides([acme], { sfuReportIntervalSeconds: String(INTERVAL_SECONDS), sfuRemoveAfterSeconds: '600' }));
  fleet = await startFleet({ url: gateway.url(''), token: INTERNAL_TOKEN, count: 3, prefix: 'grid' });
});

afterAll(async () => {
  await fleet?.stop();
  await gateway?.close();
});

const head = () => gateway.gateway.store.headPosition();
const info = async () => (await internal(gateway, 'Info')).body.result;
const serverState = async (address: string) => (await info()).servers.find((server: { address: string }) => server.address === address)?.state;

describe('/internal credentials', () => {
  it('refuses no, wrong or malformed credentials with 401 and changes nothing', async () => {
    const before = head();
    const params = { public_endpoint: 'intruder.example:4433', version: '1', load: 0, clients: 0, rooms: [] };
    for (const authorization of [
      undefined,
      'Bearer wrong-token-wrong-token',
      `Basic ${Buffer.from(`sfu:wrong-token-wrong`).toString('base64')}`,
      `Basic ${Buffer.from(`admin:${INTERNAL_TOKEN}`).toString('base64')}`,
      `Token ${INTERNAL_TOKEN}`,
      'Basic !!!',
    ]) {
      const answer = await post(gateway.url('/internal'), JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'sfu.Report', params }), {
        'content-type': 'application/json',
        ...(authorization ? { authorization } : {}),
      });
      expect({ status: answer.status, code: answer.body.error.code }).toEqual({ status: 401, code: -32001 });
      expect(answer.headers.get('www-authenticate')).toMatch(/Bearer/);
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(head()).toBe(before);
  });

  it('takes Basic credentials (user "sfu", the token as password) as well as Bearer', async () => {
    const basic = `Basic ${Buffer.from(`sfu:${INTERNAL_TOKEN}`).toString('base64')}`;
    const answer = await internal(gateway, 'Info', {}, basic);
    expect(answer.status).toBe(200);
    expect(answer.body.result.servers).toHaveLength(3);
  });

  it('without SWITCHYARD_INTERNAL_TOKEN, /internal is off and says how to turn it on', async () => {
    const closed = await startTestGateway({ customers: JSON.stringify([acme.config]) });
    try {
      const answer = await internal(closed, 'Info');
      expect(answer.status).toBe(404);
      expect(answer.body.error).toMatchObject({ code: -32004, message: expect.stringMatching(/SWITCHYARD_INTERNAL_TOKEN/) });
      // And nothing works with any guess, not even an empty token.
      expect((await internal(closed, 'Info', {}, 'Bearer ')).status).toBe(404);
    } finally {
      await closed.close();
    }
  });
});

describe('sfu.GridConfig', () => {
  it("merges the recommended settings into the server's TOML and hands out its key, derived from the master key", async () => {
    const server = new FakeSfu({ url: gateway.url(''), authorization: `Bearer ${INTERNAL_TOKEN}`, address: 'config-test.example:4433' });
    const toml = await server.gridConfig('[quic]\nbinding = "0.0.0.0:4433"\nidle_timeout = 1234\n[metrics]\nallowed = ["10.1.0.0/16"]\n');
    const config = parse(toml) as Record<string, any>;
    expect(config.quic).toMatchObject({ binding: '0.0.0.0:4433', idle_timeout: 1234, keep_alive_interval: 5000 });
    expect(config.supervisor.report_interval).toBe(INTERVAL_SECONDS * 1000);
    expect(config.metrics.allowed).toEqual(['10.1.0.0/16', '127.0.0.1/8', '::1/128']);
    const master = Buffer.from(readFileSync(join(gateway.dataDir, 'keys', 'grid-master.key'), 'utf8').trim(), 'base64');
    expect(master).toHaveLength(32);
    const expected = deriveServerKey(master, 'config-test.example:4433');
    expect(config.authorization.keys).toEqual([{ kid: expected.keyId, kty: 'OKP', crv: 'Ed25519', x: expected.publicKeyBytes.toString('base64url') }]);
    // The private half never leaves the gateway.
    expect(toml).not.toMatch(/\bd\s*=/);
    expect(await serverState('config-test.example:4433')).toBe('registered');
  });

  it('a server that names no endpoint is its remote address on port 4433', async () => {
    const answer = await internal(gateway, 'sfu.GridConfig', { version: '1', config: '' });
    expect(answer.status).toBe(200);
    expect(await serverState('127.0.0.1:4433')).toBe('registered');
  });

  it('refuses a config that is not TOML, and bad params, without registering anything', async () => {
    const before = head();
    const bad = await internal(gateway, 'sfu.GridConfig', { public_endpoint: 'bad.example:4433', version: '1', config: '[quic' });
    expect(bad.body.error).toMatchObject({ code: -32602, message: expect.stringMatching(/^config is not valid TOML/) });
    const grid = await internal(gateway, 'sfu.GridConfig', { public_endpoint: 'bad.example:4433', version: '1', config: '', server: 'saga' });
    expect(grid.body.error.code).toBe(-32602);
    const report = await internal(gateway, 'sfu.Report', { public_endpoint: 'bad.example:4433', version: '1', load: 0, clients: 0, rooms: [{ id: 'x' }] });
    expect(report.body.error).toMatchObject({ code: -32602, data: { issues: expect.arrayContaining([expect.objectContaining({ path: 'rooms.0.id' })]) } });
    expect(head()).toBe(before);
  });
});

describe('sfu.Report', () => {
  it('a server reporting a room another server owns is told to close it; the owner keeps it', async () => {
    const connect = await rpc(gateway, gatewayToken(acme, 'contested'), 'Connect');
    const owner = fleet.server(connect.body.result.address)!;
    owner.join(connect.body.result.token);
    await owner.report();
    const intruder = fleet.servers.find((server) => server !== owner)!;
    intruder.host(['acme', 'contested'], 'acme', 4);
    intruder.host(['acme', 'its-own-room'], 'acme', 1);
    const tasks = await intruder.report();
    expect(tasks).toEqual([{ task: 'RoomClose', id: ['acme', 'contested'], ban_time: { secs: INTERVAL_SECONDS, nanos: 0 } }]);
    expect(intruder.room(['acme', 'contested'])).toBeUndefined();
    const rooms = (await info()).rooms;
    expect(rooms.find((room: { id: string[] }) => room.id[1] === 'contested')).toMatchObject({ server: owner.address, peers: 1 });
    expect(rooms.find((room: { id: string[] }) => room.id[1] === 'its-own-room')).toMatchObject({ server: intruder.address });
    const collided = gateway.gateway.store.readAll({ type: 'SfuRoomCollided' });
    expect(collided.at(-1)?.data).toMatchObject({ room: ['acme', 'contested'], owner: owner.address });
    // The owner's clients are still counted once, by the owner.
    const usage = (await info()).customers.find((customer: { id: string }) => customer.id === 'acme').usage;
    expect(usage.peers).toBe(2);
  });
});

describe('silent servers', () => {
  it('are disabled after 1.5 report intervals, their rooms placed again, and removed later', async () => {
    const connect = await rpc(gateway, gatewayToken(acme, 'drifting'), 'Connect');
    const first = fleet.server(connect.body.result.address)!;
    first.join(connect.body.result.token);
    await first.report();
    first.silent = true;

    const disableAt = Date.now() + INTERVAL_SECONDS * 1500 + 1000;
    await gateway.gateway.grid.sweep(disableAt);
    expect(await serverState(first.address)).toBe('disabled');
    // Everyone was silent in that future; the others speak up again.
    for (const server of fleet.servers) if (server !== first) await server.report();
    expect(await serverState(first.address)).toBe('disabled');

    const again = await rpc(gateway, gatewayToken(acme, 'drifting', 'bob'), 'Connect');
    expect(again.status).toBe(200);
    const second = fleet.server(again.body.result.address)!;
    expect(second).not.toBe(first);
    second.join(again.body.result.token);
    await second.report();

    // Room API calls still reach the new host only.
    expect((await rpc(gateway, gatewayToken(acme, 'drifting'), 'RoomUpdate', { room_id: 'drifting', user_data: [9] })).status).toBe(200);
    expect(await second.report()).toEqual([{ task: 'RoomUpdate', id: ['acme', 'drifting'], user_data: [9] }]);

    // Removal: a disabled server silent for sfuRemoveAfterSeconds goes, with its undelivered tasks.
    await gateway.gateway.grid.sweep(disableAt + 601_000);
    expect(await serverState(first.address)).toBe('removed');
    const removed = gateway.gateway.store.readAll({ type: 'SfuServerRemoved', streamId: `sfu-${first.address}` });
    expect(removed).toHaveLength(1);
    for (const server of fleet.servers) if (server !== first) await server.report();

    // The removed server comes back: it registers anew and its stale room collides with the new host.
    first.silent = false;
    const tasks = await first.report();
    expect(tasks).toEqual([{ task: 'RoomClose', id: ['acme', 'drifting'], ban_time: { secs: INTERVAL_SECONDS, nanos: 0 } }]);
    expect(await serverState(first.address)).toBe('active');
  });
});

describe('Info and metrics', () => {
  it('Info counts calls per method and outcome; /metrics shows the grid', async () => {
    await rpc(gateway, gatewayToken(acme, 'metered'), 'Connect');
    await rpc(gateway, gatewayToken(acme, 'metered'), 'RoomClose', { room_id: 5 });
    const stats = (await info()).stats.apiCalls as { name: string; success: number; rejected: number; failure: number }[];
    const connect = stats.find((entry) => entry.name === 'Connect')!;
    expect(connect.success).toBeGreaterThanOrEqual(1);
    expect(stats.find((entry) => entry.name === 'RoomClose')!.rejected).toBeGreaterThanOrEqual(1);
    expect(stats.find((entry) => entry.name === 'sfu.Report')!.success).toBeGreaterThanOrEqual(3);
    const metrics = await (await fetch(gateway.url('/metrics'))).text();
    expect(metrics).toMatch(/switchyard_sfu_servers\{state="active"\} [1-9]/);
    expect(metrics).toMatch(/switchyard_rpc_calls_total\{endpoint="public",method="Connect",outcome="success"\} [1-9]/);
    expect(metrics).toMatch(/switchyard_customers 1/);
  });
});
