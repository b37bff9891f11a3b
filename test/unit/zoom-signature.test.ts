import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { ZOOM_IAT_BACKDATE_SECONDS, signZoomMeetingSignature } from '../../src/auth/zoom-signature.js';
import { decodeJson, split } from '../helpers/jws.js';

const NOW = Date.UTC(2030, 4, 4, 9, 0, 0, 250);
const SDK_KEY = 'abcDEF123_key';
const SDK_SECRET = 'sdk-secret-0123456789abcdef';

/** An independent check of an HS256 JWT: recompute the MAC over the first two parts with node:crypto. */
function verifyHs256(token: string, secret: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const parts = split(token);
  const expected = createHmac('sha256', secret).update(`${parts.header}.${parts.payload}`).digest();
  const actual = Buffer.from(parts.signature, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new Error('bad signature');
  return { header: decodeJson(parts.header), payload: decodeJson(parts.payload) };
}

describe('Zoom Meeting SDK signature', () => {
  it('is an HS256 JWT over Zoom’s claims, signed with the SDK secret', () => {
    const signed = signZoomMeetingSignature({ sdkKey: SDK_KEY, sdkSecret: SDK_SECRET, meetingNumber: '81234567890', role: 1, now: NOW, ttlSeconds: 7200 });
    const { header, payload } = verifyHs256(signed.signature, SDK_SECRET);
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    const iat = Math.floor(NOW / 1000) - ZOOM_IAT_BACKDATE_SECONDS;
    expect(payload).toEqual({ appKey: SDK_KEY, sdkKey: SDK_KEY, mn: '81234567890', role: 1, iat, exp: iat + 7200, tokenExp: iat + 7200 });
    expect(signed.expiresAt).toBe((iat + 7200) * 1000);
    expect(() => verifyHs256(signed.signature, `${SDK_SECRET}x`)).toThrow('bad signature');
    expect(signed.signature).not.toContain(SDK_SECRET);
  });

  it("refuses validities Zoom would refuse (under 30 minutes, over 48 hours) and meeting numbers that are not digits", () => {
    const base = { sdkKey: SDK_KEY, sdkSecret: SDK_SECRET, meetingNumber: '123456789', role: 0 as const, now: NOW };
    expect(() => signZoomMeetingSignature({ ...base, ttlSeconds: 1799 })).toThrow(RangeError);
    expect(() => signZoomMeetingSignature({ ...base, ttlSeconds: 48 * 3600 + 1 })).toThrow(RangeError);
    expect(signZoomMeetingSignature({ ...base, ttlSeconds: 1800 }).payload.exp - signZoomMeetingSignature({ ...base, ttlSeconds: 1800 }).payload.iat).toBe(1800);
    expect(() => signZoomMeetingSignature({ ...base, meetingNumber: '12 34', ttlSeconds: 7200 })).toThrow(RangeError);
  });
});

describe('zoom config', () => {
  it('takes zoomSdkCredentials as JSON from the environment and bounds zoomSignatureSeconds', () => {
    const credentials = { 'org-1': { key: SDK_KEY, secret: SDK_SECRET } };
    const config = loadConfig({ env: { SWITCHYARD_ZOOM_SDK_CREDENTIALS: JSON.stringify(credentials), SWITCHYARD_ZOOM_SIGNATURE_SECONDS: '3600' } });
    expect(config.zoomSdkCredentials).toEqual(credentials);
    expect(config.zoomSignatureSeconds).toBe(3600);
    expect(loadConfig({}).zoomSignatureSeconds).toBe(7200);
    expect(() => loadConfig({ env: { SWITCHYARD_ZOOM_SIGNATURE_SECONDS: '60' } })).toThrow(/zoomSignatureSeconds/);
    expect(() => loadConfig({ env: { SWITCHYARD_RTMP_INGEST_BASE_URL: 'https://not-rtmp.example' } })).toThrow(/rtmpIngestBaseUrl/);
  });

  it('refuses malformed credentials without quoting the secret', () => {
    const secret = 'has a space but is secret';
    let message = '';
    try {
      loadConfig({ env: { SWITCHYARD_ZOOM_SDK_CREDENTIALS: JSON.stringify({ 'org-1': { key: SDK_KEY, secret } }) } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/zoomSdkCredentials\.org-1\.secret/);
    expect(message).not.toContain(secret);
    expect(() => loadConfig({ env: { SWITCHYARD_ZOOM_SDK_CREDENTIALS: '{not json' } })).toThrow(/zoomSdkCredentials must be a JSON object/);
  });
});
