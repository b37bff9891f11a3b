import { TokenGenerator, generateAccessKey } from '@4players/odin-tokens';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../bench/http/fleet.mjs';
import { loadAccessKey } from '../../src/auth/odin-keys.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { compactJws, decodeJson, split } from '../helpers/jws.js';
import { INTERNAL_TOKEN, gatewayToken, gridOverrides, post, rpc, testCustomer, type RpcAnswer, type TestCustomer } from '../helpers/odin.js';

let gateway: TestGateway;
let fleet: Fleet;
let acme: TestCustomer;

beforeAll(async () => {
  acme = testCustomer('acme');
  // A report interval of an hour: no server goes silent (and no timer appends) during these tests.
  gateway = await startTestGateway(gridOverrides([acme], { sfuReportIntervalSeconds: '3600', rpcMaxBodyBytes: '4096' }));
  fleet = await startFleet({ url: gateway.url(''), token: INTERNAL_TOKEN, count: 2 });
});

afterAll(async () => {
  await fleet?.stop();
  await gateway?.close();
});

const head = () => gateway.gateway.store.headPosition();

/** Connects a user to a room and joins it on the server Connect chose. */
async function joinRoom(room: string, uid = 'alice') {
  const answer = await rpc(gateway, gatewayToken(acme, room, uid), 'Connect');
  expect(answer.status).toBe(200);
  const server = fleet.server(answer.body.result.address)!;
  server.join(answer.body.result.token);
  return server;
}

describe('Connect', () => {
  it('answers the server address and a room token that server accepts, with the ODIN claims', async () => {
    const answer = await rpc(gateway, gatewayToken(acme, 'lobby', 'alice'), 'Connect', {}, 'c-1');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ jsonrpc: '2.0', id: 'c-1', result: { address: expect.any(String), token: expect.any(String) } });
    const { address, token } = answer.body.result;
    const server = fleet.server(address)!;
    expect(server).toBeDefined();
    const { claims } = server.join(token);
    const nbf = claims.nbf as number;
    expect(claims).toEqual({ uid: 'alice', cid: 'acme', rid: 'lobby', nsp: 'acme', adr: address, sub: 'connect', aud: 'sfu', nbf, exp: nbf + 300 });
    expect(Math.abs(nbf - Date.now() / 1000)).toBeLessThan(60);
    // Any other server refuses it: it is signed with the chosen server's key only.
    const other = fleet.servers.find((candidate) => candidate.address !== address)!;
    expect(() => other.join(token)).toThrow(/signature does not verify/);
  });

  it('sends everyone in a room to the same server, also on /rpc', async () => {
    const first = await rpc(gateway, gatewayToken(acme, 'same-room', 'a'), 'Connect');
    const second = await rpc(gateway, gatewayToken(acme, 'same-room', 'b'), 'Connect', {}, 2, '/rpc');
    expect(second.status).toBe(200);
    expect(second.body.result.address).toBe(first.body.result.address);
  });

  it('CORS: preflight and answers allow any origin, as the ODIN gateway does', async () => {
    const preflight = await fetch(gateway.url('/'), {
      method: 'OPTIONS',
      headers: { origin: 'https://game.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/i);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);
    const answer = await rpc(gateway, gatewayToken(acme, 'lobby'), 'Connect');
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });
});

describe('batches and notifications', () => {
  it('a batch answers each call by id, in order, leaving out notifications', async () => {
    const body = JSON.stringify([
      { jsonrpc: '2.0', method: 'Connect', params: {}, id: 1 },
      { jsonrpc: '2.0', method: 'RoomSendMessage', params: { room_id: 'lobby', user_id: 'alice', message: [104, 105] } },
      { jsonrpc: '2.0', method: 'NoSuchMethod', id: 'x' },
      { jsonrpc: '1.0', method: 'Connect', id: 3 },
      { jsonrpc: '2.0', method: 'RoomClose', params: { room_id: 7 }, id: 4 },
    ]);
    const answer = await post(gateway.url('/'), body, { 'content-type': 'application/json', authorization: `Bearer ${gatewayToken(acme, 'lobby')}` });
    expect(answer.status).toBe(200);
    expect(answer.body.map((response: { id: unknown }) => response.id)).toEqual([1, 'x', 3, 4]);
    expect(answer.body[0].result.address).toEqual(expect.any(String));
    expect(answer.body.slice(1).map((response: { error: { code: number } }) => response.error.code)).toEqual([-32601, -32600, -32602]);
  });

  it('a notification is run and answered with 204 and no body', async () => {
    const server = await joinRoom('notified');
    await server.report();
    const message = { jsonrpc: '2.0', method: 'RoomSendMessage', params: { room_id: 'notified', user_id: 'alice', message: [1, 2, 3] } };
    const token = gatewayToken(acme, 'notified');
    const answer = await post(gateway.url('/'), JSON.stringify(message), { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(answer.status).toBe(204);
    expect(answer.body).toBeUndefined();
    const batch = await post(gateway.url('/'), JSON.stringify([message, message]), { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(batch.status).toBe(204);
    expect(await server.report()).toHaveLength(3);
    expect(server.room(['acme', 'notified'])?.messages).toHaveLength(3);
  });
});

describe('room tasks reach the server that hosts the room, once', () => {
  it('RoomUpdate, RoomSendMessage, RoomBanClient and RoomClose are handed out with the next report and obeyed', async () => {
    const server = await joinRoom('tasks{t}', 'alice');
    server.join((await rpc(gateway, gatewayToken(acme, 'tasks{t}', 'bob'), 'Connect')).body.result.token);
    await server.report();
    const token = gatewayToken(acme, 'tasks');
    const call = async (method: string, params: unknown) => {
      const answer = await rpc(gateway, token, method, params);
      expect(answer).toMatchObject({ status: 200, body: { result: {} } });
    };
    await call('RoomUpdate', { room_id: 'tasks{t}', user_data: [1, 2, 255] });
    await call('RoomSendMessage', { room_id: 'tasks{t}', user_id: 'bob', message: [7] });
    await call('RoomBanClient', { room_id: 'tasks{t}', user_id: 'bob', ban_time: 30 });
    const tasks = await server.report();
    expect(tasks).toEqual([
      { task: 'RoomUpdate', id: ['acme', 'tasks{t}'], user_data: [1, 2, 255] },
      { task: 'RoomSendMessage', id: ['acme', 'tasks{t}'], user_id: 'bob', message: [7] },
      { task: 'RoomBanClient', id: ['acme', 'tasks{t}'], user_id: 'bob', ban_time: { secs: 30, nanos: 0 } },
    ]);
    const room = server.room(['acme', 'tasks{t}'])!;
    expect(room.userData).toEqual([1, 2, 255]);
    expect([...room.peers.keys()]).toEqual(['alice']);
    // Handed out once: the next report has nothing.
    expect(await server.report()).toEqual([]);
    await call('RoomClose', { room_id: 'tasks{t}', ban_time: 1.5 });
    expect(await server.report()).toEqual([{ task: 'RoomClose', id: ['acme', 'tasks{t}'], ban_time: { secs: 1, nanos: 500_000_000 } }]);
    expect(server.room(['acme', 'tasks{t}'])).toBeUndefined();
  });
});

describe('bad input: each its exact error, and nothing in the log', () => {
  const json = { 'content-type': 'application/json' };
  const bearer = (token: string) => ({ ...json, authorization: `Bearer ${token}` });
  const connect = JSON.stringify({ jsonrpc: '2.0', method: 'Connect', params: {}, id: 1 });

  async function expectRefused(answer: Promise<RpcAnswer>, status: number, code: number, before = head()) {
    const { status: actual, body } = await answer;
    expect({ status: actual, code: body?.error?.code }).toEqual({ status, code });
    expect(body.jsonrpc).toBe('2.0');
    expect(head()).toBe(before);
    return body;
  }

  it('malformed JSON: 400, -32700', async () => {
    await expectRefused(post(gateway.url('/'), '{"jsonrpc": "2.0", "method": ', bearer(gatewayToken(acme, 'r'))), 400, -32700);
  });

  it('wrong or missing content type: 415, -32600', async () => {
    await expectRefused(post(gateway.url('/'), connect, { 'content-type': 'text/plain', authorization: `Bearer ${gatewayToken(acme, 'r')}` }), 415, -32600);
    await expectRefused(post(gateway.url('/'), connect, { authorization: `Bearer ${gatewayToken(acme, 'r')}` }), 415, -32600);
  });

  it('empty batch: 400, -32600', async () => {
    await expectRefused(post(gateway.url('/'), '[]', bearer(gatewayToken(acme, 'r'))), 400, -32600);
  });

  it('unknown method: -32601', async () => {
    const body = await expectRefused(rpc(gateway, gatewayToken(acme, 'r'), 'DropAllTables'), 200, -32601);
    expect(body.id).toBe(1);
  });

  it('bad params: -32602 with the offending field', async () => {
    const token = gatewayToken(acme, 'r');
    let body = await expectRefused(rpc(gateway, token, 'RoomClose', { room_id: 5 }), 200, -32602);
    expect(body.error.data).toMatchObject({ code: 'BAD_REQUEST', issues: [{ path: 'room_id' }] });
    body = await expectRefused(rpc(gateway, token, 'RoomUpdate', { room_id: 'r', user_data: [1, 256] }), 200, -32602);
    expect(body.error.data.issues[0].path).toBe('user_data.1');
    await expectRefused(rpc(gateway, token, 'RoomBanClient', { room_id: 'r', user_id: 'u', ban_time: -1 }), 200, -32602);
    await expectRefused(rpc(gateway, token, 'RoomClose', ['r']), 200, -32602);
    await expectRefused(rpc(gateway, token, 'Connect', { preferred_server: 'not an endpoint' }), 200, -32602);
  });

  it('no token, or not a bearer token: 401, -32001', async () => {
    const answer = await post(gateway.url('/'), connect, json);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    await expectRefused(Promise.resolve(answer), 401, -32001);
    await expectRefused(post(gateway.url('/'), connect, { ...json, authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 401, -32001);
  });

  it('forged tokens: unknown key, tampered signature, claims changed after signing: 401', async () => {
    const stranger = new TokenGenerator(generateAccessKey()).createToken('r', 'u', { audience: 'gateway', subject: 'connect' });
    await expectRefused(post(gateway.url('/'), connect, bearer(stranger)), 401, -32001);
    const token = gatewayToken(acme, 'r');
    const { header, payload, signature } = split(token);
    const bad = Buffer.from(signature, 'base64url');
    bad[10]! ^= 0xff;
    await expectRefused(post(gateway.url('/'), connect, bearer(`${header}.${payload}.${bad.toString('base64url')}`)), 401, -32001);
    const wider = Buffer.from(JSON.stringify({ ...decodeJson(payload), rid: '' })).toString('base64url');
    await expectRefused(post(gateway.url('/'), connect, bearer(`${header}.${wider}.${signature}`)), 401, -32001);
  });

  it('expired token (past the 30 s leeway): 401', async () => {
    await expectRefused(post(gateway.url('/'), connect, bearer(gatewayToken(acme, 'r', 'u', 'Connect', -31))), 401, -32001);
  });

  it('missing aud, wrong aud, missing sub: 401', async () => {
    await expectRefused(post(gateway.url('/'), connect, bearer(acme.generator.createToken('r', 'u', { subject: 'connect' }))), 401, -32001);
    await expectRefused(post(gateway.url('/'), connect, bearer(acme.generator.createToken('r', 'u', { audience: 'sfu' }))), 401, -32001);
    const { privateKey, keyId } = loadAccessKey(acme.accessKey);
    const now = Math.floor(Date.now() / 1000);
    const noSub = compactJws({ alg: 'EdDSA', kid: keyId }, { rid: 'r', uid: 'u', aud: 'gateway', nbf: now, exp: now + 60 }, { alg: 'EdDSA', key: privateKey });
    await expectRefused(post(gateway.url('/'), connect, bearer(noSub)), 401, -32001);
  });

  it("a method the token's sub does not list: 403, -32003", async () => {
    const body = await expectRefused(rpc(gateway, gatewayToken(acme, 'r', 'u', ['connect']), 'RoomClose', { room_id: 'r' }), 403, -32003);
    expect(body.error.message).toMatch(/sub does not allow RoomClose/);
  });

  it("room_id outside the token's rid: 403, -32003", async () => {
    await joinRoom('vip-lounge');
    const before = head();
    await expectRefused(rpc(gateway, gatewayToken(acme, 'public'), 'RoomClose', { room_id: 'vip-lounge' }), 403, -32003, before);
    // A prefix grant covers the rooms under it.
    expect((await rpc(gateway, gatewayToken(acme, 'vip'), 'RoomClose', { room_id: 'vip-lounge' })).status).toBe(200);
  });

  it('a room nobody hosts: -32004', async () => {
    await expectRefused(rpc(gateway, gatewayToken(acme, 'ghost'), 'RoomClose', { room_id: 'ghost' }), 200, -32004);
  });

  it('a body over the limit: 413', async () => {
    const before = head();
    const big = JSON.stringify({ jsonrpc: '2.0', method: 'RoomUpdate', params: { room_id: 'r', user_data: Array(3000).fill(1) }, id: 1 });
    const answer = await fetch(gateway.url('/'), { method: 'POST', headers: bearer(gatewayToken(acme, 'r')), body: big });
    expect(answer.status).toBe(413);
    expect(head()).toBe(before);
  });

  it('a batch of more than 100 calls: 400, -32600', async () => {
    // Short calls, so that 101 of them stay under this gateway's 4 KiB body limit.
    const batch = JSON.stringify(Array.from({ length: 101 }, (_, id) => ({ jsonrpc: '2.0', method: 'A', id })));
    expect(batch.length).toBeLessThan(4096);
    const body = await expectRefused(post(gateway.url('/'), batch, bearer(gatewayToken(acme, 'r'))), 400, -32600);
    expect(body.error.message).toBe('a batch may hold at most 100 calls');
  });
});
