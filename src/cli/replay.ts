import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { allProjections } from '../app/modules.js';
import {
  headPositionOf,
  openDatabase,
  openScratchDatabase,
  projectionCheckpoints,
  readAllFrom,
  tableRows,
  type Projection,
  DATABASE_FILE,
} from '../store/index.js';
import type { Output } from './output.js';

export interface ReplayOptions {
  dataDir: string;
  /** Keep the rebuilt database here; by default it is built in memory. */
  out?: string | undefined;
  json?: boolean | undefined;
  projections?: readonly Projection[];
}

export interface TableReport {
  projection: string;
  table: string;
  liveRows: number;
  rebuiltRows: number;
  /** Rows present on one side only (as whole rows). */
  differences: number;
  sample: { side: 'live' | 'rebuilt'; row: string }[];
}

export interface ReplayReport {
  events: number;
  upTo: number;
  equal: boolean;
  tables: TableReport[];
}

const BATCH = 5000;

function compare(live: string[], rebuilt: string[]): { onlyLive: string[]; onlyRebuilt: string[] } {
  const onlyLive: string[] = [];
  const onlyRebuilt: string[] = [];
  let i = 0;
  let j = 0;
  while (i < live.length || j < rebuilt.length) {
    const a = live[i];
    const b = rebuilt[j];
    if (a !== undefined && b !== undefined && a === b) {
      i++;
      j++;
    } else if (b === undefined || (a !== undefined && a < b)) {
      onlyLive.push(a!);
      i++;
    } else {
      onlyRebuilt.push(b);
      j++;
    }
  }
  return { onlyLive, onlyRebuilt };
}

/**
 * Rebuilds every read model from the log into a fresh database and compares it, table by
 * table, with the live one. Inline models are compared at the head of the log, async ones
 * at their stored checkpoint (they may lag while the server runs). The live database is read
 * in one read transaction, so a running server's appends cannot make the two sides differ.
 */
export function replay(options: ReplayOptions): ReplayReport {
  // quick_check: a damaged log must fail the replay, not rebuild whatever pages still read as "equal".
  const live = openDatabase(join(options.dataDir, DATABASE_FILE), { readonly: true, quickCheck: true });
  if (options.out && existsSync(options.out)) rmSync(options.out);
  const fresh = openScratchDatabase(options.out);
  const projections = options.projections ?? allProjections;
  try {
    live.exec('BEGIN');
    const head = headPositionOf(live);
    const checkpoints = projectionCheckpoints(live);
    const targets = new Map(projections.map((p) => [p.name, p.mode === 'inline' ? head : Math.min(head, checkpoints.get(p.name) ?? 0)]));
    for (const projection of projections) projection.setup(fresh);
    let after = 0;
    let count = 0;
    for (;;) {
      const events = readAllFrom(live, { after, limit: BATCH }).filter((event) => event.position <= head);
      if (events.length === 0) break;
      fresh.transaction(() => {
        for (const event of events) {
          for (const projection of projections) {
            if (event.position <= targets.get(projection.name)!) projection.apply(fresh, event);
          }
        }
      })();
      count += events.length;
      after = events[events.length - 1]!.position;
      if (after >= head) break;
    }
    const tables: TableReport[] = [];
    for (const projection of projections) {
      for (const tableName of projection.tables) {
        const liveRows = tableRows(live, tableName);
        const rebuiltRows = tableRows(fresh, tableName);
        const { onlyLive, onlyRebuilt } = compare(liveRows, rebuiltRows);
        tables.push({
          projection: projection.name,
          table: tableName,
          liveRows: liveRows.length,
          rebuiltRows: rebuiltRows.length,
          differences: onlyLive.length + onlyRebuilt.length,
          sample: [
            ...onlyLive.slice(0, 3).map((row) => ({ side: 'live' as const, row })),
            ...onlyRebuilt.slice(0, 3).map((row) => ({ side: 'rebuilt' as const, row })),
          ],
        });
      }
    }
    live.exec('COMMIT');
    return { events: count, upTo: head, equal: tables.every((t) => t.differences === 0), tables };
  } finally {
    live.close();
    fresh.close();
  }
}

export function replayCommand(options: ReplayOptions, output: Output): number {
  if (!existsSync(join(options.dataDir, DATABASE_FILE))) {
    output.err(`no event log in ${options.dataDir}: start the gateway once, or pass --data DIR`);
    return 1;
  }
  const report = replay(options);
  if (options.json) {
    output.out(JSON.stringify(report));
  } else {
    output.out(`replayed ${report.events} events (up to position ${report.upTo})`);
    for (const t of report.tables) {
      const verdict = t.differences === 0 ? 'equal' : `DIFFERS in ${t.differences} rows`;
      output.out(`  ${t.projection}/${t.table}: live ${t.liveRows} rows, rebuilt ${t.rebuiltRows} rows: ${verdict}`);
      for (const s of t.sample) output.out(`    only ${s.side}: ${s.row}`);
    }
    output.out(report.equal ? 'read models equal the log' : 'read models DIFFER from the log');
  }
  return report.equal ? 0 : 1;
}
