import type { Registry } from 'prom-client';
import type { TokenService } from '../../auth/tokens.js';
import type { Clock } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { defineModule, type ActorRuntime, type Scheduler } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import type { OrganisationAccess } from '../organisations/access.js';
import type { InvitationsConfig } from './config.js';
import { invitationAggregate } from './domain/index.js';
import { createMailer } from './mail.js';
import { InvitationMailer, itemUpdateProcessor } from './processors.js';
import { InvitationDirectory, invitationsProjection } from './projection.js';
import type { InvitationItemsPort } from './ports.js';
import { invitationRoutes } from './routes.js';
import { Invitations } from './service.js';
import { invitationTopics } from './topics.js';

export { invitationsConfigShape, type InvitationsConfig } from './config.js';
export { invitationsProjection, InvitationDirectory, type InvitationRecord, type InvitationStatus } from './projection.js';
export { Invitations, type GuestGrant, type InvitationContext } from './service.js';
export { roomOf, type InvitableItem, type InvitationItemsPort } from './ports.js';
export { outboxDirectory } from './mail.js';
export { INVITATION_CATEGORY, INVITATION_EVENT_TYPES, invitationAggregate, isInvitationEvent, type InvitationEvent } from './domain/index.js';

export interface InvitationsDependencies {
  runtime: ActorRuntime;
  store: EventStore;
  clock: Clock;
  logger: { info(details: Record<string, unknown>, message: string): void; warn(details: Record<string, unknown>, message: string): void };
  config: InvitationsConfig;
  scheduler: Scheduler;
  registry: Registry;
  tokens: TokenService;
  access: OrganisationAccess;
  items: InvitationItemsPort;
  /** Reserved for closing a removed guest's sockets; that part is the guest principal's (topic-handler/identity). */
  connections?: unknown;
}

export interface InvitationsApi {
  invitations: Invitations;
  directory: InvitationDirectory;
}

/**
 * Invitations and guests (PROTOCOL.md section 9): one stream per invitee of a call item
 * (`invitation-<id>`), mails with an .ics from a checkpointed processor, one-time tickets
 * exchanged at `POST /guest/exchange` for a guest token scoped to the item.
 */
export const invitationsModule = defineModule<InvitationsDependencies, InvitationsApi, ClientConnection>({
  name: 'invitations',
  aggregates: [invitationAggregate],
  projections: [invitationsProjection],
  create({ runtime, store, clock, logger, config, scheduler, registry, tokens, access, items }) {
    const directory = new InvitationDirectory(store.readModels);
    const invitations = new Invitations({ runtime, directory, items, tokens, clock, config });
    const mailer = createMailer({ ...config, logger });
    const mails = new InvitationMailer({ invitations, directory, items, mailer, scheduler, clock, registry, config, logger });
    return {
      api: { invitations, directory },
      topics: invitationTopics({ invitations, items, access, maxInviteesPerCommand: config.maxInviteesPerCommand }),
      routes: invitationRoutes({ invitations, clock }),
      processors: [mails.processor(), itemUpdateProcessor({ invitations, directory, items, clock })],
      start: () => ({ invitationMailRetries: mails.resume() }),
      stop: () => mailer.close(),
    };
  },
});
