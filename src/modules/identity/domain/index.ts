import type { AggregateDefinition } from '../../../core/index.js';
import type { AppCommand, ClientCommand, GroupCommand, OrganisationCommand, OrganisationNameCommand, UserCommand } from './identity.commands.js';
import { decideApp, decideClient, decideGroup, decideOrganisation, decideOrganisationName, decideUser } from './identity.decide.js';
import { IDENTITY_CATEGORIES } from './identity.events.js';
import { appMachine, clientMachine, groupMachine, organisationMachine, organisationNameMachine, userMachine } from './identity.machine.js';
import type { SessionCommand } from './session.commands.js';
import { decideSession } from './session.decide.js';
import { SESSION_CATEGORY } from './session.events.js';
import { sessionMachine } from './session.machine.js';
import type { OAuthFlowCommand, OAuthGrantCommand, OAuthRequestCommand } from './oauth.commands.js';
import { decideOAuthFlow, decideOAuthGrant, decideOAuthRequest } from './oauth.decide.js';
import { OAUTH_CATEGORIES } from './oauth.events.js';
import { oauthFlowMachine, oauthGrantMachine, oauthRequestMachine } from './oauth.machine.js';
import type { RefusalCommand } from './refusal.commands.js';
import { decideRefusals } from './refusal.decide.js';
import { REFUSAL_CATEGORY } from './refusal.events.js';
import { refusalMachine } from './refusal.machine.js';
export * from './identity.events.js';
export * from './identity.commands.js';
export * from './identity.machine.js';
export { decideUser, decideOrganisationName, mfaLocked } from './identity.decide.js';

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
/**
 * Organisation name claims: read only when a name is added, so not rebuilt at start (one
 * stream per organisation would otherwise sit in memory for nothing).
 */
export const organisationNameAggregate: AggregateDefinition<typeof organisationNameMachine, OrganisationNameCommand> = {
  category: IDENTITY_CATEGORIES.organisationName,
  machine: organisationNameMachine,
  decide: decideOrganisationName,
  rebuildAtStart: false,
  keepInMemory: false,
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

export const identityAggregates = [userAggregate, organisationAggregate, organisationNameAggregate, groupAggregate, clientAggregate, appAggregate];


export * from './session.events.js';
export * from './session.commands.js';
export { sessionMachine, type SessionContext } from './session.machine.js';
export { decideSession, type SessionSnapshot } from './session.decide.js';

export const sessionAggregate: AggregateDefinition<typeof sessionMachine, SessionCommand> = {
  category: SESSION_CATEGORY,
  machine: sessionMachine,
  decide: decideSession,
  keepInMemory: false,
  rebuildAtStart: false,
};


export * from './oauth.events.js';
export * from './oauth.commands.js';
export * from './oauth.machine.js';
export { decideOAuthFlow, decideOAuthGrant, decideOAuthRequest, type OAuthFlowSnapshot, type OAuthGrantSnapshot, type OAuthRequestSnapshot } from './oauth.decide.js';

/**
 * None of these streams is rebuilt at start: each is needed only when a request names it
 * (by a signed token), and is then loaded from the log. Keeping every login and grant ever
 * made in memory would grow without bound.
 */
export const oauthFlowAggregate: AggregateDefinition<typeof oauthFlowMachine, OAuthFlowCommand> = {
  category: OAUTH_CATEGORIES.flow,
  machine: oauthFlowMachine,
  decide: decideOAuthFlow,
  rebuildAtStart: false,
};
export const oauthGrantAggregate: AggregateDefinition<typeof oauthGrantMachine, OAuthGrantCommand> = {
  category: OAUTH_CATEGORIES.grant,
  machine: oauthGrantMachine,
  decide: decideOAuthGrant,
  rebuildAtStart: false,
};
export const oauthRequestAggregate: AggregateDefinition<typeof oauthRequestMachine, OAuthRequestCommand> = {
  category: OAUTH_CATEGORIES.request,
  machine: oauthRequestMachine,
  decide: decideOAuthRequest,
  rebuildAtStart: false,
};

export const oauthAggregates = [oauthFlowAggregate, oauthGrantAggregate, oauthRequestAggregate];

export * from './refusal.events.js';
export * from './refusal.commands.js';
export { refusalMachine } from './refusal.machine.js';
export { decideRefusals } from './refusal.decide.js';

/** One stream per address and window, written once: never kept in memory nor rebuilt at start. */
export const refusalAggregate: AggregateDefinition<typeof refusalMachine, RefusalCommand> = {
  category: REFUSAL_CATEGORY,
  machine: refusalMachine,
  decide: decideRefusals,
  keepInMemory: false,
  rebuildAtStart: false,
};
