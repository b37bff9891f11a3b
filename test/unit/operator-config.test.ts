import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, unknownEnvironmentWarnings } from '../../src/app/config.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Hardening point 9: mistyped variables and origins that can never match are not silent. */

function refusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('unknown SWITCHYARD_* variables', () => {
  it('warns by name, with the nearest known variable for a near miss', () => {
    expect(
      unknownEnvironmentWarnings({
        SWITCHYARD_PROT: '7001',
        SWITCHYARD_LOGLEVEL: 'debug',
        SWITCHYARD_ALLOWED_ORIGIN: 'https://a.example',
        SWITCHYARD_SOMETHING_ELSE: 'x',
      }),
    ).toEqual([
      'unknown environment variable SWITCHYARD_ALLOWED_ORIGIN is ignored (did you mean SWITCHYARD_ALLOWED_ORIGINS?)',
      'unknown environment variable SWITCHYARD_LOGLEVEL is ignored (did you mean SWITCHYARD_LOG_LEVEL?)',
      'unknown environment variable SWITCHYARD_PROT is ignored (did you mean SWITCHYARD_PORT?)',
      'unknown environment variable SWITCHYARD_SOMETHING_ELSE is ignored',
    ]);
  });

  it('says nothing about known variables, SWITCHYARD_CONFIG, or other prefixes', () => {
    expect(
      unknownEnvironmentWarnings({
        SWITCHYARD_PORT: '7001',
        SWITCHYARD_MAX_FRAME_BYTES: '2048',
        SWITCHYARD_CONFIG: 'config.json',
        SWITCHYARD_INTERNAL_TOKEN: 'x'.repeat(16),
        PATH: '/usr/bin',
        SWITCHYARDPORT: '1',
      }),
    ).toEqual([]);
  });
});

describe('allowedOrigins', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir('switchyard-origins-');
  });
  afterEach(() => dir.remove());

  it('accepts *, scheme://host and scheme://host:port, IPv6 included', () => {
    const config = loadConfig({
      env: { SWITCHYARD_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:3000, http://[::1]:8080, capacitor://localhost, *' },
    });
    expect(config.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000', 'http://[::1]:8080', 'capacitor://localhost', '*']);
  });

  for (const bad of ['https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'https://user@app.example.com', 'https://a.example?x=1', 'https://', '*.example.com']) {
    it(`refuses ${JSON.stringify(bad)}, naming the key and the entry`, () => {
      const error = refusal(() => loadConfig({ env: { SWITCHYARD_ALLOWED_ORIGINS: `https://ok.example, ${bad}` } }));
      expect(error.message).toContain('allowedOrigins.1');
      expect(error.message).toContain(JSON.stringify(bad));
      expect(error.message).toMatch(/scheme:\/\/host\[:port\]/);
    });
  }

  it('refuses a bad entry from the config file too', () => {
    const path = join(dir.path, 'config.json');
    writeFileSync(path, JSON.stringify({ allowedOrigins: ['https://a.example/app'] }));
    expect(refusal(() => loadConfig({ flags: { config: path } })).message).toMatch(/^invalid configuration: allowedOrigins\.0: "https:\/\/a\.example\/app" is not an origin/);
  });
});
