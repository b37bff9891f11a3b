import type { Principal } from '../../core/index.js';
import type { ItemModulePorts, JoinedItem } from '../itineraries/index.js';

export type RoleItem = Pick<JoinedItem, 'eventId' | 'organisationId' | 'configuration'>;

/**
 * Who may do what with an item's stream or call, beyond what everyone may: one place for the
 * three questions the topics, the join and the pushes ask. Read live (a grant or a user type
 * set counts for the next command or push).
 */
export class StreamRoles {
  constructor(private readonly deps: Pick<ItemModulePorts, 'access' | 'events'>) {}

  /** The broadcaster: the item's designated actor (`configuration.actor`, a user id), or a credential holding `stream_rtmp` in its organisation. */
  mayStream(principal: Principal, item: RoleItem): boolean {
    if (principal.kind === 'user' && typeof item.configuration.actor === 'string' && item.configuration.actor === principal.userId) return true;
    return this.deps.access.can(principal, item.organisationId, 'stream_rtmp');
  }

  /** Who watches a rehearsal: the broadcaster, and the event's crew and chief. */
  mayPreview(principal: Principal, item: RoleItem): boolean {
    return this.mayStream(principal, item) || this.isCrew(principal, item);
  }

  /** Who may start a Zoom meeting as its host (role 1): whoever edits items or runs calls in the organisation, and the event's crew and chief. */
  mayHost(principal: Principal, item: RoleItem): boolean {
    const { access } = this.deps;
    return access.can(principal, item.organisationId, 'edit_item') || access.can(principal, item.organisationId, 'operate_webrtc') || this.isCrew(principal, item);
  }

  private isCrew(principal: Principal, item: RoleItem): boolean {
    if (principal.kind !== 'user') return false;
    const userType = this.deps.events.userTypeOf(item.eventId, principal.userId);
    return userType === 'crew' || userType === 'chief';
  }
}
