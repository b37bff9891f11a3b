import type { TestGateway } from './gateway.js';
import { TestClient } from './ws-client.js';

export const APP_PASSWORD = 'test-app-password-0123456789';

/** An app token from `POST /app` (the gateway must be started with appPassword = APP_PASSWORD). */
export async function appToken(server: TestGateway, app = 'demo'): Promise<string> {
  const response = await fetch(server.url('/app'), { method: 'POST', body: JSON.stringify({ app, password: APP_PASSWORD }) });
  const body = (await response.json()) as { response: { token: string } };
  return body.response.token;
}

export interface Peer {
  client: TestClient;
  peerId: string;
  sessionToken: string;
}

/** A native client that completed Chat Signal's `auth-request` with an app token. */
export async function connectPeer(server: TestGateway, token: string, protocols?: string[]): Promise<Peer> {
  const client = await TestClient.open(server.wsUrl(), protocols ? { protocols } : {});
  const welcome = await client.next('welcome');
  if (protocols?.includes('switchyard.v1.msgpack')) client.sendMsgpack({ event: 'auth-request', data: token });
  else client.sendJson({ event: 'auth-request', data: token });
  const accept = await client.next('auth-accept');
  return { client, peerId: (welcome.data as { peer_id: string }).peer_id, sessionToken: (accept.data as { token: string }).token };
}

/** `owner` creates `room`, each of `joiners` asks to join and the owner approves. */
export async function meetInRoom(owner: Peer, joiners: Peer[], room: string): Promise<void> {
  const created = await owner.client.request('room-create-request', { room });
  if (created.event !== 'room-create-accept') throw new Error(`create failed: ${JSON.stringify(created)}`);
  for (const joiner of joiners) {
    joiner.client.sendJson({ event: 'room-join-request', data: { room } });
    const request = await owner.client.next((frame) => frame.event === 'room-join-request' && (frame.data as { peer_id: string }).peer_id === joiner.peerId);
    owner.client.sendJson({ event: 'room-join-accept', data: { room, peer_id: (request.data as { peer_id: string }).peer_id } });
    await joiner.client.next('room-join-accept');
  }
}
