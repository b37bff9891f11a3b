/**
 * The device sync session (PROTOCOL.md section 7): a web page shows rotating QR codes, a
 * phone scans one, hands over its RSA key (pause), then proves the user's password (verify).
 * One stream per page session, `syncsession-<syncId>`; the session ids in URLs rotate inside
 * it, so a rotated id is dead while the stream (and its audit trail) goes on.
 */

export const SYNC_SESSION_CATEGORY = 'syncsession';

export interface SyncSessionCreatedData {
  syncId: string;
  userId: string;
  /** The first session id: the one in the page's websocket URL and its first QR code. */
  sessionId: string;
  /** URLs offered to the page at most (`syncChangeLimit` at creation). */
  changeLimit: number;
  createdAt: number;
}

export interface SyncSessionRotatedData {
  syncId: string;
  /** The id that dies now. */
  from: string;
  /** The id that replaces it (also the last one's replacement, when the session then expires). */
  to: string;
  /** Rotations so far, this one included. */
  rotation: number;
  rotatedAt: number;
}

export interface SyncSessionPausedData {
  syncId: string;
  /** The QR code's id the device presented; it dies now (anyone may have seen the QR code). */
  from: string;
  /** The verification id, known only to the device that made the handshake. */
  sessionId: string;
  /** The device's RSA public key (PEM): the shared key is encrypted to it. Public, not a secret. */
  devicePublicKey: string;
  /** SHA-256 of the key's SPKI DER, base64url: how operators tell devices apart. */
  deviceKeyFingerprint: string;
  remoteAddress: string;
  pausedAt: number;
  /** When rotation resumes if the device has not proven the user by then. */
  resumeAt: number;
}

export interface SyncSessionResumedData {
  syncId: string;
  /** The verification id that dies now. */
  sessionId: string;
  resumedAt: number;
}

export interface SyncSessionPasswordRejectedData {
  syncId: string;
  sessionId: string;
  /** Wrong passwords on this session so far, this one included. */
  failures: number;
  remoteAddress: string;
  rejectedAt: number;
}

export interface SyncSessionVerifiedData {
  syncId: string;
  sessionId: string;
  /** SHA-256 of the shared key, base64url: never the key itself. */
  sharedKeyFingerprint: string;
  remoteAddress: string;
  verifiedAt: number;
}

export interface SyncSessionFailedData {
  syncId: string;
  sessionId: string;
  reason: 'too many wrong passwords';
  failures: number;
  failedAt: number;
}

export type SyncExpiryReason = 'changes used up' | 'page closed' | 'page never connected' | 'gateway restarted';

export interface SyncSessionExpiredData {
  syncId: string;
  /** The id current when it expired; it dies now. */
  sessionId: string;
  reason: SyncExpiryReason;
  expiredAt: number;
}

export type SyncSessionEvent =
  | { type: 'SyncSessionCreated'; data: SyncSessionCreatedData }
  | { type: 'SyncSessionRotated'; data: SyncSessionRotatedData }
  | { type: 'SyncSessionPaused'; data: SyncSessionPausedData }
  | { type: 'SyncSessionResumed'; data: SyncSessionResumedData }
  | { type: 'SyncSessionPasswordRejected'; data: SyncSessionPasswordRejectedData }
  | { type: 'SyncSessionVerified'; data: SyncSessionVerifiedData }
  | { type: 'SyncSessionFailed'; data: SyncSessionFailedData }
  | { type: 'SyncSessionExpired'; data: SyncSessionExpiredData };

/**
 * Every SyncSessionEvent type, for the operator's event catalogue; `satisfies` fails to
 * compile when the union gains a type not listed here.
 */
export const SYNC_SESSION_EVENT_TYPES = Object.keys({
  SyncSessionCreated: true,
  SyncSessionRotated: true,
  SyncSessionPaused: true,
  SyncSessionResumed: true,
  SyncSessionPasswordRejected: true,
  SyncSessionVerified: true,
  SyncSessionFailed: true,
  SyncSessionExpired: true,
} satisfies Record<SyncSessionEvent['type'], true>) as readonly SyncSessionEvent['type'][];
