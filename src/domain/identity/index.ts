import type { AggregateDefinition } from '../../runtime/aggregate.js';
import type { AppCommand, ClientCommand, GroupCommand, OrganisationCommand, UserCommand } from './identity.commands.js';
import { decideApp, decideClient, decideGroup, decideOrganisation, decideUser } from './identity.decide.js';
import { IDENTITY_CATEGORIES } from './identity.events.js';
import { appMachine, clientMachine, groupMachine, organisationMachine, userMachine } from './identity.machine.js';

export * from './identity.events.js';
export * from './identity.commands.js';
export * from './identity.machine.js';
export { decideUser, mfaLocked } from './identity.decide.js';

export const userAggregate: AggregateDefinition<typeof userMachine, UserCommand> = {
  category: IDENTITY_CATEGORIES.user,
  machine: userMachine,
  decide: decideUser,
};
export const organisationAggregate: AggregateDefinition<typeof organisationMachine, OrganisationCommand> = {
  category: IDENTITY_CATEGORIES.organisation,
  machine: organisationMachine,
  decide: decideOrganisation,
};
export const groupAggregate: AggregateDefinition<typeof groupMachine, GroupCommand> = {
  category: IDENTITY_CATEGORIES.group,
  machine: groupMachine,
  decide: decideGroup,
};
export const clientAggregate: AggregateDefinition<typeof clientMachine, ClientCommand> = {
  category: IDENTITY_CATEGORIES.client,
  machine: clientMachine,
  decide: decideClient,
};
export const appAggregate: AggregateDefinition<typeof appMachine, AppCommand> = {
  category: IDENTITY_CATEGORIES.app,
  machine: appMachine,
  decide: decideApp,
};

export const identityAggregates = [userAggregate, organisationAggregate, groupAggregate, clientAggregate, appAggregate];
