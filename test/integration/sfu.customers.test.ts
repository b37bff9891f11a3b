import { TokenGenerator } from '@4players/odin-tokens';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../bench/http/fleet.mjs';
import { customersCommand } from '../../src/cli/customers.js';
import { loadConfig } from '../../src/app/config.js';
import type { Output } from '../../src/cli/output.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { INTERNAL_TOKEN, eventually, gridOverrides, rpc, testCustomer } from '../helpers/odin.js';

function capture(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (line) => lines.push(line), err: (line) => errors.push(line) };
}

const token = (accessKey: string, room = 'hall', uid = 'u1') =>
  new TokenGenerator(accessKey).createToken(room, uid, { audience: 'gateway', subject: ['connect', 'roomclose'] });

describe('switchyard customers, while the gateway runs', () => {
  let gateway: TestGateway;
  let fleet: Fleet;
  beforeAll(async () => {
    gateway = await startTestGateway(gridOverrides([], { sfuReportIntervalSeconds: '60' }));
    fleet = await startFleet({ url: gateway.url(''), token: INTERNAL_TOKEN, count: 2 });
  });
  afterAll(async () => {
    await fleet?.stop();
    await gateway?.close();
  });

  const cli = async (...argv: string[]) => {
    const output = capture();
    const code = await customersCommand(argv, loadConfig({ flags: { data: gateway.dataDir } }), output);
    return { code, ...output };
  };

  it('add prints the access key once; the gateway accepts its tokens within a second; keys never show it again', async () => {
    const added = await cli('add', '--id', 'cli-co', '--max-peers', '50', '--max-rooms', '1', '--json');
    expect(added.code).toBe(0);
    const { accessKey, keyId, maxRooms } = JSON.parse(added.lines[0]!);
    expect(maxRooms).toBe(1);
    expect(accessKey).toMatch(/^[A-Za-z0-9+/]{44}$/);

    const connected = await eventually(async () => {
      const answer = await rpc(gateway, token(accessKey), 'Connect');
      return answer.status === 200 ? answer : undefined;
    }, 'the gateway accepts the new key');
    expect(connected.body.result.address).toEqual(expect.any(String));
    // The log holds the public key only.
    const logText = JSON.stringify(gateway.gateway.store.readAll({ streamId: 'customer-cli-co' }));
    expect(logText).toContain(keyId);
    expect(logText).not.toContain(accessKey);

    const listed = await cli('keys', '--id', 'cli-co', '--json');
    expect(JSON.parse(listed.lines[0]!).keys.map((key: { keyId: string }) => key.keyId)).toEqual([keyId]);
    expect(listed.lines.join('\n')).not.toContain(accessKey);

    // The licence from the CLI is in force: one room only.
    const second = await rpc(gateway, token(accessKey, 'other-hall'), 'Connect');
    expect(second.body.error).toMatchObject({ code: -32029, message: 'room limit exceeded' });
    expect((await cli('limits', '--id', 'cli-co', '--max-peers', '50', '--max-rooms', 'unlimited')).code).toBe(0);
    await eventually(async () => (await rpc(gateway, token(accessKey, 'other-hall'), 'Connect')).status === 200, 'the new limits apply');
  });

  it('keys --add adds a second key; --revoke takes one away', async () => {
    await cli('add', '--id', 'rotating', '--max-peers', 'unlimited', '--max-rooms', 'unlimited');
    const added = await cli('keys', '--id', 'rotating', '--add', '--json');
    const { accessKey, keyId } = JSON.parse(added.lines[0]!);
    await eventually(async () => (await rpc(gateway, token(accessKey), 'Connect')).status === 200, 'the second key works');
    expect((await cli('keys', '--id', 'rotating', '--revoke', keyId)).code).toBe(0);
    const refused = await eventually(async () => {
      const answer = await rpc(gateway, token(accessKey), 'Connect');
      return answer.status === 401 ? answer : undefined;
    }, 'the revoked key is refused');
    expect(refused.body.error.code).toBe(-32001);
  });

  it('refuses what makes no sense, with a message and exit code 1', async () => {
    await cli('add', '--id', 'dup', '--max-peers', '1', '--max-rooms', '1');
    const twice = await cli('add', '--id', 'dup', '--max-peers', '1', '--max-rooms', '1');
    expect(twice.code).toBe(1);
    expect(twice.errors[0]).toMatch(/^CONFLICT: customer dup already exists/);
    expect((await cli('add', '--id', 'x', '--max-peers', 'many', '--max-rooms', '1')).errors[0]).toMatch(/--max-peers must be/);
    expect((await cli('add', '--id', 'bad/id', '--max-peers', '1', '--max-rooms', '1')).errors[0]).toMatch(/customer id/);
    expect((await cli('keys', '--id', 'nobody')).errors[0]).toMatch(/^NOT_FOUND/);
    expect((await cli('keys', '--id', 'dup', '--revoke', 'AAAAAAAAAAAA')).errors[0]).toMatch(/^NOT_FOUND/);
    const list = await cli('list', '--json');
    expect(list.lines.map((line) => JSON.parse(line).customerId)).toEqual(expect.arrayContaining(['cli-co', 'rotating', 'dup']));
  });
});

describe('the customer API', () => {
  let api: Server;
  let answer: { status: number; body: string };
  let requests = 0;
  let authorization: string | undefined;
  let gateway: TestGateway;
  let fleet: Fleet;
  const apiCustomer = testCustomer('api-co', null, null);

  beforeAll(async () => {
    answer = { status: 200, body: JSON.stringify([apiCustomer.config]) };
    api = createServer((request, response) => {
      requests += 1;
      authorization = request.headers.authorization;
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(answer.body);
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(api.address() as AddressInfo).port}/customers`;
    gateway = await startTestGateway(gridOverrides([], { customerApiUrl: url, customerApiToken: 'api-bearer', customerApiUpdateInterval: '3600' }));
    fleet = await startFleet({ url: gateway.url(''), token: INTERNAL_TOKEN, count: 1 });
  });
  afterAll(async () => {
    await fleet?.stop();
    await gateway?.close();
    await new Promise((resolve) => api?.close(resolve));
  });

  const failures = async () => Number(/switchyard_customer_api_failures_total (\d+)/.exec(await (await fetch(gateway.url('/metrics'))).text())![1]);
  const connect = () => rpc(gateway, token(apiCustomer.accessKey), 'Connect');

  it('is fetched at start with its bearer token, and its customers can connect', async () => {
    await eventually(async () => (await connect()).status === 200, 'the API customer can connect');
    expect(requests).toBeGreaterThanOrEqual(1);
    expect(authorization).toBe('Bearer api-bearer');
  });

  it('a failing or invalid answer keeps the last good list, is logged and counted', async () => {
    const poller = gateway.gateway.grid.customerApi!;
    const before = await failures();
    answer = { status: 500, body: 'oops' };
    expect(await poller.poll()).toBe(false);
    answer = { status: 200, body: '{"not": "a list"}' };
    expect(await poller.poll()).toBe(false);
    answer = { status: 200, body: JSON.stringify([{ id: 'broken', maxPeers: 1, maxRooms: 1, accessKeys: [{ publicKey: { x: 'short' } }] }]) };
    expect(await poller.poll()).toBe(false);
    expect(poller.lastFailure).toMatch(/not a customer list/);
    expect(await failures()).toBe(before + 3);
    expect((await connect()).status).toBe(200);
  });

  it('an API that is down is a failure too; a good answer replaces the list', async () => {
    const poller = gateway.gateway.grid.customerApi!;
    const before = await failures();
    answer = { status: 200, body: '[]' };
    expect(await poller.poll()).toBe(true);
    expect((await connect()).status).toBe(401);
    answer = { status: 200, body: JSON.stringify([apiCustomer.config]) };
    expect(await poller.poll()).toBe(true);
    expect((await connect()).status).toBe(200);
    await new Promise((resolve) => api.close(resolve));
    expect(await poller.poll()).toBe(false);
    expect(poller.lastFailure).toMatch(/fetch failed/);
    expect(await failures()).toBe(before + 1);
    expect((await connect()).status).toBe(200);
  });
});
