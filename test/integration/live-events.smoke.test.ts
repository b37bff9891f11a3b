import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsers, connect, login, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { command, responseOf } from '../helpers/extream.js';
import type { TestClient } from '../helpers/ws-client.js';

/** Organisations and events over a native socket: the two answers, permissions, and HTTP. */
describe('live events over the native socket', () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  let admin: TestClient;
  let organisationId: string;

  beforeAll(async () => {
    server = await startIdentityGateway();
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, [{ username: 'ada' }, { username: 'bob' }]);
    ({ client: admin } = await connect(server));
    await login(admin, users.ada!);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('a user creates an organisation: receipt with the log position, then the 201 result', async () => {
    const answers = await command(admin, 'admin_organisation_create', { data: { name: 'Acme Live', website: 'https://acme.example' } });
    expect(answers.receipt?.data).toMatchObject({ status: 202, topic: 'ex-manage', messageId: expect.any(Number) });
    expect(answers.result.data).toMatchObject({
      status: 201,
      domain: 'admin',
      action: 'organisation',
      command: 'create',
      meta: { permitted: true, requiresLogin: true },
      response: { name: 'Acme Live', slug: 'acme-live', website: 'https://acme.example' },
    });
    organisationId = responseOf<{ id: string }>(answers).id;
  });

  it('the creator schedules an event in it; a user of another organisation is refused', async () => {
    const created = await command(admin, 'admin_event_create', {
      data: { organisation: organisationId, name: 'Launch Week', start_date: '2026-05-04 09:00:00', end_date: '2026-05-05T18:00:00Z', public: true },
    });
    expect(created.result.data).toMatchObject({ status: 201, response: { name: 'Launch Week', start_date: '2026-05-04T09:00:00.000Z' } });
    const { client: bob } = await connect(server);
    await login(bob, users.bob!);
    const refused = await command(bob, 'admin_event_create', {
      data: { organisation: organisationId, name: 'Hijack', start_date: '2026-05-04 09:00:00', end_date: '2026-05-05 09:00:00' },
    });
    expect(refused.receipt).toBeUndefined();
    expect(refused.result.data).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
  });

  it('POST /v1/commands/<topic> answers the result body; without a token it is refused', async () => {
    const anonymous = await fetch(server.url('/v1/commands/admin_organisation_read'), { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ status: 401, meta: { permitted: false } });
    const listed = await fetch(server.url('/v1/commands/consumer_event_get'), { method: 'POST', body: JSON.stringify({ organisation: organisationId }) });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toMatchObject({ status: 200, meta: { requiresLogin: false }, response: [{ name: 'Launch Week' }] });
  });
});
