import type { AuthMethod, SessionEvent } from './session.events.js';

/**
 * Session commands carry what the edge verified (password, token, TOTP code): the domain
 * decides which transition and which audit events follow, never checks secrets itself.
 */
export type SessionCommand =
  | { type: 'AuthenticateOrganisation'; organisationId: string; clientId: string | null; remoteAddress: string }
  | { type: 'RecordLogin'; userId: string; username: string; mfaRequired: boolean; organisationId: string | null; groups: string[]; remoteAddress: string }
  | { type: 'RecordLoginFailure'; username: string; reason: Extract<SessionEvent, { type: 'LoginFailed' }>['data']['reason']; remoteAddress: string }
  | { type: 'RecordMfa'; passed: boolean; reason?: 'invalid' | 'locked'; organisationId: string | null; groups: string[]; remoteAddress: string }
  | { type: 'Authorize'; userId: string; organisationId: string | null; groups: string[]; method: AuthMethod; remoteAddress: string }
  | { type: 'StartAppSession'; app: string; appTokenId: string; remoteAddress: string }
  | { type: 'RecordTokenIssued'; kind: string; jti: string; subject: string; expiresAt: number | null; digest?: string }
  | { type: 'RecordTokenRefused'; kind: string; reason: string; remoteAddress: string }
  | { type: 'Logout' }
  | { type: 'EndSession'; by: string; reason: string };
