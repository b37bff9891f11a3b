import type { AggregateDefinition } from '../../runtime/aggregate.js';
import type { CustomerCommand } from './customer.commands.js';
import { decideCustomer } from './customer.decide.js';
import { CUSTOMER_CATEGORY } from './customer.events.js';
import { customerMachine } from './customer.machine.js';

export * from './customer.events.js';
export * from './customer.commands.js';
export { customerMachine, type CustomerContext, type CustomerKeyState } from './customer.machine.js';
export { decideCustomer, type CustomerSnapshot } from './customer.decide.js';

/** Customer ids become stream ids and namespaces: a conservative alphabet, no separators. */
export const CUSTOMER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;

export const customerAggregate: AggregateDefinition<typeof customerMachine, CustomerCommand> = {
  category: CUSTOMER_CATEGORY,
  machine: customerMachine,
  decide: decideCustomer,
};
