import { isPlainObject } from '../../protocol/index.js';
import { USER_TYPES, type UserType } from '../../protocol/topics/extream.js';
import type { Processor } from '../../runtime/index.js';
import { isPresenceEvent } from './domain/index.js';
import type { PresenceRoster } from './roster.js';

/**
 * The event-listings module's EventUserTypeSet, known here by its name and stream only (as
 * identity knows InvitationRevoked): modules talk through the log, and this one needs three
 * fields of it.
 */
const USER_TYPE_SET = 'EventUserTypeSet';
const EVENT_LISTING_STREAM = 'event_listing-';

const isUserType = (value: unknown): value is UserType => typeof value === 'string' && (USER_TYPES as readonly string[]).includes(value);

/**
 * Reactions to the log, live only (an online user is a socket of this process):
 * - a committed visibility change tells each event the user is at (consumer_online_leave when
 *   hidden, consumer_online_join when visible again), with the change's position as `seq`,
 *   whichever process appended it;
 * - a changed role in an event updates the role the roster holds, which picks the view
 *   (names or profiles) that user gets from then on.
 */
export function presenceProcessors(roster: PresenceRoster): Processor[] {
  return [
    {
      name: 'presence.visibility-pushes',
      startFrom: 'now',
      canHandle: isPresenceEvent,
      handle(events) {
        for (const event of events) if (isPresenceEvent(event)) roster.visibilityChanged(event.data.userId, event.position);
      },
    },
    {
      name: 'presence.user-types',
      startFrom: 'now',
      canHandle: (event) => event.type === USER_TYPE_SET && event.streamId.startsWith(EVENT_LISTING_STREAM),
      handle(events) {
        for (const { data } of events) {
          if (!isPlainObject(data)) continue;
          const { eventId, userId, userType } = data;
          if (typeof eventId === 'string' && typeof userId === 'string' && isUserType(userType)) roster.userTypeChanged(eventId, userId, userType);
        }
      },
    },
  ];
}
