import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUED_TYPES, EVENT_CATALOGUE } from '../../src/cli/event-catalogue.js';
import { eventTypesCommand } from '../../src/cli/events.js';

/**
 * `switchyard events --types` names every event type the gateway writes. The catalogue is
 * built from the domains' exported type lists (which `satisfies` ties to their unions); this
 * reads the domain sources themselves, so a type declared in a union but left out of every
 * list is caught too.
 */

const MODULES = new URL('../../src/modules/', import.meta.url).pathname;

function declaredEventTypes(): Set<string> {
  const types = new Set<string>();
  for (const area of readdirSync(MODULES)) {
    const domain = join(MODULES, area, 'domain');
    let files: string[];
    try {
      files = readdirSync(domain).filter((file) => file.endsWith('.events.ts'));
    } catch {
      continue;
    }
    for (const file of files) {
      for (const match of readFileSync(join(domain, file), 'utf8').matchAll(/\btype: '([A-Z][A-Za-z]+)'/g)) types.add(match[1]!);
    }
  }
  return types;
}

describe('the event catalogue', () => {
  it('covers every event type declared in src/modules/*/domain/*.events.ts, each once', () => {
    const declared = declaredEventTypes();
    expect(declared.size).toBeGreaterThan(50);
    expect([...declared].filter((type) => !CATALOGUED_TYPES.has(type))).toEqual([]);
    expect([...CATALOGUED_TYPES].filter((type) => !declared.has(type))).toEqual([]);
    expect(EVENT_CATALOGUE).toHaveLength(CATALOGUED_TYPES.size);
  });

  it('gives each type its stream category and a one-line meaning', () => {
    for (const entry of EVENT_CATALOGUE) {
      expect(entry.category, entry.type).toMatch(/^[a-z_]+$/);
      expect(entry.stream.startsWith(`${entry.category}-<`), entry.type).toBe(true);
      expect(entry.meaning.length, entry.type).toBeGreaterThan(10);
      expect(entry.meaning, entry.type).not.toContain('\n');
    }
    const byType = new Map(EVENT_CATALOGUE.map((entry) => [entry.type, entry]));
    expect(byType.get('RoomCreated')).toMatchObject({ category: 'room', stream: 'room-<name>' });
    expect(byType.get('ConnectionOpened')).toMatchObject({ category: 'connection' });
    expect(byType.get('OrganisationNameClaimed')).toMatchObject({ category: 'organisation_name' });
    expect(byType.get('SfuServerRegistered')).toMatchObject({ category: 'sfu' });
    expect(byType.get('AuthorizationCodeRedeemed')).toMatchObject({ category: 'oauthgrant' });
  });

  it('prints as a table and as JSON lines', () => {
    const table: string[] = [];
    expect(eventTypesCommand({}, { out: (line) => table.push(line), err: () => {} })).toBe(0);
    expect(table[0]).toMatch(/^TYPE\s+STREAM\s+MEANING$/);
    expect(table).toHaveLength(EVENT_CATALOGUE.length + 2);
    const json: string[] = [];
    eventTypesCommand({ json: true }, { out: (line) => json.push(line), err: () => {} });
    expect(json.map((line) => JSON.parse(line) as unknown)).toEqual(EVENT_CATALOGUE);
  });
});
