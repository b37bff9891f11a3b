import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Issue 16 point 10: Chat Signal clients wait for `unauthorized` when a room request needs
 * a session they do not have (PROTOCOL.md section 4), and got only the named reject. Now
 * they hear `unauthorized {message:"Token is not valid", code:"UNAUTHORIZED"}` first (a
 * push, without the frame's id), then the reject that answers the frame's id.
 */

const TOKEN_NOT_VALID = { message: 'Token is not valid', code: 'UNAUTHORIZED' };

describe('room requests without a session', () => {
  let server: TestGateway;

  beforeAll(async () => {
    server = await startTestGateway();
  });

  afterAll(async () => {
    await server.close();
  });

  const cases: [event: string, data: Record<string, unknown>, reject: string][] = [
    ['room-join-request', { room: 'lobby' }, 'room-join-reject'],
    ['room-create-request', { room: 'lobby' }, 'room-create-reject'],
    ['room-leave', { room: 'lobby' }, 'error'],
    // The relay's fast path (native JSON text) checks the session itself.
    ['relay-ice-candidate', { room: 'lobby', to: 'someone-else', ice_candidate: { candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host' } }, 'error'],
  ];

  for (const [event, data, reject] of cases) {
    it(`${event}: unauthorized first, then ${reject} with the frame's id`, async () => {
      const client = await TestClient.connect(server.wsUrl());
      const id = 4242;
      client.sendJson({ event, data, id });
      const answer = await client.next((frame) => frame.id === id);
      expect(answer).toMatchObject({ event: reject, data: { code: 'UNAUTHORIZED', message: 'Token is not valid' } });
      const frames = client.frames.filter((frame) => frame.event === 'unauthorized');
      expect(frames).toEqual([expect.objectContaining({ event: 'unauthorized', data: TOKEN_NOT_VALID })]);
      expect(frames[0]!.id).toBeUndefined();
      client.close();
    });
  }

  it('sends unauthorized before the reject', async () => {
    const client = await TestClient.connect(server.wsUrl());
    client.sendJson({ event: 'room-join-request', data: { room: 'lobby' }, id: 7 });
    const first = await client.next(() => true);
    const second = await client.next(() => true);
    expect([first.event, second.event]).toEqual(['unauthorized', 'room-join-reject']);
    client.close();
  });
});
