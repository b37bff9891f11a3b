import type { SyncExpiryReason } from './sync.events.js';

/** Ids are drawn by the caller (core/ids.ts), like `now`: decide reads neither a clock nor a random source. */

export interface CreateSyncSession {
  type: 'CreateSyncSession';
  syncId: string;
  userId: string;
  sessionId: string;
  changeLimit: number;
  now: number;
}

/** A scheduler timer's command: `expectedId` is the id it was set for, so a stale timer changes nothing. */
export interface RotateSyncSession {
  type: 'RotateSyncSession';
  expectedId: string;
  nextId: string;
  now: number;
}

export interface PauseSyncSession {
  type: 'PauseSyncSession';
  /** The id the device presented (from the QR code). */
  sessionId: string;
  verificationId: string;
  devicePublicKey: string;
  deviceKeyFingerprint: string;
  /** Whether a page is showing the session: a handshake with nobody watching pauses nothing. */
  pageConnected: boolean;
  remoteAddress: string;
  resumeAt: number;
  now: number;
}

export interface ResumeSyncSession {
  type: 'ResumeSyncSession';
  expectedId: string;
  nextId: string;
  now: number;
}

/**
 * The outcome of a password check made before decide (scrypt is I/O): decide only records
 * it, and fails the session at `maxFailures`.
 */
export interface VerifySyncSession {
  type: 'VerifySyncSession';
  sessionId: string;
  passwordMatched: boolean;
  sharedKeyFingerprint: string;
  maxFailures: number;
  remoteAddress: string;
  now: number;
}

export interface ExpireSyncSession {
  type: 'ExpireSyncSession';
  reason: SyncExpiryReason;
  now: number;
}

export type SyncSessionCommand = CreateSyncSession | RotateSyncSession | PauseSyncSession | ResumeSyncSession | VerifySyncSession | ExpireSyncSession;
