import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, readAllFrom, type RecordedEvent, DATABASE_FILE } from '../store/index.js';
import { table, type Output } from './output.js';

export interface EventsOptions {
  dataDir: string;
  stream?: string | undefined;
  type?: string | undefined;
  after?: number | undefined;
  limit?: number | undefined;
  follow?: boolean | undefined;
  json?: boolean | undefined;
  /** Stops `--follow` (tests, signals). */
  signal?: AbortSignal | undefined;
  pollMs?: number | undefined;
}

const MAX_DATA_WIDTH = 100;

/**
 * Fields the log must keep (a rebuild needs them) but the audit view must not show: who
 * reads the audit trail need not hold password hashes or sealed MFA seeds.
 */
const SECRET_FIELDS = new Set(['passwordHash', 'sealedSecret', 'secretHash']);

export function redact(event: RecordedEvent): RecordedEvent {
  const data = event.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return event;
  if (!Object.keys(data).some((key) => SECRET_FIELDS.has(key))) return event;
  const shown = Object.fromEntries(Object.entries(data).map(([key, value]) => [key, SECRET_FIELDS.has(key) ? '[redacted]' : value]));
  return { ...event, data: shown };
}

function describe(event: RecordedEvent): string[] {
  const data = JSON.stringify(event.data);
  return [
    String(event.position),
    new Date(event.recordedAt).toISOString(),
    event.streamId,
    String(event.version),
    event.type,
    String(event.metadata.actor ?? ''),
    data.length > MAX_DATA_WIDTH ? `${data.slice(0, MAX_DATA_WIDTH - 1)}…` : data,
  ];
}

/** `switchyard events`: the audit view of the log, as a table or JSON lines. */
export async function eventsCommand(options: EventsOptions, output: Output): Promise<number> {
  const path = join(options.dataDir, DATABASE_FILE);
  if (!existsSync(path)) {
    output.err(`no event log at ${path}: start the gateway once, or pass --data DIR`);
    return 1;
  }
  const db = openDatabase(path, { readonly: true });
  try {
    let after = options.after ?? 0;
    let printedHeader = false;
    for (;;) {
      const events = readAllFrom(db, { after, streamId: options.stream, type: options.type, limit: options.limit ?? 10_000 });
      if (options.json) {
        for (const event of events) output.out(JSON.stringify(redact(event)));
      } else if (events.length > 0 || (!printedHeader && !options.follow)) {
        const lines = table(['POSITION', 'RECORDED', 'STREAM', 'VER', 'TYPE', 'ACTOR', 'DATA'], events.map((event) => describe(redact(event))));
        for (const line of printedHeader ? lines.slice(2) : lines) output.out(line);
        printedHeader = true;
      }
      if (events.length > 0) after = events[events.length - 1]!.position;
      const pageFull = options.limit === undefined && events.length === 10_000;
      if (pageFull) continue;
      if (!options.follow || options.signal?.aborted) return 0;
      try {
        await sleep(options.pollMs ?? 250, undefined, { signal: options.signal });
      } catch {
        return 0;
      }
    }
  } finally {
    db.close();
  }
}
