import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { gatewayToken, gridOverrides, rpc, testCustomer, type TestCustomer } from '../helpers/odin.js';
import { APP_PASSWORD, appToken, connectPeer, meetInRoom } from '../helpers/rooms.js';

/** The room API on rooms the gateway hosts itself (PROTOCOL.md section 6): acted on at once. */
describe('room API on gateway-hosted rooms', () => {
  let server: TestGateway;
  let acme: TestCustomer;
  let token: string;

  beforeAll(async () => {
    acme = testCustomer('acme');
    server = await startTestGateway({ ...gridOverrides([acme], { sfuReportIntervalSeconds: '3600' }), appPassword: APP_PASSWORD });
    token = await appToken(server);
  });
  afterAll(async () => {
    await server.close();
  });

  it('updates, messages and closes a gateway room for its members, without queueing SFU tasks', async () => {
    const [owner, member] = await Promise.all([connectPeer(server, token), connectPeer(server, token)]);
    const room = 'acme-hosted';
    await meetInRoom(owner, [member], room);
    const call = async (method: string, params: Record<string, unknown>) => {
      const answer = await rpc(server, gatewayToken(acme, room), method, params);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ result: {} });
    };
    await call('RoomUpdate', { room_id: room, user_data: [1, 2, 3] });
    expect((await member.client.next('room-updated')).data).toEqual({ room, user_data: [1, 2, 3] });
    await call('RoomSendMessage', { room_id: room, user_id: owner.peerId, message: [104, 105] });
    expect((await owner.client.next('room-message')).data).toEqual({ room, message: [104, 105] });
    expect(member.client.frames.some((frame) => frame.event === 'room-message')).toBe(false);
    await call('RoomBanClient', { room_id: room, user_id: member.peerId, ban_time: 60 });
    expect(await member.client.next('room-banned')).toMatchObject({ data: { room } });
    expect((await owner.client.next('room-user-leave')).data).toEqual({ room, peer_id: member.peerId });
    await call('RoomClose', { room_id: room });
    expect((await owner.client.next('room-closed')).data).toMatchObject({ room });
    expect(server.gateway.rooms.state(room).open).toBe(false);
    // Nothing went to the grid's task queue for this room.
    const tasks = server.gateway.store.readAll().filter((event) => /Task/.test(event.type) && JSON.stringify(event.data).includes(room));
    expect(tasks).toEqual([]);
    owner.client.close();
    member.client.close();
  });
});
