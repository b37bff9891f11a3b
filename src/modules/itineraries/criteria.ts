import { AppError, type Principal } from '../../core/index.js';
import { isPlainObject } from '../../protocol/index.js';
import { loginRequired, type OrganisationAccess } from '../organisations/access.js';
import type { ItemRecord } from './projection.js';

/**
 * Participant criteria of a webrtc or zoom item (PROTOCOL.md sections 8 and 9):
 * `configuration.criteria {groups[], emails[], domains[], guests}` decide who may join.
 *
 * - `groups`, `emails`, `domains` are alternatives: a user meets the criteria when any list
 *   that is given (non-empty) matches, and anyone does when none is given. Users are known by
 *   username; a username with an `@` is their email address (and its domain theirs).
 * - `guests: false` keeps invited guests out; guests are otherwise let in (an invitation is
 *   the organiser's choice), and the lists do not apply to them: they are no users.
 * - Whoever runs calls in the item's organisation (`operate_webrtc`, `edit_item`, or the
 *   organisation's own credential) is never kept out of its calls by them.
 */

const CALL_TYPES: ReadonlySet<string> = new Set(['webrtc', 'zoom']);

interface Criteria {
  groups: string[];
  emails: string[];
  domains: string[];
  guests: boolean | undefined;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string' && entry !== '') : []);

/** The item's criteria, read from its stored configuration (checked by the schema when written). */
function criteriaOf(item: Pick<ItemRecord, 'type' | 'configuration'>): Criteria | undefined {
  if (!CALL_TYPES.has(item.type)) return undefined;
  const record = item.configuration.criteria;
  if (!isPlainObject(record)) return undefined;
  return {
    groups: strings(record.groups),
    emails: strings(record.emails).map((email) => email.toLowerCase()),
    // `@acme.example` and `acme.example` name the same domain.
    domains: strings(record.domains).map((domain) => domain.replace(/^@/, '').toLowerCase()),
    guests: typeof record.guests === 'boolean' ? record.guests : undefined,
  };
}

const unmet = (message: string): AppError => new AppError('FORBIDDEN', message, { reason: 'unmet_criteria' });

/** Throws FORBIDDEN (`reason: unmet_criteria`) unless the principal may join the item's call. */
export function requireCriteria(principal: Principal, item: Pick<ItemRecord, 'type' | 'configuration' | 'organisationId'>, access: OrganisationAccess): void {
  const criteria = criteriaOf(item);
  if (!criteria) return;
  if (principal.kind === 'guest') {
    if (criteria.guests === false) throw unmet('this call is for members only, not for guests');
    return;
  }
  if (criteria.groups.length === 0 && criteria.emails.length === 0 && criteria.domains.length === 0) return;
  if (access.can(principal, item.organisationId, 'operate_webrtc') || access.can(principal, item.organisationId, 'edit_item')) return;
  // Someone not signed in may meet them once signed in: ask for that, not a final no.
  if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw loginRequired(principal);
  const participant = access.participant(principal, item.organisationId);
  if (participant && meets(criteria, participant)) return;
  throw unmet('you do not meet the participant criteria of this call');
}

function meets(criteria: Criteria, participant: { groups: string[]; username: string | null }): boolean {
  if (criteria.groups.some((group) => participant.groups.includes(group))) return true;
  const email = participant.username?.includes('@') ? participant.username.toLowerCase() : undefined;
  if (email === undefined) return false;
  if (criteria.emails.includes(email)) return true;
  return criteria.domains.includes(email.slice(email.lastIndexOf('@') + 1));
}
