import type { RefusalsSummary } from './refusal.events.js';

/** Issued by the scheduler at the end of a window, for an address that had refusals left over. */
export type RefusalCommand = { type: 'SummariseRefusals'; summary: RefusalsSummary };
