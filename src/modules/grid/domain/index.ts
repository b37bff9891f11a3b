import type { AggregateDefinition } from '../../../core/index.js';
import type { SfuCommand } from './sfu.commands.js';
import { decideSfu } from './sfu.decide.js';
import { SFU_CATEGORY } from './sfu.events.js';
import { sfuMachine } from './sfu.machine.js';
import type { CustomerCommand } from './customer.commands.js';
import { decideCustomer } from './customer.decide.js';
import { CUSTOMER_CATEGORY } from './customer.events.js';
import { customerMachine } from './customer.machine.js';
export * from './sfu.events.js';
export * from './sfu.commands.js';
export * from './room-id.js';
export { sfuMachine, type SfuContext, type SfuStatus, type PlacedRoom } from './sfu.machine.js';
export { decideSfu, statusOf, MAX_PENDING_TASKS, type SfuSnapshot } from './sfu.decide.js';
export * from './licence.js';

export const sfuAggregate: AggregateDefinition<typeof sfuMachine, SfuCommand> = {
  category: SFU_CATEGORY,
  machine: sfuMachine,
  decide: decideSfu,
};


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
