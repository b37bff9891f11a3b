import type { ClientConnection } from '../../edge/index.js';
import { SERVICE_TOPICS } from '../../protocol/topics/extream.js';
import { INVITATION_TOPICS, webrtcAddSchema, webrtcRemoveSchema } from '../../protocol/topics/invitations.js';
import { commandMetadata, defineCommandTopic, type AnyTopic } from '../../runtime/index.js';
import { loginRequired, type OrganisationAccess } from '../organisations/access.js';
import { AppError } from '../../core/index.js';
import type { InvitationItemsPort } from './ports.js';
import type { Invitations } from './service.js';

export interface InvitationTopicDependencies {
  invitations: Invitations;
  items: InvitationItemsPort;
  access: OrganisationAccess;
  maxInviteesPerCommand: number;
}

/**
 * `client_webrtc_add` / `client_webrtc_remove` (PROTOCOL.md section 9): an operator of the
 * item's organisation (`operate_webrtc`) invites or removes guests. An unknown item is
 * NOT_FOUND only to someone signed in, so an anonymous socket learns nothing of what exists.
 */
export function invitationTopics({ invitations, items, access, maxInviteesPerCommand }: InvitationTopicDependencies): AnyTopic<ClientConnection>[] {
  const requireOperator = (client: ClientConnection, itemId: string): void => {
    const { principal } = client;
    if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending') throw loginRequired(principal);
    const item = items.get(itemId);
    if (!item) throw new AppError('NOT_FOUND', 'unknown item', { errors: [{ path: 'id', message: 'unknown item' }] });
    access.require(principal, item.organisationId, 'operate_webrtc');
  };
  return [
    defineCommandTopic({
      name: INVITATION_TOPICS.add,
      schema: webrtcAddSchema(maxInviteesPerCommand),
      serviceTopic: SERVICE_TOPICS.collab,
      requiresLogin: true,
      execute: async (request) => {
        const { id, data } = request.data;
        requireOperator(request.client, id);
        const { position, invited } = await invitations.invite(id, data.emails, data.title, data.baseURL, data.names, { ...commandMetadata(request), now: request.now });
        return { position, status: 201, response: { invited } };
      },
    }),
    defineCommandTopic({
      name: INVITATION_TOPICS.remove,
      schema: webrtcRemoveSchema(maxInviteesPerCommand),
      serviceTopic: SERVICE_TOPICS.collab,
      requiresLogin: true,
      execute: async (request) => {
        const { id, data } = request.data;
        requireOperator(request.client, id);
        const { position, removed } = await invitations.remove(id, data.emails, { ...commandMetadata(request), now: request.now });
        return { position, response: { removed } };
      },
    }),
  ];
}
