import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TestClient } from '../helpers/ws-client.js';

describe('native /ws ping round trip', () => {
  let server: TestGateway;
  beforeAll(async () => {
    server = await startTestGateway();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers a JSON ping with pong carrying the same id', async () => {
    const client = await TestClient.connect(server.wsUrl());
    const answer = await client.request('ping', undefined, 7);
    expect(answer).toMatchObject({ event: 'pong', id: 7 });
    expect(typeof (answer.data as { ts: number }).ts).toBe('number');
    client.close();
  });

  it('answers a MessagePack ping in MessagePack when the subprotocol asks for it', async () => {
    const client = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    expect(client.socket.protocol).toBe('switchyard.v1.msgpack');
    client.sendMsgpack({ event: 'ping', id: 9 });
    const answer = await client.next('pong');
    expect(answer.id).toBe(9);
    client.close();
  });

  it('records the connection in the event log before welcoming it', async () => {
    const client = await TestClient.open(server.wsUrl());
    const welcome = await client.next('welcome');
    const peerId = (welcome.data as { peer_id: string }).peer_id;
    const events = server.gateway.store.readStream(`connection-${peerId}`);
    expect(events.map((event) => event.type)).toEqual(['ConnectionOpened']);
    client.close();
  });
});
