import { parse, stringify } from 'smol-toml';
import { AppError } from '../../core/index.js';

export type TomlTable = Record<string, unknown>;

export interface RecommendedSettings {
  reportIntervalSeconds: number;
  metricsAllowed: readonly string[];
}

/**
 * What `sfu.GridConfig` recommends to an ODIN server, after the ODIN gateway's recommended
 * settings, minus its insecure default of letting the whole Internet (0.0.0.0/0) scrape a
 * server's metrics: only the configured networks may (loopback by default).
 */
export function recommendedSfuConfig(settings: RecommendedSettings): TomlTable {
  return {
    supervisor: { report_interval: settings.reportIntervalSeconds * 1000 },
    quic: { keep_alive_interval: 5000, idle_timeout: 30000, pre_send_timeout: 500, migration: true },
    http: { timeout: 10000, ping_interval: 5000 },
    metrics: { idle_timeout: 3_600_000, allowed: [...settings.metricsAllowed] },
    limit: { peer: { incoming_messages: { rate: 10, capacity: 50, overflow: 20 } } },
  };
}

const isTable = (value: unknown): value is TomlTable =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);

/**
 * Adds what the server's own config does not set; its own values win, lists are extended
 * with the entries they lack (ODIN merges the same way, but appended duplicates).
 */
export function mergeMissing(target: TomlTable, extension: TomlTable): TomlTable {
  for (const [name, value] of Object.entries(extension)) {
    const current = target[name];
    if (Array.isArray(current) && Array.isArray(value)) {
      const present = new Set(current.map((item) => JSON.stringify(item)));
      for (const item of value) if (!present.has(JSON.stringify(item))) current.push(item);
    } else if (isTable(current) && isTable(value)) {
      mergeMissing(current, value);
    } else if (current === undefined || current === null) {
      target[name] = structuredClone(value);
    }
  }
  return target;
}

/** The server's TOML config with the recommended settings and its authorization key merged in. */
export function extendSfuConfig(configToml: string, recommended: TomlTable, key: TomlTable): string {
  let config: TomlTable;
  try {
    config = parse(configToml) as TomlTable;
  } catch (error) {
    // smol-toml's message names line and column of the server's own input: safe to return.
    const reason = error instanceof Error ? error.message.split('\n')[0] : 'unreadable';
    throw new AppError('BAD_REQUEST', `config is not valid TOML: ${reason}`);
  }
  mergeMissing(config, recommended);
  const authorization = isTable(config.authorization) ? config.authorization : (config.authorization = {});
  const keys = Array.isArray(authorization.keys) ? authorization.keys : (authorization.keys = []);
  // A server asking twice must not collect copies of its key; a stale key of the same kid is replaced.
  const others = (keys as unknown[]).filter((existing) => !(isTable(existing) && existing.kid === key.kid));
  authorization.keys = [...others, key];
  return stringify(config);
}
