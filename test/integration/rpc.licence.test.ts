import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../bench/http/fleet.mjs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { INTERNAL_TOKEN, gatewayToken, gridOverrides, internal, rpc, testCustomer, type TestCustomer } from '../helpers/odin.js';

let gateway: TestGateway;
let fleet: Fleet;
let roomy: TestCustomer;
let crowded: TestCustomer;
let tagged: TestCustomer;

beforeAll(async () => {
  roomy = testCustomer('roomy', null, 10);
  crowded = testCustomer('crowded', 5, null);
  tagged = testCustomer('tagged');
  gateway = await startTestGateway(gridOverrides([roomy, crowded, tagged], { sfuReportIntervalSeconds: '3600' }));
  fleet = await startFleet({ url: gateway.url(''), token: INTERNAL_TOKEN, count: 5 });
});

afterAll(async () => {
  await fleet?.stop();
  await gateway?.close();
});

const placements = (customer: string) =>
  gateway.gateway.store
    .readAll({ type: 'SfuRoomPlaced' })
    .filter((event) => (event.data as { customer: string }).customer === customer);

describe('licences under a burst', () => {
  it('100 parallel Connects for 100 rooms with maxRooms 10 place exactly 10 rooms', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, index) => rpc(gateway, gatewayToken(roomy, `room-${index}`), 'Connect')));
    const placed = answers.filter((answer) => answer.body.result);
    const refused = answers.filter((answer) => answer.body.error);
    expect(placed).toHaveLength(10);
    expect(refused).toHaveLength(90);
    for (const answer of refused) {
      expect(answer.status).toBe(200);
      expect(answer.body.error).toMatchObject({ code: -32029, message: 'room limit exceeded', data: { code: 'LIMIT_EXCEEDED', limit: 'maxRooms', max: 10 } });
    }
    expect(placements('roomy')).toHaveLength(10);
    // Spread over the fleet: reservations count as load until the servers report.
    expect(new Set(placed.map((answer) => answer.body.result.address)).size).toBeGreaterThan(1);
    const info = await internal(gateway, 'Info');
    expect(info.body.result.rooms.filter((room: { customer: string }) => room.customer === 'roomy')).toHaveLength(10);

    // At the limit, the existing rooms still take clients: a room already placed costs no room.
    const placedRoomIndex = answers.findIndex((answer) => answer.body.result);
    const again = await rpc(gateway, gatewayToken(roomy, `room-${placedRoomIndex}`, 'late-joiner'), 'Connect');
    expect(again.body.result.address).toBe(answers[placedRoomIndex]!.body.result.address);
    expect(placements('roomy')).toHaveLength(10);
  });

  it('parallel Connects beyond maxPeers are refused until a report shows who actually joined', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, index) => rpc(gateway, gatewayToken(crowded, 'stage', `fan-${index}`), 'Connect')));
    const admitted = answers.filter((answer) => answer.body.result);
    expect(admitted).toHaveLength(5);
    for (const answer of answers.filter((candidate) => candidate.body.error)) {
      expect(answer.body.error).toMatchObject({ code: -32029, message: 'peer limit exceeded' });
    }
    // Only two of the five join; the server's report settles the promises: 3 seats free again.
    const server = fleet.server(admitted[0]!.body.result.address)!;
    server.join(admitted[0]!.body.result.token);
    server.join(admitted[1]!.body.result.token);
    await server.report();
    const more = await Promise.all(Array.from({ length: 5 }, (_, index) => rpc(gateway, gatewayToken(crowded, 'stage', `late-${index}`), 'Connect')));
    expect(more.filter((answer) => answer.body.result)).toHaveLength(3);
  });
});

describe('placement', () => {
  it('rooms with the same {tag} share a server; a room stays where it was placed', async () => {
    const red = await Promise.all(['a{red}', 'b{red}', 'c{red}'].map((room) => rpc(gateway, gatewayToken(tagged, room), 'Connect')));
    // Sequentially too: the first placement decides for the group.
    const later = await rpc(gateway, gatewayToken(tagged, 'd{red}'), 'Connect');
    const servers = new Set([...red, later].map((answer) => answer.body.result.address));
    expect(servers.size).toBe(1);
    const again = await rpc(gateway, gatewayToken(tagged, 'b{red}', 'other-user'), 'Connect');
    expect(again.body.result.address).toBe(later.body.result.address);
  });

  it('a token with several rids connects to the last, if they share a tag; otherwise it is refused', async () => {
    const shared = await rpc(gateway, gatewayToken(tagged, ['x{blue}', 'y{blue}']), 'Connect');
    expect(shared.status).toBe(200);
    const server = fleet.server(shared.body.result.address)!;
    expect(server.join(shared.body.result.token).id).toEqual(['tagged', 'y{blue}']);
    const split = await rpc(gateway, gatewayToken(tagged, ['x{blue}', 'z{green}']), 'Connect');
    expect(split.status).toBe(403);
    expect(split.body.error).toMatchObject({ code: -32003 });
  });

  it('preferred_server is honoured for a new room when that server is active', async () => {
    const target = fleet.servers[3]!.address;
    const answer = await rpc(gateway, gatewayToken(tagged, 'preferred-room'), 'Connect', { preferred_server: target });
    expect(answer.body.result.address).toBe(target);
    const unknown = await rpc(gateway, gatewayToken(tagged, 'elsewhere'), 'Connect', { preferred_server: 'nowhere.example:4433' });
    expect(fleet.server(unknown.body.result.address)).toBeDefined();
  });
});
