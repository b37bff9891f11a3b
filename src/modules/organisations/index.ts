import type { Clock } from '../../core/index.js';
import { defineModule, type ActorRuntime } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import type { IdentityApi } from '../identity/index.js';
import { GroupAccess, type OrganisationAccess } from './access.js';
import { accessAggregate } from './domain/index.js';
import { OrganisationDirectory, organisationsProjection } from './projection.js';
import { Organisations } from './service.js';
import { organisationTopics } from './topics.js';

export { loginRequired, GroupAccess, type OrganisationAccess } from './access.js';
export { Organisations, organisationView, FOUNDERS_GROUP, type OrganisationView, type GroupView, type Changed, type CommandMetadata } from './service.js';
export { OrganisationDirectory, organisationsProjection, type OrganisationProfileRow } from './projection.js';
export { ACCESS_CATEGORY, ACCESS_EVENT_TYPES, accessAggregate, type AccessEvent } from './domain/index.js';

export interface OrganisationsDependencies {
  runtime: ActorRuntime;
  store: EventStore;
  clock: Clock;
  identity: Pick<IdentityApi, 'identity'>;
}

export interface OrganisationsApi {
  organisations: Organisations;
  access: OrganisationAccess;
}

/**
 * Organisations as Extream manages them (PROTOCOL.md section 8): the admin commands on an
 * organisation, and the permissions its groups hold, which every other live-events module
 * checks through `access`.
 */
export const organisationsModule = defineModule<OrganisationsDependencies, OrganisationsApi>({
  name: 'organisations',
  aggregates: [accessAggregate],
  projections: [organisationsProjection],
  create({ runtime, store, clock, identity }) {
    const directory = new OrganisationDirectory(store.readModels);
    const organisations = new Organisations(runtime, clock, identity.identity, directory);
    const access = new GroupAccess(identity.identity.directory, directory);
    return { api: { organisations, access }, topics: organisationTopics(organisations, access) };
  },
});
