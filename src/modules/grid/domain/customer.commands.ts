import type { CustomerLimits } from './customer.events.js';

export interface RegisterCustomer extends CustomerLimits {
  type: 'RegisterCustomer';
  customerId: string;
  now: number;
}

export interface AddCustomerKey {
  type: 'AddCustomerKey';
  keyId: string;
  publicKey: string;
  namespace: string | null;
  now: number;
}

export interface RevokeCustomerKey {
  type: 'RevokeCustomerKey';
  keyId: string;
  now: number;
}

export interface ChangeCustomerLimits extends CustomerLimits {
  type: 'ChangeCustomerLimits';
  now: number;
}

export type CustomerCommand = RegisterCustomer | AddCustomerKey | RevokeCustomerKey | ChangeCustomerLimits;
