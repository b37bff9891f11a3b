import { decode, encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/conditions.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * The ping's own decode and the pong's own encode (issue 15) on a real gateway: the usual
 * spelling and any other spelling of the same ping get the same answer, byte for byte in its
 * shape, in both codecs; what the shortcut does not take still meets the generic checks.
 */

/** Every message the server sends `client` from now on, as it came off the socket. */
function rawMessages(client: TestClient): { data: Buffer; isBinary: boolean }[] {
  const messages: { data: Buffer; isBinary: boolean }[] = [];
  client.socket.on('message', (data, isBinary) => messages.push({ data: data as Buffer, isBinary }));
  return messages;
}

describe('ping and pong at the edge', () => {
  let server: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers the usual JSON ping and other spellings of it with the same pong text', async () => {
    const client = await TestClient.connect(server.wsUrl());
    const messages = rawMessages(client);
    client.sendRaw('{"event":"ping","id":42}', false);
    client.sendRaw('{ "id": 43, "event": "ping", "data": null }', false);
    client.sendRaw('{"event":"ping"}', false);
    client.sendRaw('{"event":"ping","data":{}}', false);
    await until(() => messages.length === 4, 'four pongs');
    const texts = messages.map(({ data, isBinary }) => {
      expect(isBinary).toBe(false);
      return data.toString('utf8');
    });
    expect(texts[0]).toMatch(/^\{"event":"pong","data":\{"ts":\d+\},"id":42\}$/);
    expect(texts[1]).toMatch(/^\{"event":"pong","data":\{"ts":\d+\},"id":43\}$/);
    expect(texts[2]).toMatch(/^\{"event":"pong","data":\{"ts":\d+\}\}$/);
    expect(texts[3]).toMatch(/^\{"event":"pong","data":\{"ts":\d+\}\}$/);
    client.close();
  });

  it('answers the usual MessagePack ping and another spelling of it with the same pong', async () => {
    const client = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    const messages = rawMessages(client);
    client.sendMsgpack({ event: 'ping', id: 70_000 });
    client.sendMsgpack({ id: 70_001, data: null, event: 'ping' });
    await until(() => messages.length === 2, 'two pongs');
    for (const [index, { data, isBinary }] of messages.entries()) {
      expect(isBinary).toBe(true);
      const pong = decode(data) as { event: string; data: { ts: number }; id: number };
      // The keys in the order the generic encoder writes them.
      expect(Object.keys(pong)).toEqual(['event', 'data', 'id']);
      expect(pong).toEqual({ event: 'pong', data: { ts: expect.any(Number) }, id: 70_000 + index });
      expect(Buffer.from(data).equals(Buffer.from(encode({ event: 'pong', data: { ts: pong.data.ts }, id: pong.id })))).toBe(true);
    }
    client.close();
  });

  it('refuses what only looks like a ping with the generic codes, and the socket is still served', async () => {
    const client = await TestClient.connect(server.wsUrl());
    for (const send of LOOKALIKES) send(client);
    for (let index = 0; index < LOOKALIKES.length; index++) expect((await client.next('error')).data).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await client.request('ping', undefined, 5)).toMatchObject({ event: 'pong', id: 5 });
    client.close();
  });
});

/** Frames spelled almost like the usual ping that the generic path must refuse. */
const LOOKALIKES: ((client: TestClient) => void)[] = [
  (client) => client.sendRaw('{"event":"ping","id":0}', false),
  (client) => client.sendRaw('{"event":"ping","id":07}', false),
  (client) => client.sendRaw('{"event":"ping","id":9007199254740993}', false),
  // A uint64 id past 2^53.
  (client) => client.sendRaw(Buffer.from([...encode({ event: 'ping', id: 1 }).subarray(0, 15), 0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 1]), true),
];

describe('ping lookalikes and the bad-frame limit', () => {
  let server: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway({ badFrameLimit: String(LOOKALIKES.length) });
  });
  afterAll(async () => {
    await server.close();
  });

  it('counts each toward the limit: the last one closes the socket with 4400', async () => {
    const client = await TestClient.connect(server.wsUrl());
    for (const send of LOOKALIKES) send(client);
    expect((await client.waitClosed()).code).toBe(4400);
  });
});
