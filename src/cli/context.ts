import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../app/config.js';
import { AppError } from '../core/errors.js';
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
import { SqliteEventStore, DATABASE_FILE, assertDataDirExists, openDatabase, type EventStore, type ReadModelDatabase } from '../store/index.js';
import { openClusterOperatorLog } from './cluster-log.js';
import { consoleOutput, type Output } from './output.js';

/**
 * What an operator command needs: the log (shared with a running server, which notices the
 * new events within a second), the identity actors and the keys. Only inline projections
 * run here; async ones are the server's to catch up. On a cluster node the log is the
 * cluster's JetStream log (cluster-log.ts), never the node's mirror file alone.
 */
export interface OperatorContext {
  store: EventStore;
  runtime: ActorRuntime;
  identity: IdentityService;
  /** Organisations and their groups' permissions (`groups grant`, `demo-data`). */
  organisations: Organisations;
  keyRing: KeyRing;
  clock: Clock;
  close(): Promise<void>;
}

/** The read models an operator command decides on: the inline ones, as in the gateway (src/app/modules.ts). */
const inlineProjections = () => allProjections.filter((projection) => projection.mode === 'inline');

/**
 * The log as an operator command opens it next to a possibly running server (no lock: SQLite's
 * own locking serialises the appends). Refuses a data dir that does not exist rather than
 * creating a new log there. On a log without events it makes the signing key first, so a log
 * never holds events without one (the gateway refuses a missing key once there are events).
 */
export function openOperatorStore(config: Config, clock: Clock = systemClock): SqliteEventStore {
  assertDataDirExists(config.dataDir);
  refuseCluster(config);
  new KeyRing(config.dataDir).loadForOperator(clock.now());
  return new SqliteEventStore({
    path: join(config.dataDir, DATABASE_FILE),
    projections: inlineProjections(),
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

/**
 * A single-node log opened synchronously is a file of this process; a cluster node's file is
 * only its mirror, where an append would reach no other node (its trigger refuses it too).
 */
function refuseCluster(config: Config): void {
  if (config.cluster.length === 0) return;
  throw new AppError('BAD_REQUEST', `${join(config.dataDir, DATABASE_FILE)} is a cluster node's mirror: operator commands append through the cluster (connectOperatorContext)`);
}

/**
 * The log an operator command appends to: with `cluster` in the config, the cluster's
 * JetStream log, connected (cluster-log.ts), on the node's mirror file; without, the data
 * dir's SQLite log as `openOperatorStore` opens it. Nothing is written while opening, so a
 * cluster that cannot be reached leaves the log unchanged.
 */
export async function openOperatorLog(config: Config, clock: Clock = systemClock, warn: (line: string) => void = consoleOutput.err): Promise<EventStore> {
  if (config.cluster.length === 0) return openOperatorStore(config, clock);
  assertDataDirExists(config.dataDir);
  return openClusterOperatorLog(config, { projections: inlineProjections(), clock, warn });
}

/**
 * The read models for a listing, without appending anything: on a cluster node, its mirror
 * read-only (it holds the whole cluster's log, as far as the node has ingested it), so lists
 * work while NATS is down and never make a key; on a single node, as `openOperatorStore`.
 */
export function openOperatorReadModels(config: Config): { readModels: ReadModelDatabase; close(): Promise<void> } {
  if (config.cluster.length === 0) return openOperatorStore(config);
  assertDataDirExists(config.dataDir);
  const path = join(config.dataDir, DATABASE_FILE);
  if (!existsSync(path)) throw new AppError('NOT_FOUND', `no mirror of the cluster's log at ${path}: start this node once (switchyard start --cluster ...)`);
  const db = openDatabase(path, { readonly: true });
  return {
    readModels: db,
    close: async () => {
      db.close();
    },
  };
}

/** The single-node operator context, synchronously (tests and benches open it beside a gateway they run). */
export function openOperatorContext(config: Config): OperatorContext {
  const clock = systemClock;
  return contextOn(openOperatorStore(config, clock), config, clock);
}

/** The operator context of any node, single or in a cluster (`openOperatorLog`): what the CLI's commands open. */
export async function connectOperatorContext(config: Config): Promise<OperatorContext> {
  const clock = systemClock;
  return contextOn(await openOperatorLog(config, clock), config, clock);
}

function contextOn(store: EventStore, config: Config, clock: Clock): OperatorContext {
  try {
    const runtime = new ActorRuntime(store);
    for (const aggregate of [...identityAggregates, accessAggregate]) runtime.register(aggregate);
    const keyRing = new KeyRing(config.dataDir);
    // On a cluster node the keys came from the cluster (cluster-log.ts): none is made here.
    if (config.cluster.length > 0) keyRing.reload();
    else keyRing.loadForOperator(clock.now());
    const tokens = new TokenService(keyRing, {
      issuer: config.issuer,
      clockToleranceSeconds: config.tokenClockToleranceSeconds,
      externalIssuers: config.externalIssuers as ExternalIssuer[],
    });
    const identity = new IdentityService(runtime, store, tokens, SecretBox.open(config.dataDir).box, config, clock);
    const organisations = new Organisations(runtime, clock, identity, new OrganisationDirectory(store.readModels));
    return { store, runtime, identity, organisations, keyRing, clock, close: () => store.close() };
  } catch (error) {
    // A key file that cannot be read must not leave the log (and a NATS connection) open.
    void store.close().catch(() => undefined);
    throw error;
  }
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

/** The single-node live-events context, synchronously (as `openOperatorContext`). */
export function openLiveEventsContext(config: Config): LiveEventsContext {
  return withLiveEvents(openOperatorContext(config), config);
}

/** The live-events context of any node, single or in a cluster: what `demo-data` and `invite` open. */
export async function connectLiveEventsContext(config: Config): Promise<LiveEventsContext> {
  return withLiveEvents(await connectOperatorContext(config), config);
}

function withLiveEvents(context: OperatorContext, config: Config): LiveEventsContext {
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
