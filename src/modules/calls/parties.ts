import { AppError, type Principal } from '../../core/index.js';
import type { OrganisationAccess } from '../organisations/access.js';
import { loginRequired } from '../organisations/access.js';
import type { JoinedItem } from '../itineraries/index.js';
import type { CallMode } from './domain/index.js';

/**
 * Who is who in a call (PROTOCOL.md section 8). A party is named by what Extream clients
 * already hold: a user by its user id (as `configuration.participants` and `.operators` name
 * them), a guest as `guest:<invitationId>`, an organisation's own credential as
 * `organisation:<id>`. User ids are base64url: no `:`, so the three never collide.
 */

/** The party a principal speaks for in calls; undefined for anyone not signed in. */
export function partyOf(principal: Principal): string | undefined {
  switch (principal.kind) {
    case 'user':
      return principal.userId;
    case 'guest':
      return `guest:${principal.invitationId}`;
    case 'organisation':
      return `organisation:${principal.organisationId}`;
    default:
      return undefined;
  }
}

/** The caller's party, or the login refusal (401, `requiresLogin`): calls are between known people. */
export function requireParty(principal: Principal): string {
  const party = partyOf(principal);
  if (party === undefined) throw loginRequired(principal);
  return party;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string' && entry !== '') : []);

/** `configuration.mode`, as the item join answers it (`group` unless set). */
export const modeOf = (item: Pick<JoinedItem, 'configuration'>): CallMode => {
  const mode = item.configuration.mode;
  return mode === 'instant' || mode === 'round-robin' ? mode : 'group';
};

export const configuredParticipants = (item: Pick<JoinedItem, 'configuration'>): string[] => strings(item.configuration.participants);

export const maxParticipantsOf = (item: Pick<JoinedItem, 'configuration'>): number | null =>
  typeof item.configuration.max_participants === 'number' ? item.configuration.max_participants : null;

/** Whether instances of the item's calls are memorable words by default (`configuration.generator`). */
export const memorableByDefault = (item: Pick<JoinedItem, 'configuration'>): boolean => item.configuration.generator === 'memorable';

/**
 * Operators of an item's calls: the users its configuration names as `operators`, and whoever
 * holds `operate_webrtc` in its organisation (the organisation's own credential included).
 */
export class CallOperators {
  constructor(private readonly access: OrganisationAccess) {}

  isOperator(principal: Principal, item: Pick<JoinedItem, 'configuration' | 'organisationId'>): boolean {
    if (principal.kind === 'user' && strings(item.configuration.operators).includes(principal.userId)) return true;
    return this.access.can(principal, item.organisationId, 'operate_webrtc');
  }

  /** Whether a party (a user id) operates the item's calls, asked about a user who is not the caller. */
  isOperatorParty(party: string, item: Pick<JoinedItem, 'configuration' | 'organisationId'>): boolean {
    if (party.includes(':')) return party === `organisation:${item.organisationId}`;
    return this.isOperator({ kind: 'user', userId: party, organisationId: item.organisationId, groups: [], external: false }, item);
  }

  /** Throws unless the principal operates the item's calls: 401 for no sign-in, 403 (`reason: unauthorized`) otherwise. */
  require(principal: Principal, item: Pick<JoinedItem, 'configuration' | 'organisationId'>): string {
    const party = requireParty(principal);
    if (!this.isOperator(principal, item)) {
      throw new AppError('FORBIDDEN', "this needs the operate_webrtc permission, or to be one of the item's operators", { reason: 'unauthorized' });
    }
    return party;
  }
}
