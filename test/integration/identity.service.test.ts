import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';

/**
 * IdentityService administration against a real log: what the CLI and the socket handlers
 * build on. Several operators (or one script) adding users to one organisation at once must
 * not trip over the organisation's shared `members` group.
 */

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a refusal');
}

describe('IdentityService administration', { timeout: 240_000 }, () => {
  let server: IdentityGateway;

  beforeAll(async () => {
    server = await startIdentityGateway();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creating one group twice at once gives both callers the same group', async () => {
    const identity = server.gateway.identity;
    await identity.createOrganisation('racers', 'test');
    const ids = await Promise.all([1, 2, 3].map(() => identity.createGroup('racers', 'pit-crew', 'test')));
    expect(new Set(ids).size).toBe(1);
    expect(server.events('GroupCreated', (event) => (event.data as { name: string }).name === 'pit-crew')).toHaveLength(1);
  });

  it('four users added to one organisation at once all land in its members group', async () => {
    const identity = server.gateway.identity;
    const organisationId = await identity.createOrganisation('newcomers', 'test');
    const names = ['nia', 'oto', 'pia', 'quy'];
    const userIds = await Promise.all(
      names.map((username) => identity.addUser({ organisation: 'newcomers', username, password: `pw-${username}-long-enough`, groups: ['crew'], by: 'test' })),
    );
    for (const userId of userIds) {
      expect(identity.directory.groupsOf(userId, organisationId)).toEqual(['crew', 'members']);
      expect(identity.organisationFor(userId, null)).toBe(organisationId);
    }
  });

  it('refuses bad input with stable codes', async () => {
    const identity = server.gateway.identity;
    await identity.createOrganisation('strict', 'test');
    expect((await refusal(identity.addUser({ organisation: 'strict', username: 'has space', password: 'long-enough-pw', groups: [], by: 't' }))).code).toBe('BAD_REQUEST');
    expect((await refusal(identity.addUser({ organisation: 'strict', username: 'rex', password: 'short', groups: [], by: 't' }))).code).toBe('BAD_REQUEST');
    expect((await refusal(identity.addUser({ organisation: 'no-such-org', username: 'rex', password: 'long-enough-pw', groups: [], by: 't' }))).code).toBe('NOT_FOUND');
    await identity.addUser({ organisation: 'strict', username: 'rex', password: 'long-enough-pw', groups: [], by: 't' });
    expect((await refusal(identity.addUser({ organisation: 'strict', username: 'rex', password: 'long-enough-pw', groups: [], by: 't' }))).code).toBe('CONFLICT');
    expect((await refusal(identity.enrollMfa('nobody', 't'))).code).toBe('NOT_FOUND');
    expect((await refusal(identity.disableUser('nobody', 't', 'r'))).code).toBe('NOT_FOUND');
    expect((await refusal(identity.issueAppToken('no spaces allowed'))).code).toBe('BAD_REQUEST');
    expect((await refusal(identity.createOrganisation('   ', 't'))).code).toBe('BAD_REQUEST');
  });

  it('checkMfa refuses a user without MFA', async () => {
    const identity = server.gateway.identity;
    await identity.createOrganisation('plain', 'test');
    const userId = await identity.addUser({ organisation: 'plain', username: 'sol', password: 'long-enough-pw', groups: [], by: 't' });
    const origin = { connectionId: null, remoteAddress: '192.0.2.1', now: server.clock.now() };
    expect((await refusal(identity.checkMfa(userId, '123456', origin))).code).toBe('BAD_REQUEST');
  });
});
