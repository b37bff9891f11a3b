import { describe, expect, it } from 'vitest';
import { oauthAggregates, type OAuthGrantCommand } from '../../src/modules/identity/domain/index.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import { InMemoryEventStore } from '../../src/store/memory-store.js';

/**
 * Two runtimes over one log stand for two processes (or a process before and after a
 * restart): their mailboxes do not serialise each other, so only the log's expected version
 * decides which redemption of a code commits.
 */
describe('one redemption per code, whatever the process', () => {
  const redeem = (accessTokenId: string): OAuthGrantCommand => ({
    type: 'RedeemAuthorizationCode',
    grantId: 'g1',
    clientId: 'c1',
    userId: 'u1',
    organisationId: null,
    scope: '',
    accessTokenId,
    accessExpiresAt: 2,
    refreshTokenId: `r-${accessTokenId}`,
    refreshExpiresAt: 3,
    remoteAddress: '127.0.0.1',
    now: 1,
  });

  it('commits exactly one AuthorizationCodeRedeemed when two runtimes race', async () => {
    const store = new InMemoryEventStore();
    const runtimes = [new ActorRuntime(store), new ActorRuntime(store)];
    for (const runtime of runtimes) for (const aggregate of oauthAggregates) runtime.register(aggregate);
    // Both load the empty stream first, so both decide "redeem" against version 0.
    for (const runtime of runtimes) expect(runtime.read('oauthgrant-g1').value).toBe('unredeemed');
    const results = await Promise.all(runtimes.map((runtime, index) => runtime.execute('oauthgrant-g1', redeem(`a${index}`))));
    const firsts = results.map((result) => result.events[0]?.type).sort();
    expect(firsts).toEqual(['AuthorizationCodeRedeemed', 'AuthorizationCodeReuseRefused']);
    const log = store.readStream('oauthgrant-g1').map((event) => event.type);
    expect(log.filter((type) => type === 'AuthorizationCodeRedeemed')).toHaveLength(1);
    expect(log[0]).toBe('AuthorizationCodeRedeemed');

    // A fresh runtime (a restart) sees the redemption in the log and refuses.
    const restarted = new ActorRuntime(store);
    for (const aggregate of oauthAggregates) restarted.register(aggregate);
    const later = await restarted.execute('oauthgrant-g1', redeem('a9'));
    expect(later.events[0]?.type).toBe('AuthorizationCodeReuseRefused');
    await store.close();
  });
});
