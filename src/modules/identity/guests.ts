import type { TokenService } from '../../auth/index.js';
import type { GuestPrincipal } from '../../runtime/index.js';

/**
 * Guests (PROTOCOL.md section 9): an invited participant's `guest` token, issued by the
 * invitations module after its one-time ticket exchange, makes a socket's principal that
 * guest. Which topics a guest may then send is the topic pipeline's guest gate
 * (runtime/topic-handler.ts); this file only turns a token into a guest, or refuses it.
 */

/**
 * Whether an invitation was revoked (its participant removed). The invitations module answers
 * it; identity only asks, so identity does not depend on that module. Absent, no guest token
 * can have been issued either (only that module issues them), so nothing counts as revoked.
 */
export interface GuestRevocations {
  isRevoked(invitationId: string): boolean;
}

/** What signing in with a guest token came to: the guest, or why it was refused (for the audit). */
export type GuestSignIn = { guest: GuestPrincipal } | { refused: 'invalid token' | 'revoked' };

/** The `name` claim as the principal keeps it: a guest invited by address alone has none. */
const nameOf = (name: unknown): string | null => (typeof name === 'string' && name !== '' ? name : null);

/**
 * A guest token -> the guest it speaks for. Undefined when the token is no guest token at all
 * (so the caller may try it as another kind and record one refusal); a guest token that is
 * malformed inside (claims missing) or whose invitation was revoked is refused.
 */
export async function guestFromToken(
  tokens: Pick<TokenService, 'verify'>,
  guests: GuestRevocations | undefined,
  token: unknown,
  now: number,
): Promise<GuestSignIn | undefined> {
  let claims: Awaited<ReturnType<TokenService['verify']>>;
  try {
    claims = await tokens.verify('guest', token, now);
  } catch {
    return undefined;
  }
  const { sub: invitationId, item, room, org, email, name } = claims;
  // Signed by us, so these are present unless an issuer bug left one out: refuse rather than guess a scope.
  if (typeof item !== 'string' || typeof room !== 'string' || typeof org !== 'string' || typeof email !== 'string' || item === '' || room === '') {
    return { refused: 'invalid token' };
  }
  if (guests?.isRevoked(invitationId) === true) return { refused: 'revoked' };
  return { guest: { kind: 'guest', invitationId, itemId: item, room, organisationId: org, email, name: nameOf(name) } };
}

/** The user id a guest's session events name, so the audit view tells guests from users. */
export const guestSessionUserId = (invitationId: string): string => `guest:${invitationId}`;

/** `authorized` for a guest: Extream's answer, with what the guest's client needs to join. */
export function guestAuthorizedAnswer(guest: GuestPrincipal): Record<string, unknown> {
  return { guest: true, item: guest.itemId, room: guest.room, name: guest.name, organisationId: guest.organisationId };
}
