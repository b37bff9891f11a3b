/**
 * Holds the SDK's answer and push shapes (src/views.ts, written by hand: the server builds
 * them in its modules, without a schema) to the modules' own view types. Part of the repo's
 * typecheck (`tsc --noEmit -p .`), not of the SDK's: the modules import Node-only code. Each
 * pair must name the same fields, and every value the server makes must fit the SDK's type,
 * so a field renamed, added or retyped on the server fails here.
 */
import type { ConsumerEventListingView as ServerConsumerEvent } from '../../../src/modules/event-listings/topics.js';
import type { EventListingView as ServerEvent } from '../../../src/modules/event-listings/service.js';
import type { DeletedView as ServerDeleted, ItemView as ServerItem, ItineraryView as ServerItinerary } from '../../../src/modules/itineraries/service.js';
import type { GroupView as ServerGroup, OrganisationView as ServerOrganisation } from '../../../src/modules/organisations/service.js';
import type * as Sdk from '../src/views.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Same field names, and the server's value fits the SDK's type. */
type Mirrors<SdkView, ServerView> = Equal<keyof SdkView, keyof ServerView> extends true ? (ServerView extends SdkView ? true : false) : false;
const holds = <Condition extends true>(): Condition | undefined => undefined;

export const views = [
  holds<Mirrors<Sdk.OrganisationView, ServerOrganisation>>(),
  holds<Mirrors<Sdk.GroupView, ServerGroup>>(),
  holds<Mirrors<Sdk.EventListingView, ServerEvent>>(),
  holds<Mirrors<Sdk.ConsumerEventListingView, ServerConsumerEvent>>(),
  holds<Mirrors<Sdk.ItemView, ServerItem>>(),
  holds<Mirrors<Sdk.ItineraryView, ServerItinerary>>(),
  holds<Mirrors<Sdk.DeletedView, ServerDeleted>>(),
];
