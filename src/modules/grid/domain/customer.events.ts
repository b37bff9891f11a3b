/**
 * Customers of the room API (ODIN-style licensees) recorded by `switchyard customers`. Only
 * public keys are ever recorded: the access key is shown to the operator once and dropped.
 */
export const CUSTOMER_CATEGORY = 'customer';

/** `null` means no limit. */
export interface CustomerLimits {
  maxPeers: number | null;
  maxRooms: number | null;
}

export interface CustomerRegisteredData extends CustomerLimits {
  customerId: string;
  registeredAt: number;
}

export interface CustomerKeyAddedData {
  customerId: string;
  keyId: string;
  /** Ed25519 public key, base64url (a JWK `x`). */
  publicKey: string;
  /** Namespace of the key's rooms; null: the customer id. */
  namespace: string | null;
  addedAt: number;
}

export interface CustomerKeyRevokedData {
  customerId: string;
  keyId: string;
  revokedAt: number;
}

export interface CustomerLimitsChangedData extends CustomerLimits {
  customerId: string;
  changedAt: number;
}

export type CustomerEvent =
  | { type: 'CustomerRegistered'; data: CustomerRegisteredData }
  | { type: 'CustomerKeyAdded'; data: CustomerKeyAddedData }
  | { type: 'CustomerKeyRevoked'; data: CustomerKeyRevokedData }
  | { type: 'CustomerLimitsChanged'; data: CustomerLimitsChangedData };

export const CUSTOMER_EVENT_TYPES = ['CustomerRegistered', 'CustomerKeyAdded', 'CustomerKeyRevoked', 'CustomerLimitsChanged'] as const;

const CUSTOMER_EVENT_TYPE_SET: ReadonlySet<string> = new Set<string>(CUSTOMER_EVENT_TYPES);

/** Narrows a stored event to a customer event by its type (only decideCustomer writes these types). */
export function isCustomerEvent<Event extends { type: string; data: unknown }>(event: Event): event is Event & CustomerEvent {
  return CUSTOMER_EVENT_TYPE_SET.has(event.type);
}
