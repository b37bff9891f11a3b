import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, readAllFrom, type RecordedEvent, DATABASE_FILE } from '../store/index.js';
import { EVENT_CATALOGUE } from './event-catalogue.js';
import { table, type Output } from './output.js';

export interface EventsOptions {
  dataDir: string;
  stream?: string | undefined;
  /** One type, several as `A,B` (as `--type` takes them), or a list: events of any of them. */
  type?: string | readonly string[] | undefined;
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

/** `switchyard events --types`: the event catalogue, as a table or JSON lines. */
export function eventTypesCommand(options: { json?: boolean | undefined }, output: Output): number {
  if (options.json) {
    for (const entry of EVENT_CATALOGUE) output.out(JSON.stringify(entry));
    return 0;
  }
  const rows = EVENT_CATALOGUE.map((entry) => [entry.type, entry.stream, entry.meaning]);
  for (const line of table(['TYPE', 'STREAM', 'MEANING'], rows)) output.out(line);
  return 0;
}

const typesOf = (type: EventsOptions['type']): string[] | undefined => {
  if (type === undefined) return undefined;
  const types = (typeof type === 'string' ? type.split(',') : [...type]).map((name) => name.trim()).filter(Boolean);
  return types.length > 0 ? [...new Set(types)] : undefined;
};

/**
 * One page of the log after a position: events of any of `types` (all when undefined). Each
 * type is read apart (the store filters one type) and the pages merged by position: the first
 * `limit` events of the union are among the first `limit` of each type.
 */
function readPage(db: ReturnType<typeof openDatabase>, after: number, stream: string | undefined, types: string[] | undefined, limit: number): RecordedEvent[] {
  if (types === undefined || types.length === 1) return readAllFrom(db, { after, streamId: stream, type: types?.[0], limit });
  const merged = types.flatMap((type) => readAllFrom(db, { after, streamId: stream, type, limit }));
  return merged.sort((a, b) => a.position - b.position).slice(0, limit);
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
    const types = typesOf(options.type);
    for (;;) {
      const events = readPage(db, after, options.stream, types, options.limit ?? 10_000);
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
