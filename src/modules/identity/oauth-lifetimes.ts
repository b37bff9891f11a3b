import type { TokenClaims } from '../../auth/index.js';

/** How long each short-lived artefact of the OAuth2 server lives. */

/** How long a login page may sit open before its form is refused. */
export const LOGIN_FORM_TTL_SECONDS = 600;
/** How long after the password the TOTP code may come. */
export const MFA_STEP_TTL_SECONDS = 300;
/** RFC 6749 section 4.1.2 recommends at most ten minutes; a minute is plenty for a redirect. */
export const CODE_TTL_SECONDS = 60;

/** Strictly before `exp`: the clock tolerance TokenService allows is for other issuers' clocks, not our own short lifetimes. */
export const unexpired = (claims: TokenClaims, now: number): boolean => typeof claims.exp === 'number' && claims.exp * 1000 > now;
