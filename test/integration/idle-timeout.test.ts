import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { startTestGateway } from '../helpers/gateway.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Idle timeout with server pings (PROTOCOL.md section 2). Its own file because it must let
 * the minimum timeout (8 s) pass: it waits, but uses no CPU while the other files run.
 */
describe('idle timeout', () => {
  it('drops a silent client that ignores pings; a client that answers them stays up', async () => {
    const server = await startTestGateway({ idleTimeoutSeconds: '8' });
    try {
      // A real `ws` client answers the server's pings by itself.
      const live = await TestClient.connect(server.wsUrl());
      const pings = { received: 0 };
      live.socket.on('ping', () => (pings.received += 1));

      const silent = new WebSocket(server.wsUrl(), { autoPong: false });
      let welcome: { peer_id: string } | undefined;
      silent.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { event: string; data: { peer_id: string } };
        if (frame.event === 'welcome') welcome = frame.data;
      });
      const silentClosed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));

      // Neither client sends anything from here on. Waiting on the event itself, not a sleep.
      const code = await Promise.race([
        silentClosed,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('silent client was never dropped')), 25_000)),
      ]);
      expect(code).toBe(1006);
      expect(welcome).toBeDefined();
      // The server's side of the drop is history too (appended once uWS reports the close).
      const stream = `connection-${welcome!.peer_id}`;
      const closedInLog = () => server.gateway.store.readStream(stream).find((event) => event.type === 'ConnectionClosed');
      while (!closedInLog()) expect(await live.request('ping')).toMatchObject({ event: 'pong' });
      expect(closedInLog()!.data).toMatchObject({ code: 1006, unclean: false });

      // The same silence did not cost the live client its connection: it was pinged and is up.
      expect(pings.received).toBeGreaterThan(0);
      expect(live.closed).toBeUndefined();
      expect(await live.request('ping', undefined, 1)).toMatchObject({ event: 'pong', id: 1 });
      live.close();
    } finally {
      await server.close();
    }
  }, 40_000);
});
