import { join } from 'node:path';
import type { Config } from '../app/config.js';
import { AppError } from '../core/errors.js';
import type { Output } from './output.js';
import { systemClock, type Clock } from '../core/clock.js';
import { IdentityService } from '../modules/identity/identity-service.js';
import { KeyRing } from '../auth/keys.js';
import { SecretBox } from '../auth/secrets.js';
import { TokenService, type ExternalIssuer } from '../auth/tokens.js';
import { identityAggregates } from '../modules/identity/domain/index.js';
import { allProjections } from '../app/modules.js';
import { accessAggregate, GroupAccess, OrganisationDirectory, Organisations, type OrganisationAccess } from '../modules/organisations/index.js';
import { EventAudiences, EventListingDirectory, EventListings, eventListingAggregate } from '../modules/event-listings/index.js';
import { Itineraries, ItineraryDirectory, itineraryAggregate } from '../modules/itineraries/index.js';
import { ActorRuntime } from '../runtime/index.js';
import { SqliteEventStore, DATABASE_FILE, assertDataDirExists } from '../store/index.js';

/**
 * What an operator command needs: the log (shared with a running server, which notices the
 * new events within a second), the identity actors and the keys. Only inline projections
 * run here; async ones are the server's to catch up.
 */
export interface OperatorContext {
  store: SqliteEventStore;
  runtime: ActorRuntime;
  identity: IdentityService;
  /** Organisations and their groups' permissions (`groups grant`, `demo-data`). */
  organisations: Organisations;
  keyRing: KeyRing;
  clock: Clock;
  close(): Promise<void>;
}

/**
 * The log as an operator command opens it next to a possibly running server (no lock: SQLite's
 * own locking serialises the appends). Refuses a data dir that does not exist rather than
 * creating a new log there. On a log without events it makes the signing key first, so a log
 * never holds events without one (the gateway refuses a missing key once there are events).
 */
export function openOperatorStore(config: Config, clock: Clock = systemClock): SqliteEventStore {
  assertDataDirExists(config.dataDir);
  new KeyRing(config.dataDir).loadForOperator(clock.now());
  return new SqliteEventStore({
    path: join(config.dataDir, DATABASE_FILE),
    projections: allProjections.filter((projection) => projection.mode === 'inline'),
    clock,
    walCheckpointIntervalMs: 0,
  });
}

/** An operator command's refusal (AppError) as a message and exit code 1; anything else is a bug. */
export function operatorFailure(error: unknown, output: Output): number {
  if (!(error instanceof AppError)) throw error;
  output.err(`${error.code}: ${error.message}`);
  return 1;
}

export function openOperatorContext(config: Config): OperatorContext {
  const clock = systemClock;
  const store = openOperatorStore(config);
  const runtime = new ActorRuntime(store);
  for (const aggregate of [...identityAggregates, accessAggregate]) runtime.register(aggregate);
  const keyRing = new KeyRing(config.dataDir);
  keyRing.loadForOperator(clock.now());
  const tokens = new TokenService(keyRing, {
    issuer: config.issuer,
    clockToleranceSeconds: config.tokenClockToleranceSeconds,
    externalIssuers: config.externalIssuers as ExternalIssuer[],
  });
  const identity = new IdentityService(runtime, store, tokens, SecretBox.open(config.dataDir).box, config, clock);
  const organisations = new Organisations(runtime, clock, identity, new OrganisationDirectory(store.readModels));
  return { store, runtime, identity, organisations, keyRing, clock, close: () => store.close() };
}

/**
 * The operator context plus the live-events services (`demo-data`): events and itineraries
 * with their items, built as src/app/modules.ts builds them. The operator calls the services
 * directly, not the topics, so no permission is checked on its commands; `access` is there
 * for a command that wants to say what a user of the organisation may do.
 */
export interface LiveEventsContext extends OperatorContext {
  access: OrganisationAccess;
  listings: EventListings;
  eventDirectory: EventListingDirectory;
  itineraries: Itineraries;
}

export function openLiveEventsContext(config: Config): LiveEventsContext {
  const context = openOperatorContext(config);
  const { store, runtime, clock, identity, organisations } = context;
  for (const aggregate of [eventListingAggregate, itineraryAggregate]) runtime.register(aggregate);
  const access = new GroupAccess(identity.directory, organisations.directory);
  const organisationExists = (id: string) => organisations.directory.get(id) !== undefined;
  const eventDirectory = new EventListingDirectory(store.readModels);
  // An operator process has no sockets: nobody joins an event's audience here, so no close is ever heard.
  const audiences = new EventAudiences({ onClosed: () => undefined }, config.eventSubscriptionsPerConnection);
  const itineraryDirectory = new ItineraryDirectory(store.readModels);
  const heldWithin = (eventId: string) => itineraryDirectory.byEvent(eventId);
  const listings = new EventListings({ runtime, directory: eventDirectory, audiences, clock, organisationExists, heldWithin });
  const itineraries = new Itineraries({
    runtime,
    directory: itineraryDirectory,
    // The same view of an event the gateway's itineraries module gets (src/app/modules.ts).
    events: {
      get: (eventId) => {
        const listing = eventDirectory.get(eventId);
        return listing && { organisation_id: listing.organisationId, start_date: listing.startDate, end_date: listing.endDate, public: listing.public };
      },
    },
    clock,
    config,
  });
  return { ...context, access, listings, eventDirectory, itineraries };
}
