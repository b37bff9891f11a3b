import { describe, expect, it } from 'vitest';
import { syncSessionAggregate, type SyncSessionCommand, type SyncSessionEvent } from '../../src/modules/sync/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * A device sync session (stream `syncsession-<syncId>`): given its events, when a command
 * (timers' rotations and resumptions, the device's handshake and verification, expiry),
 * then the events decided or the code refused with. Ids come in the commands: decide draws none.
 */

const spec = deciderSpec(syncSessionAggregate);
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const SYNC = 'sync1';

const created = (changeLimit = 3): SyncSessionEvent => ({
  type: 'SyncSessionCreated',
  data: { syncId: SYNC, userId: 'u1', sessionId: 's0', changeLimit, createdAt: T0 },
});
const rotated = (from: string, to: string, rotation: number, at = T0 + rotation * 15_000): SyncSessionEvent => ({
  type: 'SyncSessionRotated',
  data: { syncId: SYNC, from, to, rotation, rotatedAt: at },
});
const paused = (from = 's0', sessionId = 'v1'): SyncSessionEvent => ({
  type: 'SyncSessionPaused',
  data: { syncId: SYNC, from, sessionId, devicePublicKey: 'PEM', deviceKeyFingerprint: 'fp', remoteAddress: '10.0.0.1', pausedAt: T0 + 1, resumeAt: T0 + 120_001 },
});

const rotate = (expectedId: string, nextId: string, now = T0 + 15_000): SyncSessionCommand => ({ type: 'RotateSyncSession', expectedId, nextId, now });
const pause = (sessionId = 's0', pageConnected = true): SyncSessionCommand => ({
  type: 'PauseSyncSession',
  sessionId,
  verificationId: 'v1',
  devicePublicKey: 'PEM',
  deviceKeyFingerprint: 'fp',
  pageConnected,
  remoteAddress: '10.0.0.1',
  resumeAt: T0 + 120_001,
  now: T0 + 1,
});
const verify = (passwordMatched: boolean, sessionId = 'v1', now = T0 + 2): SyncSessionCommand => ({
  type: 'VerifySyncSession',
  sessionId,
  passwordMatched,
  sharedKeyFingerprint: 'sk',
  maxFailures: 3,
  remoteAddress: '10.0.0.2',
  now,
});
const rejected = (failures: number, now = T0 + 2): SyncSessionEvent => ({
  type: 'SyncSessionPasswordRejected',
  data: { syncId: SYNC, sessionId: 'v1', failures, remoteAddress: '10.0.0.2', rejectedAt: now },
});

describe('sync session: creation and rotation', () => {
  it('creates once, with its first id and the change limit', () => {
    const after = spec
      .given()
      .when({ type: 'CreateSyncSession', syncId: SYNC, userId: 'u1', sessionId: 's0', changeLimit: 3, now: T0 })
      .then([created()]);
    expect(after.state.value).toBe('rotating');
    expect(after.state.context.currentId).toBe('s0');
    spec.given([created()]).when({ type: 'CreateSyncSession', syncId: SYNC, userId: 'u1', sessionId: 's9', changeLimit: 3, now: T0 }).thenThrows('CONFLICT');
  });

  it('rotates the current id; the last rotation also expires the session', () => {
    const after = spec.given([created(3)]).when(rotate('s0', 's1')).then([rotated('s0', 's1', 1)]);
    expect(after.state.context.currentId).toBe('s1');
    spec.given([created(3), rotated('s0', 's1', 1)]).when(rotate('s1', 's2', T0 + 30_000)).then([rotated('s1', 's2', 2)]);
    const last = spec
      .given([created(3), rotated('s0', 's1', 1), rotated('s1', 's2', 2)])
      .when(rotate('s2', 's3', T0 + 45_000))
      .then([
        rotated('s2', 's3', 3),
        { type: 'SyncSessionExpired', data: { syncId: SYNC, sessionId: 's3', reason: 'changes used up', expiredAt: T0 + 45_000 } },
      ]);
    expect(last.state.value).toBe('expired');
    expect(last.state.status).toBe('done');
  });

  it('refuses a stale rotation timer (an id that is no longer current)', () => {
    spec.given([created(), rotated('s0', 's1', 1)]).when(rotate('s0', 'x')).thenThrows('CONFLICT', /stale/);
    spec.given([created(), paused()]).when(rotate('v1', 'x')).thenThrows('CONFLICT', /stale/);
  });
});

describe('sync session: handshake (pause)', () => {
  it('pauses on the current id with a page connected; the QR id is replaced by the verification id', () => {
    const after = spec.given([created()]).when(pause()).then([paused()]);
    expect(after.state.value).toBe('paused');
    expect(after.state.context.currentId).toBe('v1');
    expect(after.state.context.devicePublicKey).toBe('PEM');
  });

  it('refuses rotated, unknown, expired and already paused ids, and a session with no page', () => {
    spec.given([created(), rotated('s0', 's1', 1)]).when(pause('s0')).thenThrows('NOT_FOUND', /no longer current/);
    spec.given().when(pause('s0')).thenThrows('NOT_FOUND', /unknown/);
    spec
      .given([created(), { type: 'SyncSessionExpired', data: { syncId: SYNC, sessionId: 's0', reason: 'page closed', expiredAt: T0 } }])
      .when(pause('s0'))
      .thenThrows('NOT_FOUND', /expired/);
    spec.given([created(), paused()]).when(pause('s0')).thenThrows('NOT_FOUND');
    spec.given([created(), paused()]).when(pause('v1')).thenThrows('NOT_FOUND');
    spec.given([created()]).when(pause('s0', false)).thenThrows('CONFLICT', /no page/);
  });

  it('resumes after the paused timeout with a fresh id; the verification id dies', () => {
    const after = spec
      .given([created(), paused()])
      .when({ type: 'ResumeSyncSession', expectedId: 'v1', nextId: 's1', now: T0 + 120_001 })
      .then([
        { type: 'SyncSessionResumed', data: { syncId: SYNC, sessionId: 'v1', resumedAt: T0 + 120_001 } },
        rotated('v1', 's1', 1, T0 + 120_001),
      ]);
    expect(after.state.value).toBe('rotating');
    expect(after.state.context.currentId).toBe('s1');
    expect(after.state.context.devicePublicKey).toBeNull();
    spec.given([created()]).when({ type: 'ResumeSyncSession', expectedId: 's0', nextId: 's1', now: T0 }).thenThrows('CONFLICT', /stale/);
  });
});

describe('sync session: verification', () => {
  it('verifies once on the verification id; a replay is refused', () => {
    const after = spec
      .given([created(), paused()])
      .when(verify(true))
      .then([{ type: 'SyncSessionVerified', data: { syncId: SYNC, sessionId: 'v1', sharedKeyFingerprint: 'sk', remoteAddress: '10.0.0.2', verifiedAt: T0 + 2 } }]);
    expect(after.state.value).toBe('verified');
    after.when(verify(true)).thenThrows('CONFLICT', /already verified/);
  });

  it('does not verify on the QR id, nor while rotating', () => {
    spec.given([created(), paused()]).when(verify(true, 's0')).thenThrows('NOT_FOUND');
    spec.given([created()]).when(verify(true, 's0')).thenThrows('NOT_FOUND');
  });

  it('counts wrong passwords and fails the session at the limit', () => {
    const once = spec.given([created(), paused()]).when(verify(false)).then([rejected(1)]);
    const twice = once.when(verify(false)).then([rejected(2)]);
    const failed = twice
      .when(verify(false))
      .then([rejected(3), { type: 'SyncSessionFailed', data: { syncId: SYNC, sessionId: 'v1', reason: 'too many wrong passwords', failures: 3, failedAt: T0 + 2 } }]);
    expect(failed.state.value).toBe('failed');
    failed.when(verify(true)).thenThrows('CONFLICT', /failed/);
  });
});

describe('sync session: expiry', () => {
  it('expires a rotating or paused session with its reason; an ended one is a no-op', () => {
    spec
      .given([created(), paused()])
      .when({ type: 'ExpireSyncSession', reason: 'gateway restarted', now: T0 + 5 })
      .then([{ type: 'SyncSessionExpired', data: { syncId: SYNC, sessionId: 'v1', reason: 'gateway restarted', expiredAt: T0 + 5 } }]);
    spec
      .given([created()])
      .when({ type: 'ExpireSyncSession', reason: 'page closed', now: T0 + 5 })
      .then([{ type: 'SyncSessionExpired', data: { syncId: SYNC, sessionId: 's0', reason: 'page closed', expiredAt: T0 + 5 } }]);
    spec
      .given([created(), paused(), { type: 'SyncSessionVerified', data: { syncId: SYNC, sessionId: 'v1', sharedKeyFingerprint: 'sk', remoteAddress: 'a', verifiedAt: T0 } }])
      .when({ type: 'ExpireSyncSession', reason: 'page closed', now: T0 + 5 })
      .then([]);
    spec.given().when({ type: 'ExpireSyncSession', reason: 'page closed', now: T0 }).then([]);
  });
});
