import { AppError, type Principal } from '../../core/index.js';
import type { IdentityService } from './identity-service.js';

/**
 * Who an `Authorization: Bearer` header speaks for over HTTP (`POST /v1/commands/<topic>`):
 * a user's access token (ours or an external provider's), or an organisation token from
 * client credentials. The same tokens a socket's `authenticate`/`authorize` accepts, with
 * the same checks (a disabled user's token no longer counts). No header is anonymous; a
 * header that holds no valid token is UNAUTHORIZED, never quietly anonymous.
 */
export async function bearerPrincipal(identity: IdentityService, header: string | undefined, now: number): Promise<Principal> {
  if (header === undefined || header === '') return { kind: 'anonymous' };
  const token = header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!token) throw new AppError('UNAUTHORIZED', 'send Authorization: Bearer <token>');
  const { tokens } = identity;
  const access = await tokens.verify('access', token, now).catch(() => undefined);
  if (access) {
    if (!identity.userActive(access.sub)) throw new AppError('UNAUTHORIZED', 'Token is not valid');
    const organisationId = identity.organisationFor(access.sub, access.org ?? null);
    return { kind: 'user', userId: access.sub, organisationId, groups: identity.directory.groupsOf(access.sub, organisationId), external: false };
  }
  const organisation = await tokens.verify('organisation', token, now).catch(() => undefined);
  if (organisation) return { kind: 'organisation', organisationId: organisation.org ?? organisation.sub, clientId: organisation.cid ?? null };
  const external = await tokens.verifyExternal(token, now).catch(() => undefined);
  if (external) {
    return { kind: 'user', userId: `${external.issuer}|${external.userId}`, organisationId: external.organisationId, groups: external.groups, external: true };
  }
  throw new AppError('UNAUTHORIZED', 'Token is not valid');
}
