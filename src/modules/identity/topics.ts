import type { IdentityService, RequestOrigin } from './identity-service.js';
import type { TokenClaims } from '../../auth/tokens.js';
import type { Config } from '../../app/config.js';
import { AppError, toPublicError } from '../../core/errors.js';
import { streamId } from '../../core/ids.js';
import { SESSION_CATEGORY, type SessionCommand } from './domain/index.js';
import type { ActorRuntime } from '../../runtime/actor-runtime.js';
import { isPlainObject } from '../../protocol/envelope.js';
import type { ClientConnection } from '../../edge/connection.js';
import type { EventHandlers, HandlerContext } from '../../edge/handlers.js';

/** The TOTP step's texts; Extream's SDK shows them in its MFA form. */
export const MFA_PROMPT = {
  mfaSubject: 'Two-factor authentication',
  mfaBody: 'Enter the 6-digit code from your authenticator app.',
  mfaTooltip: 'The code changes every 30 seconds; each code works once.',
};

export const TOKEN_NOT_VALID = { message: 'Token is not valid', code: 'UNAUTHORIZED' } as const;

export interface IdentityEventDependencies {
  identity: IdentityService;
  runtime: ActorRuntime;
  config: Config;
  /** Called whenever a connection's principal becomes a user (to index sockets by user). */
  boundToUser(connection: ClientConnection, userId: string): void;
  /** Called when a connection stops speaking for a user (logout). */
  unboundFromUser(connection: ClientConnection): void;
}

function origin(connection: ClientConnection, now: number): RequestOrigin {
  return { connectionId: connection.id, remoteAddress: connection.info.remoteAddress, now };
}

function field(data: unknown, name: string): unknown {
  return isPlainObject(data) ? data[name] : undefined;
}

/**
 * PROTOCOL.md section 4 on the native socket (Socket.IO reuses these handlers): the Extream
 * flow (authenticate, authorize, login, mfa, logout) and Chat Signal's auth-request. Each
 * step is a session command, so every login, MFA check, token issue and refusal is in the log.
 */
export function registerIdentityEvents(handlers: EventHandlers, deps: IdentityEventDependencies): void {
  const { identity, runtime, config } = deps;
  const tokens = identity.tokens;

  const session = (connection: ClientConnection, command: SessionCommand) =>
    runtime.execute(streamId(SESSION_CATEGORY, connection.id), command, { actor: `connection:${connection.id}` });

  const refuse = async (connection: ClientConnection, kind: string, reason: string) => {
    await session(connection, { type: 'RecordTokenRefused', kind, reason, remoteAddress: connection.info.remoteAddress });
  };

  /** A user token (ours or an external provider's) -> the user it authorizes, or undefined. */
  const userFromToken = async (
    token: unknown,
    now: number,
  ): Promise<{ userId: string; organisationId: string | null; groups: string[]; external: boolean } | undefined> => {
    let claims: TokenClaims | undefined;
    try {
      claims = await tokens.verify('access', token, now);
    } catch {
      claims = undefined;
    }
    if (claims) {
      if (!identity.userActive(claims.sub)) return undefined;
      const organisationId = identity.organisationFor(claims.sub, claims.org ?? null);
      return { userId: claims.sub, organisationId, groups: identity.directory.groupsOf(claims.sub, organisationId), external: false };
    }
    const external = await tokens.verifyExternal(token, now).catch(() => undefined);
    if (!external) return undefined;
    return { userId: `${external.issuer}|${external.userId}`, organisationId: external.organisationId, groups: external.groups, external: true };
  };

  const authorizeUser = async (
    context: HandlerContext,
    user: { userId: string; organisationId: string | null; groups: string[]; external: boolean },
    method: 'token' | 'external',
  ) => {
    const { connection } = context;
    await session(connection, {
      type: 'Authorize',
      userId: user.userId,
      organisationId: user.organisationId,
      groups: user.groups,
      method,
      remoteAddress: connection.info.remoteAddress,
    });
    connection.principal = { kind: 'user', ...user };
    deps.boundToUser(connection, user.userId);
  };

  /** Issues the user's access token once the session has recorded the issue. */
  const issueAccessToken = async (connection: ClientConnection, userId: string, organisationId: string | null, now: number) => {
    const issued = await tokens.issue('access', {
      subject: userId,
      ttlSeconds: config.accessTokenTtlSeconds,
      claims: { ...(organisationId ? { org: organisationId } : {}), sid: connection.id },
      now,
    });
    await session(connection, { type: 'RecordTokenIssued', kind: 'access', jti: issued.jti, subject: userId, expiresAt: issued.expiresAt });
    return issued.token;
  };

  handlers.on('authenticate', async (context) => {
    const { connection, frame, now } = context;
    const token = field(frame.data, 'token');
    const user = await userFromToken(token, now);
    if (user) {
      await authorizeUser(context, user, user.external ? 'external' : 'token');
      connection.reply(frame.id, 'authenticated', { organisationId: user.organisationId, authStatus: 'authorized' });
      return;
    }
    try {
      const claims = await tokens.verify('organisation', token, now);
      const organisationId = claims.org ?? claims.sub;
      await session(connection, {
        type: 'AuthenticateOrganisation',
        organisationId,
        clientId: claims.cid ?? null,
        remoteAddress: connection.info.remoteAddress,
      });
      connection.principal = { kind: 'organisation', organisationId, clientId: claims.cid ?? null };
      connection.reply(frame.id, 'authenticated', { organisationId, authStatus: 'unauthorized' });
    } catch {
      await refuse(connection, 'oauth2', 'invalid token');
      connection.reply(frame.id, 'unauthorized', TOKEN_NOT_VALID);
    }
  });

  handlers.on('authorize', async (context) => {
    const { connection, frame, now } = context;
    const user = await userFromToken(field(frame.data, 'token'), now);
    if (!user) {
      await refuse(connection, 'access', 'invalid token');
      connection.reply(frame.id, 'unauthorized', TOKEN_NOT_VALID);
      return;
    }
    await authorizeUser(context, user, user.external ? 'external' : 'token');
    connection.reply(frame.id, 'authorized', { userId: user.userId, groups: user.groups, organisationId: user.organisationId });
  });

  handlers.on('login', async ({ connection, frame, now }) => {
    const username = field(frame.data, 'username');
    const password = field(frame.data, 'password');
    let verified;
    try {
      verified = await identity.verifyPassword(username, password, origin(connection, now));
    } catch (error) {
      const { code, message } = toPublicError(error);
      if (code !== 'BAD_REQUEST') {
        const reason = code === 'RATE_LIMITED' ? 'rate_limited' : code === 'FORBIDDEN' ? 'disabled' : 'unknown_user_or_password';
        await session(connection, {
          type: 'RecordLoginFailure',
          username: typeof username === 'string' ? username.slice(0, 64) : '',
          reason,
          remoteAddress: connection.info.remoteAddress,
        });
      }
      // A disabled account answers like a wrong password: the reply must not confirm it exists.
      const answer = code === 'FORBIDDEN' ? { code: 'UNAUTHORIZED', message: 'unknown user or wrong password' } : { code, message };
      connection.reply(frame.id, 'unauthorized', answer);
      return;
    }
    const preferred = connection.principal.kind === 'organisation' ? connection.principal.organisationId : null;
    const organisationId = identity.organisationFor(verified.userId, preferred);
    const groups = identity.directory.groupsOf(verified.userId, organisationId);
    await session(connection, {
      type: 'RecordLogin',
      userId: verified.userId,
      username: verified.username,
      mfaRequired: verified.mfaRequired,
      organisationId,
      groups,
      remoteAddress: connection.info.remoteAddress,
    });
    if (verified.mfaRequired) {
      connection.principal = { kind: 'mfa-pending', userId: verified.userId, organisationId };
      connection.reply(frame.id, 'mfa', MFA_PROMPT);
      return;
    }
    const token = await issueAccessToken(connection, verified.userId, organisationId, now);
    connection.principal = { kind: 'user', userId: verified.userId, organisationId, groups, external: false };
    deps.boundToUser(connection, verified.userId);
    connection.reply(frame.id, 'authorized', { userId: verified.userId, groups, token });
  });

  handlers.on('mfa', async ({ connection, frame, now }) => {
    const pending = connection.principal;
    if (pending.kind !== 'mfa-pending') {
      connection.reply(frame.id, 'unauthorized', { code: 'UNAUTHORIZED', message: 'no MFA challenge is pending; send login first' });
      return;
    }
    const result = await identity.checkMfa(pending.userId, field(frame.data, 'code'), origin(connection, now));
    const groups = identity.directory.groupsOf(pending.userId, pending.organisationId);
    await session(connection, {
      type: 'RecordMfa',
      passed: result.passed,
      ...(result.reason ? { reason: result.reason } : {}),
      organisationId: pending.organisationId,
      groups,
      remoteAddress: connection.info.remoteAddress,
    });
    if (!result.passed) {
      const message = result.reason === 'locked' ? 'MFA is locked after too many wrong codes' : 'invalid or already used code';
      connection.reply(frame.id, 'unauthorized', { code: result.reason === 'locked' ? 'FORBIDDEN' : 'UNAUTHORIZED', message });
      return;
    }
    const token = await issueAccessToken(connection, pending.userId, pending.organisationId, now);
    connection.principal = { kind: 'user', userId: pending.userId, organisationId: pending.organisationId, groups, external: false };
    deps.boundToUser(connection, pending.userId);
    connection.reply(frame.id, 'authorized', { userId: pending.userId, groups, token });
  });

  handlers.on('auth-request', async ({ connection, frame, now }) => {
    // Chat Signal clients send the bare token string or {token}.
    const token = typeof frame.data === 'string' ? frame.data : field(frame.data, 'token');
    let app: { app: string; jti: string };
    try {
      app = await identity.verifyAppToken(token, now);
    } catch {
      await refuse(connection, 'app', 'invalid token');
      connection.reply(frame.id, 'auth-reject', TOKEN_NOT_VALID);
      return;
    }
    const issued = await tokens.issue('session', { subject: app.app, ttlSeconds: config.sessionTokenTtlSeconds, claims: { sid: connection.id }, now });
    await session(connection, { type: 'StartAppSession', app: app.app, appTokenId: app.jti, remoteAddress: connection.info.remoteAddress });
    await session(connection, { type: 'RecordTokenIssued', kind: 'session', jti: issued.jti, subject: app.app, expiresAt: issued.expiresAt });
    connection.principal = { kind: 'app', app: app.app, sessionToken: issued.token };
    connection.reply(frame.id, 'auth-accept', { token: issued.token });
  });

  handlers.on('logout', async ({ connection, frame }) => {
    if (connection.principal.kind !== 'anonymous') await session(connection, { type: 'Logout' });
    // An organisation's client token outlives a user's logout; a user's own login does not.
    if (connection.principal.kind !== 'organisation') connection.principal = { kind: 'anonymous' };
    // Disabling the user later must not close a socket that no longer speaks for them.
    deps.unboundFromUser(connection);
    connection.reply(frame.id, 'unauthorized', { message: 'logged out', code: 'UNAUTHORIZED' });
  });
}

/**
 * For events that need a session (rooms, commands): the principal, or the protocol's
 * `unauthorized` answer. A Chat Signal `auth` field, when present, must be this
 * connection's session token.
 */
export function requireSession(connection: ClientConnection, data: unknown): Exclude<ClientConnection['principal'], { kind: 'anonymous' }> {
  const principal = connection.principal;
  const auth = field(data, 'auth');
  if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw new AppError('UNAUTHORIZED', TOKEN_NOT_VALID.message);
  if (auth !== undefined && (principal.kind !== 'app' || auth !== principal.sessionToken)) {
    throw new AppError('UNAUTHORIZED', TOKEN_NOT_VALID.message);
  }
  return principal;
}
