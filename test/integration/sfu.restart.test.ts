import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../bench/http/fleet.mjs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { INTERNAL_TOKEN, gatewayToken, gridOverrides, internal, rpc, testCustomer } from '../helpers/odin.js';

const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-sfu-restart-'));
const running: TestGateway[] = [];

afterAll(async () => {
  for (const gateway of running) await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a gateway restart', () => {
  it('keeps queued tasks (handed out once), room placements and server keys', async () => {
    const acme = testCustomer('acme');
    const overrides = gridOverrides([acme], { sfuReportIntervalSeconds: '60' });
    const first = await startTestGateway(overrides, dataDir);
    running.push(first);
    const fleet = await startFleet({ url: first.url(''), token: INTERNAL_TOKEN, count: 2, prefix: 'restart' });

    const connect = await rpc(first, gatewayToken(acme, 'durable', 'alice'), 'Connect');
    const host = fleet.server(connect.body.result.address)!;
    host.join(connect.body.result.token);
    host.join((await rpc(first, gatewayToken(acme, 'durable', 'bob'), 'Connect')).body.result.token);
    await host.report();

    const token = gatewayToken(acme, 'durable');
    // One task handed out before the restart: it must not come again.
    await rpc(first, token, 'RoomSendMessage', { room_id: 'durable', user_id: 'alice', message: [1] });
    expect(await host.report()).toHaveLength(1);
    // Two queued and not handed out when the gateway goes down.
    await rpc(first, token, 'RoomBanClient', { room_id: 'durable', user_id: 'bob', ban_time: 60 });
    await rpc(first, token, 'RoomUpdate', { room_id: 'durable', user_data: [4, 2] });
    await first.close();
    running.pop();

    // The servers keep their URL; they point it at the new process.
    const second = await startTestGateway(overrides, dataDir);
    running.push(second);
    for (const server of fleet.servers) server.url = second.url('');

    // Before any report, the grid knows the servers and the room from the log.
    const info = (await internal(second, 'Info')).body.result;
    expect(info.servers.map((server: { address: string; state: string }) => [server.address, server.state]).sort()).toEqual(
      fleet.servers.map((server) => [server.address, 'active']).sort(),
    );
    expect(info.servers.find((server: { address: string }) => server.address === host.address).tasks).toBe(2);

    // The room is still placed where it was, and the server's key did not change.
    const rejoin = await rpc(second, gatewayToken(acme, 'durable', 'carol'), 'Connect');
    expect(rejoin.body.result.address).toBe(host.address);
    expect(() => host.join(rejoin.body.result.token)).not.toThrow();

    expect(await host.report()).toEqual([
      { task: 'RoomBanClient', id: ['acme', 'durable'], user_id: 'bob', ban_time: { secs: 60, nanos: 0 } },
      { task: 'RoomUpdate', id: ['acme', 'durable'], user_data: [4, 2] },
    ]);
    expect(await host.report()).toEqual([]);
    expect(host.room(['acme', 'durable'])?.userData).toEqual([4, 2]);
    expect(host.tasks.filter((task) => task.task === 'RoomSendMessage')).toHaveLength(1);

    // And once more, to be sure the hand-out itself was durable.
    await second.close();
    running.pop();
    const third = await startTestGateway(overrides, dataDir);
    running.push(third);
    for (const server of fleet.servers) server.url = third.url('');
    expect(await host.report()).toEqual([]);
  });
});
