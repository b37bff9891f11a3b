import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { CustomerCommand } from './customer.commands.js';
import type { CustomerEvent } from './customer.events.js';
import type { customerMachine } from './customer.machine.js';

export type CustomerSnapshot = SnapshotFrom<typeof customerMachine>;

/** Checks a command against the customer's state and returns the events it causes. */
export function decideCustomer(command: CustomerCommand, snapshot: CustomerSnapshot): CustomerEvent[] {
  const { context } = snapshot;
  switch (command.type) {
    case 'RegisterCustomer': {
      if (!snapshot.matches('unknown')) throw new AppError('CONFLICT', `customer ${command.customerId} already exists`);
      return [
        {
          type: 'CustomerRegistered',
          data: { customerId: command.customerId, maxPeers: command.maxPeers, maxRooms: command.maxRooms, registeredAt: command.now },
        },
      ];
    }
    case 'AddCustomerKey': {
      if (!snapshot.matches('registered')) throw new AppError('NOT_FOUND', 'no such customer');
      if (command.keyId in context.keys) throw new AppError('CONFLICT', `key ${command.keyId} is already registered`);
      return [
        {
          type: 'CustomerKeyAdded',
          data: {
            customerId: context.customerId!,
            keyId: command.keyId,
            publicKey: command.publicKey,
            namespace: command.namespace,
            addedAt: command.now,
          },
        },
      ];
    }
    case 'RevokeCustomerKey': {
      if (!snapshot.matches('registered')) throw new AppError('NOT_FOUND', 'no such customer');
      if (!(command.keyId in context.keys)) throw new AppError('NOT_FOUND', `customer has no key ${command.keyId}`);
      return [{ type: 'CustomerKeyRevoked', data: { customerId: context.customerId!, keyId: command.keyId, revokedAt: command.now } }];
    }
    case 'ChangeCustomerLimits': {
      if (!snapshot.matches('registered')) throw new AppError('NOT_FOUND', 'no such customer');
      if (context.maxPeers === command.maxPeers && context.maxRooms === command.maxRooms) return [];
      return [
        {
          type: 'CustomerLimitsChanged',
          data: { customerId: context.customerId!, maxPeers: command.maxPeers, maxRooms: command.maxRooms, changedAt: command.now },
        },
      ];
    }
  }
}
