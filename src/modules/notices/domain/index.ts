import type { AggregateDefinition } from '../../../core/index.js';
import type { NoticeCommand, NoticeReadsCommand } from './notice.commands.js';
import { decideNotice, decideNoticeReads } from './notice.decide.js';
import { NOTICE_CATEGORY, NOTICE_READS_CATEGORY } from './notice.events.js';
import { noticeMachine, noticeReadsMachine } from './notice.machine.js';

export * from './notice.events.js';
export * from './notice.commands.js';
export { noticeMachine, noticeReadsMachine, type NoticeContext, type NoticeReadsContext } from './notice.machine.js';
export { decideNotice, decideNoticeReads, type NoticeSnapshot, type NoticeReadsSnapshot } from './notice.decide.js';

export const noticeAggregate: AggregateDefinition<typeof noticeMachine, NoticeCommand> = {
  category: NOTICE_CATEGORY,
  machine: noticeMachine,
  decide: decideNotice,
  // A notice takes one command in its life: nothing to keep, nothing to rebuild at start.
  rebuildAtStart: false,
  keepInMemory: false,
};

export const noticeReadsAggregate: AggregateDefinition<typeof noticeReadsMachine, NoticeReadsCommand> = {
  category: NOTICE_READS_CATEGORY,
  machine: noticeReadsMachine,
  decide: decideNoticeReads,
  // Loaded from the reader's stream when they read something; readers ask the read model.
  rebuildAtStart: false,
  keepInMemory: false,
};
