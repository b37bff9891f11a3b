import { NOTICE_PUSHES } from '../../protocol/topics/notices.js';
import type { Processor } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import { isNoticeEvent } from './domain/index.js';
import { noticeView } from './service.js';

/**
 * `consumer_notice_receive` to the event's audience for each committed NoticeSent, from the log:
 * a notice sent over a socket, over HTTP or by another process reaches the sockets alike, with
 * its position as `seq`. The push is built from the event itself and encoded once per wire
 * format (EventAudiences.push). Live only: an audience joined before a restart has no socket
 * left; a client catching up asks consumer_notice_get.
 */
export function noticeProcessors(audiences: Pick<ItemModulePorts['audiences'], 'push'>): Processor[] {
  return [
    {
      name: 'notices.pushes',
      startFrom: 'now',
      canHandle: isNoticeEvent,
      handle(events) {
        for (const event of events) {
          if (!isNoticeEvent(event)) continue;
          audiences.push(event.data.eventId, { event: NOTICE_PUSHES.receive, data: noticeView(event.data, event.position), seq: event.position });
        }
      },
    },
  ];
}
