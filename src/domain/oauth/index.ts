import type { AggregateDefinition } from '../../runtime/aggregate.js';
import type { OAuthFlowCommand, OAuthGrantCommand, OAuthRequestCommand } from './oauth.commands.js';
import { decideOAuthFlow, decideOAuthGrant, decideOAuthRequest } from './oauth.decide.js';
import { OAUTH_CATEGORIES } from './oauth.events.js';
import { oauthFlowMachine, oauthGrantMachine, oauthRequestMachine } from './oauth.machine.js';

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
