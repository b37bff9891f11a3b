/**
 * Browser Origin check before upgrade. Non-browser clients send no Origin and pass; a
 * browser page may connect when its origin is allow-listed, `*` is configured, or it was
 * served by this gateway itself (its Origin's host equals the Host header).
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined || origin === '') return true;
  if (allowed.includes('*')) return true;
  const normalized = origin.toLowerCase().replace(/\/+$/, '');
  if (allowed.some((entry) => entry.toLowerCase().replace(/\/+$/, '') === normalized)) return true;
  if (host === undefined) return false;
  try {
    return new URL(normalized).host === host.toLowerCase();
  } catch {
    return false;
  }
}
