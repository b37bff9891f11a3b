/**
 * Events of a socket's session (stream `session-<connectionId>`): the audit trail of who
 * authenticated on a connection, how, from where, and every refusal on the way.
 */
/** `guest`: an invited participant's guest token (PROTOCOL.md section 9); its userId is `guest:<invitationId>`. */
export type AuthMethod = 'password' | 'mfa' | 'token' | 'external' | 'app' | 'guest';

export type SessionEvent =
  | { type: 'OrganisationAuthenticated'; data: { organisationId: string; clientId: string | null; remoteAddress: string } }
  | { type: 'LoginSucceeded'; data: { userId: string; username: string; mfaRequired: boolean; remoteAddress: string } }
  | { type: 'LoginFailed'; data: { username: string; reason: 'unknown_user_or_password' | 'disabled' | 'rate_limited'; remoteAddress: string } }
  | { type: 'MfaChallenged'; data: { userId: string } }
  | { type: 'MfaPassed'; data: { userId: string } }
  | { type: 'MfaFailed'; data: { userId: string; reason: 'invalid' | 'locked' | 'no_challenge' } }
  | {
      type: 'SessionAuthorized';
      data: { userId: string; organisationId: string | null; groups: string[]; method: AuthMethod; remoteAddress: string };
    }
  | { type: 'AppSessionStarted'; data: { app: string; appTokenId: string; remoteAddress: string } }
  /**
   * `digest`: on a session token, its SHA-256 (base64url), so another cluster node that adopts
   * the connection after a node loss can check the Chat Signal `auth` field against it.
   */
  | { type: 'TokenIssued'; data: { kind: string; jti: string; subject: string; expiresAt: number | null; digest?: string } }
  | { type: 'TokenRefused'; data: { kind: string; reason: string; remoteAddress: string } }
  | { type: 'LoggedOut'; data: { userId: string | null } }
  | { type: 'SessionEnded'; data: { by: string; reason: string } };

export const SESSION_CATEGORY = 'session';

/** Every SessionEvent type (the event catalogue); `satisfies` fails to compile when one is missing. */
export const SESSION_EVENT_TYPES = Object.keys({
  OrganisationAuthenticated: true,
  LoginSucceeded: true,
  LoginFailed: true,
  MfaChallenged: true,
  MfaPassed: true,
  MfaFailed: true,
  SessionAuthorized: true,
  AppSessionStarted: true,
  TokenIssued: true,
  TokenRefused: true,
  LoggedOut: true,
  SessionEnded: true,
} satisfies Record<SessionEvent['type'], true>) as readonly SessionEvent['type'][];
