import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { NoticesConfig } from './config.js';
import { noticeAggregate, noticeReadsAggregate } from './domain/index.js';
import { noticeProcessors } from './processors.js';
import { NoticeBoard, noticesProjection } from './projection.js';
import { Notices } from './service.js';
import { noticeTopics } from './topics.js';

export { noticesConfigShape, type NoticesConfig } from './config.js';
export { noticesProjection, NoticeBoard, type NoticeRecord } from './projection.js';
export { Notices, noticeView, type NoticeDraft } from './service.js';
export {
  NOTICE_CATEGORY,
  NOTICE_READS_CATEGORY,
  NOTICE_EVENT_TYPES,
  noticeAggregate,
  noticeReadsAggregate,
  isNoticeEvent,
  isNoticeReadsEvent,
  type NoticeEvent,
  type NoticeReadsEvent,
} from './domain/index.js';

export interface NoticesDependencies extends ItemModulePorts {
  config: NoticesConfig;
}

export interface NoticesApi {
  notices: Notices;
  board: NoticeBoard;
}

/**
 * Notices to an event (PROTOCOL.md section 8): sent by holders of `send_notice` (one stream per
 * notice, `notice-<id>`), pushed to the event's audience from the log, paged with each one's
 * read state for the caller, and marked read per user (`notice_reads-<userId>`).
 */
export const noticesModule = defineModule<NoticesDependencies, NoticesApi, ClientConnection>({
  name: 'notices',
  aggregates: [noticeAggregate, noticeReadsAggregate],
  projections: [noticesProjection],
  create({ runtime, store, access, events, audiences, config }) {
    const board = new NoticeBoard(store.readModels);
    const notices = new Notices({ runtime, board });
    return {
      api: { notices, board },
      topics: noticeTopics({ notices, access, events, audiences, config }),
      processors: noticeProcessors(audiences),
    };
  },
});
