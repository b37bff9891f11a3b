/**
 * An item as invitations need it, from the itineraries module's directory (declared here, so
 * this module depends on a shape, not on that module; adapted at wiring). Dates are epoch ms.
 */
export interface InvitableItem {
  itemId: string;
  itineraryId: string;
  eventId: string;
  organisationId: string;
  type: string;
  name: string;
  startDate: number | null;
  endDate: number | null;
  configuration: Record<string, unknown>;
}

export interface InvitationItemsPort {
  /** The live item, or undefined when unknown or removed. */
  get(itemId: string): InvitableItem | undefined;
}

/** Item types a guest can be invited to: calls. */
export const INVITABLE_TYPES: ReadonlySet<string> = new Set(['webrtc', 'zoom']);

/** The call's room: its configured `instance`, else one named after the item. */
export function roomOf(item: Pick<InvitableItem, 'itemId' | 'configuration'>): string {
  const instance = item.configuration.instance;
  return typeof instance === 'string' && instance !== '' ? instance : `item-${item.itemId}`;
}
