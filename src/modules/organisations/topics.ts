import {
  groupGrantData,
  groupReadData,
  organisationCreateData,
  organisationDeleteData,
  organisationReadData,
  organisationUpdateData,
  ORGANISATION_TOPICS,
} from '../../protocol/topics/organisations.js';
import { SERVICE_TOPICS } from '../../protocol/topics/extream.js';
import { commandMetadata, defineCommandTopic, type AnyTopic, type CommandOutcome } from '../../runtime/index.js';
import type { OrganisationAccess } from './access.js';
import { organisationView, type Changed, type Organisations } from './service.js';

const created = <View>(changed: Changed<View>): CommandOutcome => ({ position: changed.position, status: 201, response: changed.view });
const changed = <View>(result: Changed<View>): CommandOutcome => ({ position: result.position, response: result.view });

/** `admin_organisation_*` and the group grants (PROTOCOL.md section 8), each checked against the caller's permissions. */
export function organisationTopics(organisations: Organisations, access: OrganisationAccess): AnyTopic[] {
  const manage = { serviceTopic: SERVICE_TOPICS.manage, requiresLogin: true } as const;
  return [
    defineCommandTopic({
      ...manage,
      name: ORGANISATION_TOPICS.create,
      schema: organisationCreateData,
      execute: async (request) => {
        access.requireLogin(request.client.principal);
        const { name, website = null, description = null, data = null } = request.data.data;
        return created(await organisations.create(name, { website, description, data }, commandMetadata(request), request.client.principal));
      },
    }),
    defineCommandTopic({
      ...manage,
      name: ORGANISATION_TOPICS.read,
      schema: organisationReadData,
      execute: async (request) => {
        const { principal } = request.client;
        if (request.data.id === undefined) {
          access.requireLogin(principal);
          const list = organisations.visibleTo(principal);
          return { response: list, meta: { items: list.length } };
        }
        const row = organisations.require(request.data.id);
        access.require(principal, request.data.id, 'view_organisation');
        return { response: organisationView(row) };
      },
    }),
    defineCommandTopic({
      ...manage,
      name: ORGANISATION_TOPICS.update,
      schema: organisationUpdateData,
      execute: async (request) => {
        organisations.require(request.data.id);
        access.require(request.client.principal, request.data.id, 'edit_organisation');
        return changed(await organisations.update(request.data.id, request.data.data, commandMetadata(request)));
      },
    }),
    defineCommandTopic({
      ...manage,
      name: ORGANISATION_TOPICS.delete,
      schema: organisationDeleteData,
      execute: async (request) => {
        organisations.require(request.data.id);
        access.require(request.client.principal, request.data.id, 'delete_organisation');
        return changed(await organisations.delete(request.data.id, commandMetadata(request)));
      },
    }),
    defineCommandTopic({
      ...manage,
      name: ORGANISATION_TOPICS.groupGrant,
      schema: groupGrantData,
      execute: async (request) => {
        const { organisation, group, permissions } = request.data;
        organisations.require(organisation, 'organisation');
        access.require(request.client.principal, organisation, 'edit_organisation');
        return changed(await organisations.grant(organisation, group, permissions, commandMetadata(request)));
      },
    }),
    defineCommandTopic({
      ...manage,
      name: ORGANISATION_TOPICS.groupRevoke,
      schema: groupGrantData,
      execute: async (request) => {
        const { organisation, group, permissions } = request.data;
        organisations.require(organisation, 'organisation');
        access.require(request.client.principal, organisation, 'edit_organisation');
        return changed(await organisations.revoke(organisation, group, permissions, commandMetadata(request)));
      },
    }),
    defineCommandTopic({
      ...manage,
      name: ORGANISATION_TOPICS.groupRead,
      schema: groupReadData,
      execute: async (request) => {
        organisations.require(request.data.organisation, 'organisation');
        access.require(request.client.principal, request.data.organisation, 'view_organisation');
        const groups = organisations.groups(request.data.organisation);
        return { response: groups, meta: { items: groups.length } };
      },
    }),
  ];
}
