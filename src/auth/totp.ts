import { generate, generateSecret, generateURI, verify } from 'otplib';

/** TOTP (RFC 6238, 30 s steps, 6 digits, SHA-1: what authenticator apps speak) via otplib. */
export const TOTP_PERIOD_SECONDS = 30;

export function newTotpSecret(): string {
  return generateSecret();
}

export function totpUri(secret: string, username: string, issuer: string): string {
  return generateURI({ issuer, label: username, secret });
}

export function totpCode(secret: string, nowMs: number): Promise<string> {
  return generate({ secret, epoch: Math.floor(nowMs / 1000) });
}

/**
 * The time step a code belongs to, or null. One step of clock skew either way is accepted
 * (epochTolerance = one period); codes at or before `afterTimeStep` are refused, which is
 * what makes a code usable once.
 */
export async function matchTotp(secret: string, code: string, nowMs: number, afterTimeStep: number | null): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  // Every step in the window is at or before the last one used (the clock stepped back since):
  // nothing can match, and otplib would throw on an afterTimeStep beyond its window.
  const newestInWindow = Math.floor((Math.floor(nowMs / 1000) + TOTP_PERIOD_SECONDS) / TOTP_PERIOD_SECONDS);
  if (afterTimeStep !== null && afterTimeStep >= newestInWindow) return null;
  const result = await verify({
    secret,
    token: code,
    epoch: Math.floor(nowMs / 1000),
    epochTolerance: TOTP_PERIOD_SECONDS,
    ...(afterTimeStep === null ? {} : { afterTimeStep }),
  });
  return result.valid ? (result as { timeStep: number }).timeStep : null;
}
