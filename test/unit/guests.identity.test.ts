import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/auth/keys.js';
import { TokenService } from '../../src/auth/tokens.js';
import { guestFromToken, type GuestRevocations } from '../../src/modules/identity/guests.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * How `authorize` turns a guest token into a guest (src/modules/identity/guests.ts), with a
 * fake of the invitations module's revocation port: the gateway's own wiring of that port is
 * the invitations module's, so its refusal is proven here, against real tokens.
 */

const T0 = Date.UTC(2026, 4, 4, 9, 0, 0);
const CLAIMS = { item: 'item-1', room: 'call-1', org: 'org-1', email: 'gita@guests.example', name: 'Gita' };

describe('guestFromToken', () => {
  let dir: { path: string; remove(): void };
  let tokens: TokenService;

  beforeAll(() => {
    dir = tempDir('switchyard-guests-');
    const ring = new KeyRing(dir.path);
    ring.loadOrCreate(T0);
    tokens = new TokenService(ring, { issuer: 'switchyard', clockToleranceSeconds: 30 });
  });
  afterAll(() => dir.remove());

  const guestToken = async (claims: Record<string, unknown> = CLAIMS, subject = 'inv-1') =>
    (await tokens.issue('guest', { subject, ttlSeconds: 600, claims, now: T0 })).token;

  it('a guest token becomes the guest it was issued for', async () => {
    expect(await guestFromToken(tokens, undefined, await guestToken(), T0 + 1000)).toEqual({
      guest: { kind: 'guest', invitationId: 'inv-1', itemId: 'item-1', room: 'call-1', organisationId: 'org-1', email: 'gita@guests.example', name: 'Gita' },
    });
  });

  it('refuses a token whose invitation the port says is revoked, and asks about that invitation only', async () => {
    const asked: string[] = [];
    const revocations: GuestRevocations = { isRevoked: (invitationId) => (asked.push(invitationId), invitationId === 'inv-removed') };
    expect(await guestFromToken(tokens, revocations, await guestToken(CLAIMS, 'inv-removed'), T0)).toEqual({ refused: 'revoked' });
    expect(await guestFromToken(tokens, revocations, await guestToken(CLAIMS, 'inv-kept'), T0)).toMatchObject({ guest: { invitationId: 'inv-kept' } });
    expect(asked).toEqual(['inv-removed', 'inv-kept']);
  });

  it('is not a guest: another kind of token, a forged one, an expired one', async () => {
    const access = (await tokens.issue('access', { subject: 'u1', ttlSeconds: 600, claims: CLAIMS, now: T0 })).token;
    expect(await guestFromToken(tokens, undefined, access, T0)).toBeUndefined();
    const ticket = (await tokens.issue('guestTicket', { subject: 'inv-1', ttlSeconds: 600, claims: CLAIMS, now: T0 })).token;
    expect(await guestFromToken(tokens, undefined, ticket, T0)).toBeUndefined();
    const token = await guestToken();
    const [header, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, item: 'item-2' })).toString('base64url');
    expect(await guestFromToken(tokens, undefined, `${header}.${widened}.${token.split('.')[2]}`, T0)).toBeUndefined();
    expect(await guestFromToken(tokens, undefined, token, T0 + 700_000)).toBeUndefined();
    expect(await guestFromToken(tokens, undefined, 'not a token', T0)).toBeUndefined();
  });

  it('refuses a guest token without its scope (an issuer bug must not widen it)', async () => {
    const { item: _item, ...noItem } = CLAIMS;
    expect(await guestFromToken(tokens, undefined, await guestToken(noItem), T0)).toEqual({ refused: 'invalid token' });
    const { room: _room, ...noRoom } = CLAIMS;
    expect(await guestFromToken(tokens, undefined, await guestToken(noRoom), T0)).toEqual({ refused: 'invalid token' });
  });

  it('keeps a guest without a name as name null', async () => {
    const { name: _name, ...nameless } = CLAIMS;
    expect(await guestFromToken(tokens, undefined, await guestToken(nameless), T0)).toMatchObject({ guest: { name: null } });
  });
});
