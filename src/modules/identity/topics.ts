import type { IdentityService, RequestOrigin, VerifiedUser } from './identity-service.js';
import type { IdentityConfig } from './config.js';
import type { TokenClaims } from '../../auth/index.js';
import { AppError, toPublicError } from '../../core/index.js';
import { streamId } from '../../core/index.js';
import type { Principal } from '../../core/index.js';
import { SESSION_CATEGORY, type SessionCommand } from './domain/index.js';
import type { ActorRuntime, ExecuteOptions } from '../../runtime/index.js';
import { defineTopic, type AnyTopic, type RejectStyle } from '../../runtime/index.js';
import { isPlainObject } from '../../protocol/index.js';
import {
  IDENTITY_ANSWERS,
  IDENTITY_TOPICS,
  authRequestData,
  loginData,
  logoutData,
  mfaData,
  tokenRequestData,
  type AuthRequestData,
  type LoginData,
  type MfaData,
  type TokenRequestData,
} from '../../protocol/topics/identity.js';
import type { ClientConnection } from '../../edge/index.js';
import { isSessionToken, tokenDigest } from './adoption.js';
import { guestAuthorizedAnswer, guestFromToken, guestSessionUserId, type GuestRevocations } from './guests.js';

/** The TOTP step's texts; Extream's SDK shows them in its MFA form. */
export const MFA_PROMPT = {
  mfaSubject: 'Two-factor authentication',
  mfaBody: 'Enter the 6-digit code from your authenticator app.',
  mfaTooltip: 'The code changes every 30 seconds; each code works once.',
};

export const TOKEN_NOT_VALID = { message: 'Token is not valid', code: 'UNAUTHORIZED' } as const;

const tokenNotValid = (): AppError => new AppError('UNAUTHORIZED', TOKEN_NOT_VALID.message);

/** PROTOCOL.md section 4: refusals answer `unauthorized {message, code}`, Chat Signal's `auth-reject {message, code}`. */
const UNAUTHORIZED_ANSWER: RejectStyle = { kind: 'event', event: IDENTITY_ANSWERS.unauthorized };
const AUTH_REJECT_ANSWER: RejectStyle = { kind: 'event', event: IDENTITY_ANSWERS.authReject };

export interface IdentityTopicDependencies {
  identity: IdentityService;
  runtime: ActorRuntime;
  config: Pick<IdentityConfig, 'accessTokenTtlSeconds' | 'sessionTokenTtlSeconds'>;
  /** Called whenever a connection's principal becomes a user (to index sockets by user). */
  boundToUser(connection: ClientConnection, userId: string): void;
  /** Called when a connection's principal becomes a guest (to index sockets by invitation). */
  boundToGuest(connection: ClientConnection, invitationId: string): void;
  /** Called when a connection stops speaking for a user or a guest (logout). */
  unboundFromUser(connection: ClientConnection): void;
  /** Revoked invitations (the invitations module); absent, no guest token is revoked. */
  guests?: GuestRevocations | undefined;
}

interface TokenUser {
  userId: string;
  organisationId: string | null;
  groups: string[];
  external: boolean;
}

function origin(connection: ClientConnection, now: number): RequestOrigin {
  return { connectionId: connection.id, remoteAddress: connection.info.remoteAddress, now };
}

/** The challenge a `mfa` answers, or UNAUTHORIZED when the socket has sent no `login` that asked for one. */
function pendingMfa(connection: ClientConnection): Extract<Principal, { kind: 'mfa-pending' }> {
  const principal = connection.principal;
  if (principal.kind !== 'mfa-pending') throw new AppError('UNAUTHORIZED', 'no MFA challenge is pending; send login first');
  return principal;
}

/**
 * PROTOCOL.md section 4, for every transport (Socket.IO runs CONNECT tokens through these
 * too): the Extream flow (authenticate, authorize, login, mfa, logout) and Chat Signal's
 * auth-request. Each step is a session command, so every login, MFA check, token issue and
 * refusal is in the log; a refusal is recorded first, then thrown for the reject style to answer.
 */
export function identityTopics(deps: IdentityTopicDependencies): AnyTopic<ClientConnection>[] {
  const { identity, runtime, config } = deps;
  const tokens = identity.tokens;

  /** Connections whose session stream this process has written: the others' streams are new. */
  const sessionsWritten = new WeakSet<ClientConnection>();
  const session = (connection: ClientConnection, command: SessionCommand, options: ExecuteOptions = {}) => {
    sessionsWritten.add(connection);
    return runtime.execute(streamId(SESSION_CATEGORY, connection.id), command, { actor: `connection:${connection.id}` }, options);
  };

  const refusals = identity.refusals;

  /**
   * Records a refused token and returns the refusal to throw: on its own within the address's
   * budget for the window, else counted into the window's RefusalsSummarised (sign-in-limits.ts).
   */
  const refusedToken = async (connection: ClientConnection, kind: string, now: number, reason = 'invalid token'): Promise<AppError> => {
    const { remoteAddress } = connection.info;
    if (refusals.admit({ connectionId: connection.id, remoteAddress, kind: `token:${kind}`, reason }, now)) {
      await session(connection, { type: 'RecordTokenRefused', kind, reason, remoteAddress });
    }
    return tokenNotValid();
  };

  /** A user token (ours or an external provider's) -> the user it authorizes, or undefined. */
  const userFromToken = async (token: string | undefined, now: number): Promise<TokenUser | undefined> => {
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

  const authorizeUser = async (connection: ClientConnection, user: TokenUser) => {
    // A storm's sockets authorize first thing: their session stream is not read from the log for
    // nothing. Only for Authorize, which its empty state never refuses; were the stream there after
    // all (a connection resumed from elsewhere), its append conflicts and is decided on the real history.
    const newStream = !sessionsWritten.has(connection);
    const command: SessionCommand = {
      type: 'Authorize',
      userId: user.userId,
      organisationId: user.organisationId,
      groups: user.groups,
      method: user.external ? 'external' : 'token',
      remoteAddress: connection.info.remoteAddress,
    };
    await session(connection, command, { newStream });
    connection.principal = { kind: 'user', ...user };
    deps.boundToUser(connection, user.userId);
  };

  /** The user's access token, handed out once the session has recorded its issue. */
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

  /** A signed-in user (password, or password and TOTP): the token and the `authorized` answer. */
  const signIn = async (connection: ClientConnection, id: number | undefined, userId: string, organisationId: string | null, groups: string[], now: number) => {
    const token = await issueAccessToken(connection, userId, organisationId, now);
    connection.principal = { kind: 'user', userId, organisationId, groups, external: false };
    deps.boundToUser(connection, userId);
    connection.reply(id, IDENTITY_ANSWERS.authorized, { userId, groups, token });
  };

  /** Records a failed password check and returns what to answer. */
  const loginRefused = async (connection: ClientConnection, username: string, error: unknown, now: number): Promise<unknown> => {
    const { code } = toPublicError(error);
    if (code !== 'BAD_REQUEST') {
      const reason = code === 'RATE_LIMITED' ? 'rate_limited' : code === 'FORBIDDEN' ? 'disabled' : 'unknown_user_or_password';
      const { remoteAddress } = connection.info;
      const name = username.slice(0, 64);
      if (refusals.admit({ connectionId: connection.id, remoteAddress, kind: 'login', reason, username: name }, now)) {
        await session(connection, { type: 'RecordLoginFailure', username: name, reason, remoteAddress });
      }
    }
    // A disabled account answers like a wrong password: the answer must not confirm it exists.
    return code === 'FORBIDDEN' ? new AppError('UNAUTHORIZED', 'unknown user or wrong password') : error;
  };

  const authenticate = defineTopic<TokenRequestData, ClientConnection>({
    name: IDENTITY_TOPICS.authenticate,
    schema: tokenRequestData,
    reject: UNAUTHORIZED_ANSWER,
    handle: async ({ client, data: { token }, id, now }) => {
      const user = await userFromToken(token, now);
      if (user) {
        await authorizeUser(client, user);
        client.reply(id, IDENTITY_ANSWERS.authenticated, { organisationId: user.organisationId, authStatus: 'authorized' });
        return;
      }
      try {
        const claims = await tokens.verify('organisation', token, now);
        const organisationId = claims.org ?? claims.sub;
        await session(client, { type: 'AuthenticateOrganisation', organisationId, clientId: claims.cid ?? null, remoteAddress: client.info.remoteAddress });
        client.principal = { kind: 'organisation', organisationId, clientId: claims.cid ?? null };
        client.reply(id, IDENTITY_ANSWERS.authenticated, { organisationId, authStatus: 'unauthorized' });
      } catch {
        throw await refusedToken(client, 'oauth2', now);
      }
    },
  });

  const authorize = defineTopic<TokenRequestData, ClientConnection>({
    name: IDENTITY_TOPICS.authorize,
    schema: tokenRequestData,
    reject: UNAUTHORIZED_ANSWER,
    // A guest may authorize again (its client repeating the CONNECT token, say): the token decides anew.
    admitGuest: () => true,
    handle: async ({ client, data: { token }, id, now }) => {
      const user = await userFromToken(token, now);
      if (user) {
        await authorizeUser(client, user);
        client.reply(id, IDENTITY_ANSWERS.authorized, { userId: user.userId, groups: user.groups, organisationId: user.organisationId });
        return;
      }
      const signIn = await guestFromToken(tokens, deps.guests, token, now);
      if (!signIn) throw await refusedToken(client, 'access', now);
      // A removed participant hears what any refused token hears; the log says why.
      if ('refused' in signIn) throw await refusedToken(client, 'guest', now, signIn.refused);
      const { guest } = signIn;
      await session(client, {
        type: 'Authorize',
        userId: guestSessionUserId(guest.invitationId),
        organisationId: guest.organisationId,
        groups: [],
        method: 'guest',
        remoteAddress: client.info.remoteAddress,
      });
      client.principal = guest;
      deps.boundToGuest(client, guest.invitationId);
      client.reply(id, IDENTITY_ANSWERS.authorized, guestAuthorizedAnswer(guest));
    },
  });

  const login = defineTopic<LoginData, ClientConnection>({
    name: IDENTITY_TOPICS.login,
    schema: loginData,
    reject: UNAUTHORIZED_ANSWER,
    handle: async ({ client, data: { username, password }, id, now }) => {
      let verified: VerifiedUser;
      try {
        verified = await identity.verifyPassword(username, password, origin(client, now));
      } catch (error) {
        throw await loginRefused(client, username, error, now);
      }
      const preferred = client.principal.kind === 'organisation' ? client.principal.organisationId : null;
      const organisationId = identity.organisationFor(verified.userId, preferred);
      const groups = identity.directory.groupsOf(verified.userId, organisationId);
      await session(client, {
        type: 'RecordLogin',
        userId: verified.userId,
        username: verified.username,
        mfaRequired: verified.mfaRequired,
        organisationId,
        groups,
        remoteAddress: client.info.remoteAddress,
      });
      if (verified.mfaRequired) {
        client.principal = { kind: 'mfa-pending', userId: verified.userId, organisationId };
        client.reply(id, IDENTITY_ANSWERS.mfa, MFA_PROMPT);
        return;
      }
      await signIn(client, id, verified.userId, organisationId, groups, now);
    },
  });

  const mfa = defineTopic<MfaData, ClientConnection>({
    name: IDENTITY_TOPICS.mfa,
    schema: mfaData,
    reject: UNAUTHORIZED_ANSWER,
    handle: async ({ client, data: { code }, id, now }) => {
      const pending = pendingMfa(client);
      const result = await identity.checkMfa(pending.userId, code, origin(client, now));
      const groups = identity.directory.groupsOf(pending.userId, pending.organisationId);
      await session(client, {
        type: 'RecordMfa',
        passed: result.passed,
        ...(result.reason ? { reason: result.reason } : {}),
        organisationId: pending.organisationId,
        groups,
        remoteAddress: client.info.remoteAddress,
      });
      if (!result.passed) {
        if (result.reason === 'locked') throw new AppError('FORBIDDEN', 'MFA is locked after too many wrong codes');
        throw new AppError('UNAUTHORIZED', 'invalid or already used code');
      }
      await signIn(client, id, pending.userId, pending.organisationId, groups, now);
    },
  });

  const authRequest = defineTopic<AuthRequestData, ClientConnection>({
    name: IDENTITY_TOPICS.authRequest,
    schema: authRequestData,
    reject: AUTH_REJECT_ANSWER,
    handle: async ({ client, data: { token }, id, now }) => {
      let app: { app: string; jti: string };
      try {
        app = await identity.verifyAppToken(token, now);
      } catch {
        throw await refusedToken(client, 'app', now);
      }
      const issued = await tokens.issue('session', { subject: app.app, ttlSeconds: config.sessionTokenTtlSeconds, claims: { sid: client.id }, now });
      await session(client, { type: 'StartAppSession', app: app.app, appTokenId: app.jti, remoteAddress: client.info.remoteAddress });
      await session(client, { type: 'RecordTokenIssued', kind: 'session', jti: issued.jti, subject: app.app, expiresAt: issued.expiresAt, digest: tokenDigest(issued.token) });
      client.principal = { kind: 'app', app: app.app, sessionToken: issued.token };
      client.reply(id, IDENTITY_ANSWERS.authAccept, { token: issued.token });
    },
  });

  const logout = defineTopic<unknown, ClientConnection>({
    name: IDENTITY_TOPICS.logout,
    schema: logoutData,
    // Leaving is always allowed: a guest's logout drops its item's access like a user's.
    admitGuest: () => true,
    handle: async ({ client, id }) => {
      if (client.principal.kind !== 'anonymous') await session(client, { type: 'Logout' });
      // An organisation's client token outlives a user's logout; a user's own login does not.
      if (client.principal.kind !== 'organisation') client.principal = { kind: 'anonymous' };
      // Disabling the user (or removing the guest) later must not close a socket that no longer speaks for them.
      deps.unboundFromUser(client);
      client.reply(id, IDENTITY_ANSWERS.unauthorized, { message: 'logged out', code: 'UNAUTHORIZED' });
    },
  });

  // Sign-in topics are what an anonymous client can send: their work in flight is capped and
  // their refusals count toward the bad-frame limit (sign-in-limits.ts). Logout does no work
  // worth capping and refuses nothing.
  const { signIns } = identity;
  return [signIns.guard(authenticate), signIns.guard(authorize), signIns.guard(login), signIns.guard(mfa), signIns.guard(authRequest), logout];
}

/**
 * For events that need a session (rooms, commands): the principal, or the protocol's
 * `unauthorized` answer. A Chat Signal `auth` field, when present, must be this
 * connection's session token.
 */
export function requireSession(connection: ClientConnection, data: unknown): Exclude<ClientConnection['principal'], { kind: 'anonymous' }> {
  const principal = connection.principal;
  const auth = isPlainObject(data) ? data.auth : undefined;
  if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw tokenNotValid();
  if (auth !== undefined && (principal.kind !== 'app' || !isSessionToken(principal.sessionToken, auth))) throw tokenNotValid();
  return principal;
}
