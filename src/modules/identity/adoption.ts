import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../../core/index.js';
import type { SessionSnapshot } from './domain/index.js';

/**
 * What another cluster node makes of a connection's session when it adopts the connection after
 * its node was lost (PROTOCOL.md section 12): the principal the session stream shows, or
 * undefined when the log cannot say it whole. A guest's principal names its invitation's item
 * and room, which the session does not keep; a session half-way through MFA, signed out or
 * ended speaks for nobody. The caller then answers the resume `restarted`.
 */
export function principalFromSession(snapshot: SessionSnapshot): Principal | undefined {
  if (snapshot.status === 'done') return undefined;
  const { context } = snapshot;
  if (snapshot.matches('organisation') && context.organisationId !== null) {
    return { kind: 'organisation', organisationId: context.organisationId, clientId: context.clientId ?? null };
  }
  if (!snapshot.matches('authorized')) return undefined;
  const method = context.method ?? null;
  if (method !== null && context.userId !== null) {
    if (method === 'guest') return undefined;
    return { kind: 'user', userId: context.userId, organisationId: context.organisationId, groups: [...context.groups], external: method === 'external' };
  }
  const digest = context.sessionTokenDigest ?? null;
  if (context.app !== null && digest !== null) return { kind: 'app', app: context.app, sessionToken: { digest } };
  return undefined;
}

/** The digest the log keeps of a session token (TokenIssued.digest). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Whether `presented` is the app session's token: the token itself, or on an adopted connection its digest. */
export function isSessionToken(held: string | { digest: string }, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  if (typeof held === 'string') return presented === held;
  const expected = Buffer.from(held.digest);
  const actual = Buffer.from(tokenDigest(presented));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
