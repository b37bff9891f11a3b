import { z } from 'zod';

/**
 * The identity topics of PROTOCOL.md section 4: what a client sends to sign a socket in and
 * out, and the events the server answers with. Imports only zod: the client SDK imports this.
 */

export const IDENTITY_TOPICS = {
  authenticate: 'authenticate',
  authorize: 'authorize',
  login: 'login',
  mfa: 'mfa',
  authRequest: 'auth-request',
  logout: 'logout',
} as const;

/** The answers; every refusal of these topics is `unauthorized` except `auth-request`'s `auth-reject`. */
export const IDENTITY_ANSWERS = {
  authenticated: 'authenticated',
  authorized: 'authorized',
  unauthorized: 'unauthorized',
  mfa: 'mfa',
  authAccept: 'auth-accept',
  authReject: 'auth-reject',
} as const;

/** The longest token the gateway verifies (auth/tokens.ts refuses longer ones as forged). */
export const MAX_TOKEN_LENGTH = 4096;
/** Longer passwords are refused before hashing: scrypt over megabytes is a denial of service. */
export const MAX_PASSWORD_LENGTH = 1024;
const MAX_USERNAME_LENGTH = 1024;
const MAX_MFA_CODE_LENGTH = 64;

/**
 * A presented token. Anything else in its place (none, a number, an oversized string) is read
 * as "no token": a refused token is an audited event (TokenRefused) answered as "Token is not
 * valid", not a malformed frame, so a forged token and a missing one leave the same trail.
 */
const presentedToken = z.string().max(MAX_TOKEN_LENGTH).optional().catch(undefined);

/** `authenticate` / `authorize` `{method:"oauth2", token}`; data that is no object carries no token. */
export const tokenRequestData = z
  .object({
    method: z.string().max(64).optional().catch(undefined),
    token: presentedToken,
  })
  .catch({ token: undefined });

/** Chat Signal's `auth-request`: `{token}` or the bare token string. */
export const authRequestData = z
  .union([z.string().max(MAX_TOKEN_LENGTH).transform((token) => ({ token })), z.object({ token: presentedToken })])
  .catch({ token: undefined });

export const loginData = z.object({
  username: z.string().min(1).max(MAX_USERNAME_LENGTH),
  password: z.string().max(MAX_PASSWORD_LENGTH),
});

export const mfaData = z.object({ code: z.string().max(MAX_MFA_CODE_LENGTH) });

/** `logout` carries nothing; whatever a client sends along is ignored. */
export const logoutData = z.unknown();

export type TokenRequestData = z.output<typeof tokenRequestData>;
export type AuthRequestData = z.output<typeof authRequestData>;
export type LoginData = z.output<typeof loginData>;
export type MfaData = z.output<typeof mfaData>;
