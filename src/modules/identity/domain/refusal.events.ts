/**
 * Refusals aggregated per remote address and window (stream `refusals-<address>-<windowStart>`,
 * one event per stream): past the first few of a window, refused tokens and logins are not
 * logged one by one (an anonymous flood would otherwise write the log as fast as it sends),
 * but counted, and this one event says who was refused, from where, how often and why.
 */
export interface RefusalsSummary {
  remoteAddress: string;
  /** Refusals summarised here: those of the window not logged one by one. */
  count: number;
  /** Count by what was refused: `token:access`, `token:app`, `login`, `oauth-client`, ... */
  kinds: Record<string, number>;
  /** Count by reason: `invalid token`, `unknown_user_or_password`, `rate_limited`, ... */
  reasons: Record<string, number>;
  /** Distinct connections they came on (at most the first 20 ids are kept). */
  connections: number;
  connectionIds: string[];
  /** Usernames tried in the summarised logins (at most the first 20 kept). */
  usernames: string[];
  /** Clock times of the first and last summarised refusal. */
  firstAt: number;
  lastAt: number;
}

export type RefusalEvent = { type: 'RefusalsSummarised'; data: RefusalsSummary };

export const REFUSAL_CATEGORY = 'refusals';
