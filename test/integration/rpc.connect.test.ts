import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../bench/http/fleet.mjs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { INTERNAL_TOKEN, gatewayToken, gridOverrides, post, rpc, testCustomer, type TestCustomer } from '../helpers/odin.js';

/**
 * Connect's fast path (issue 15): a repeat token is checked from the cache and a placed room
 * is answered in the same turn. What it may skip is work, never a check or a write: a new
 * room's placement is in the log before the answer, a Connect to a placed room writes
 * nothing, and a cached token still goes through the method check.
 */

let gateway: TestGateway;
let fleet: Fleet;
let acme: TestCustomer;

beforeAll(async () => {
  acme = testCustomer('acme');
  // A report interval of an hour: no server goes silent (and no timer appends) during these tests.
  gateway = await startTestGateway(gridOverrides([acme], { sfuReportIntervalSeconds: '3600' }));
  fleet = await startFleet({ url: gateway.url(''), token: INTERNAL_TOKEN, count: 3 });
});

afterAll(async () => {
  await fleet?.stop();
  await gateway?.close();
});

const store = () => gateway.gateway.store;
const placementsOf = (room: string) =>
  store()
    .readAll({ type: 'SfuRoomPlaced' })
    .filter((event) => JSON.stringify((event.data as { room: unknown }).room) === JSON.stringify(['acme', room]));

describe('Connect: writes only what changes state', () => {
  it('a new room is placed in the log before the answer; repeats, cached or not, write nothing', async () => {
    const token = gatewayToken(acme, 'quiet-hall', 'alice');
    const before = store().headPosition();
    const first = await rpc(gateway, token, 'Connect');
    expect(first.status).toBe(200);
    // Durable before acknowledged: the placement is committed by the time the answer is read.
    expect(placementsOf('quiet-hall')).toHaveLength(1);
    expect(store().headPosition()).toBe(before + 1);

    const placedAt = store().headPosition();
    const repeats = [];
    for (let index = 0; index < 5; index++) repeats.push(await rpc(gateway, token, 'Connect'));
    repeats.push(await rpc(gateway, gatewayToken(acme, 'quiet-hall', 'bob'), 'Connect'));
    for (const answer of repeats) {
      expect(answer.status).toBe(200);
      expect(answer.body.result.address).toBe(first.body.result.address);
      // Each room token is the chosen server's and names the caller.
      expect(fleet.server(answer.body.result.address)!.join(answer.body.result.token).claims.adr).toBe(first.body.result.address);
    }
    expect(store().headPosition()).toBe(placedAt);
    expect(placementsOf('quiet-hall')).toHaveLength(1);
  });

  it('parallel first Connects of one token to a new room place it once, all on the same server', async () => {
    const token = gatewayToken(acme, 'rush-hall', 'carol');
    const answers = await Promise.all(Array.from({ length: 20 }, () => rpc(gateway, token, 'Connect')));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((answer) => answer.body.result.address)).size).toBe(1);
    expect(placementsOf('rush-hall')).toHaveLength(1);
  });
});

describe('Connect: a cached token keeps every check', () => {
  it("a token whose sub lacks Connect is refused each time, before and after it is cached", async () => {
    const token = gatewayToken(acme, 'closed-hall', 'dave', ['RoomClose']);
    const before = store().headPosition();
    for (let round = 0; round < 3; round++) {
      const answer = await rpc(gateway, token, 'Connect');
      expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status: 403, code: -32003 });
    }
    expect(store().headPosition()).toBe(before);
  });

  it('a cached token in a request without the JSON content type is refused 415', async () => {
    const token = gatewayToken(acme, 'typed-hall', 'erin');
    expect((await rpc(gateway, token, 'Connect')).status).toBe(200);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Connect', params: {} });
    const refused = await post(gateway.url('/'), body, { 'content-type': 'text/plain', authorization: `Bearer ${token}` });
    expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 415, code: -32600 });
    // Other spellings of the JSON type are still JSON.
    for (const type of ['application/json; charset=utf-8', 'Application/JSON', ' application/json-rpc ']) {
      expect((await post(gateway.url('/'), body, { 'content-type': type, authorization: `Bearer ${token}` })).status, type).toBe(200);
    }
  });

  it('a cached token with bad params is refused -32602 and a malformed body -32700', async () => {
    const token = gatewayToken(acme, 'strict-hall', 'frank');
    expect((await rpc(gateway, token, 'Connect')).status).toBe(200);
    const bad = await rpc(gateway, token, 'Connect', { preferred_server: 42 });
    expect({ status: bad.status, code: bad.body.error.code, data: bad.body.error.data.code }).toEqual({ status: 200, code: -32602, data: 'BAD_REQUEST' });
    const garbage = await post(gateway.url('/'), '{"jsonrpc":', { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect({ status: garbage.status, code: garbage.body.error.code }).toEqual({ status: 400, code: -32700 });
  });
});
