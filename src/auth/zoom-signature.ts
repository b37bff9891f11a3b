import { createHmac } from 'node:crypto';

/**
 * Zoom Meeting SDK signatures (Zoom's "Meeting SDK authorization": a JWT, HS256, signed with
 * the SDK secret). The web and native SDKs check `appKey`/`sdkKey` against the app, `mn`
 * against the meeting joined, `role` (0 attendee, 1 host), and refuse a token whose `exp` is
 * less than 30 minutes or more than 48 hours after its `iat`. `iat` is set 30 s in the past,
 * as Zoom's own samples do, so a client clock a little behind ours does not refuse it.
 * `tokenExp` is the SDK's name for the same expiry.
 *
 * Written with node:crypto: one HMAC over two base64url parts needs no JWT library, and
 * keeping it here keeps token signing in auth/.
 */

/** Zoom refuses signatures valid for less than this or more than ZOOM_SIGNATURE_MAX_SECONDS. */
export const ZOOM_SIGNATURE_MIN_SECONDS = 30 * 60;
export const ZOOM_SIGNATURE_MAX_SECONDS = 48 * 3600;
/** How far back `iat` is put, against client clocks running behind. */
export const ZOOM_IAT_BACKDATE_SECONDS = 30;

export interface ZoomSignatureRequest {
  sdkKey: string;
  sdkSecret: string;
  /** The meeting (or webinar) number, digits only. */
  meetingNumber: string;
  role: 0 | 1;
  /** Epoch ms: the command's time. */
  now: number;
  /** Validity after `iat`, within Zoom's bounds (checked: a wrong bound would only fail in the SDK). */
  ttlSeconds: number;
}

export interface ZoomSignaturePayload {
  appKey: string;
  sdkKey: string;
  mn: string;
  role: 0 | 1;
  iat: number;
  exp: number;
  tokenExp: number;
}

export interface ZoomSignature {
  signature: string;
  payload: ZoomSignaturePayload;
  /** Epoch ms of `exp`. */
  expiresAt: number;
}

const base64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signZoomMeetingSignature(request: ZoomSignatureRequest): ZoomSignature {
  const { sdkKey, sdkSecret, meetingNumber, role, now, ttlSeconds } = request;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < ZOOM_SIGNATURE_MIN_SECONDS || ttlSeconds > ZOOM_SIGNATURE_MAX_SECONDS) {
    throw new RangeError(`a Zoom signature is valid ${ZOOM_SIGNATURE_MIN_SECONDS}-${ZOOM_SIGNATURE_MAX_SECONDS} s, not ${ttlSeconds}`);
  }
  if (!/^\d+$/.test(meetingNumber)) throw new RangeError('a Zoom meeting number is digits only');
  const iat = Math.floor(now / 1000) - ZOOM_IAT_BACKDATE_SECONDS;
  const exp = iat + ttlSeconds;
  const payload: ZoomSignaturePayload = { appKey: sdkKey, sdkKey, mn: meetingNumber, role, iat, exp, tokenExp: exp };
  const signingInput = `${HEADER}.${base64url(JSON.stringify(payload))}`;
  const mac = createHmac('sha256', sdkSecret).update(signingInput).digest('base64url');
  return { signature: `${signingInput}.${mac}`, payload, expiresAt: exp * 1000 };
}
