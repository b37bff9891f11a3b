import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DESCRIPTOR_RESERVE, configSchema, envNameOf, loadConfig, maxConnectionsOf, type ConfigSources } from '../../src/app/config.js';
import { tempDir } from '../helpers/temp-dir.js';

function configError(sources: ConfigSources): ConfigError {
  try {
    loadConfig(sources);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to refuse the configuration');
}

describe('loadConfig', () => {
  let dir: ReturnType<typeof tempDir>;
  const writeConfig = (name: string, content: unknown): string => {
    const path = join(dir.path, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  beforeEach(() => {
    dir = tempDir('switchyard-config-');
  });
  afterEach(() => {
    dir.remove();
  });

  it('has documented defaults, with dataDir resolved against cwd', () => {
    const config = loadConfig({ cwd: '/srv/switchyard' });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 7000,
      dataDir: '/srv/switchyard/data',
      ssl: false,
      allowedOrigins: [],
      maxFrameBytes: 64 * 1024,
      maxPayloadBytes: 4 * 1024,
      maxBackpressureBytes: 1024 * 1024,
      idleTimeoutSeconds: 120,
      badFrameLimit: 20,
      badFrameWindowSeconds: 10,
      maxFrameDepth: 32,
      logLevel: 'info',
      maxAppendBatch: 2000,
      walCheckpointIntervalMs: 1000,
      shutdownTimeoutMs: 10_000,
      allowUwsFallback: false,
    });
    expect(config.certificate).toBeUndefined();
    expect(config.privateKey).toBeUndefined();
    expect(loadConfig({ flags: { data: '/var/lib/sy' }, cwd: '/srv' }).dataDir).toBe('/var/lib/sy');
  });

  it('layers sources: defaults < config file < environment < flags', () => {
    const file = writeConfig('config.json', { host: '0.0.0.0', port: 7001, maxFrameBytes: 2048, logLevel: 'warn', badFrameLimit: 5 });
    const env = { SWITCHYARD_CONFIG: file, SWITCHYARD_PORT: '7002', SWITCHYARD_MAX_FRAME_BYTES: '4096', SWITCHYARD_LOG_LEVEL: 'error' };
    const config = loadConfig({ env, flags: { port: '7003' } });
    expect(config.port).toBe(7003); // flag beats env and file
    expect(config.maxFrameBytes).toBe(4096); // env beats file
    expect(config.logLevel).toBe('error');
    expect(config.host).toBe('0.0.0.0'); // file beats default
    expect(config.badFrameLimit).toBe(5);
    expect(config.idleTimeoutSeconds).toBe(120); // default
    expect(loadConfig({ env: { ...env, SWITCHYARD_LOG_LEVEL: 'error' }, flags: { 'log-level': 'debug' } }).logLevel).toBe('debug');
  });

  it('reads the config file named by --config, relative to cwd, before SWITCHYARD_CONFIG', () => {
    writeConfig('flag.json', { port: 7101 });
    const envFile = writeConfig('env.json', { port: 7102 });
    expect(loadConfig({ flags: { config: 'flag.json' }, env: { SWITCHYARD_CONFIG: envFile }, cwd: dir.path }).port).toBe(7101);
    expect(loadConfig({ env: { SWITCHYARD_CONFIG: envFile } }).port).toBe(7102);
  });

  it('names environment variables SWITCHYARD_<UPPER_SNAKE_KEY>', () => {
    expect(envNameOf('maxFrameBytes')).toBe('SWITCHYARD_MAX_FRAME_BYTES');
    expect(envNameOf('port')).toBe('SWITCHYARD_PORT');
    expect(envNameOf('allowUwsFallback')).toBe('SWITCHYARD_ALLOW_UWS_FALLBACK');
    const config = loadConfig({
      env: {
        SWITCHYARD_MAX_FRAME_BYTES: '131072',
        SWITCHYARD_DATA_DIR: '/tmp/sy-data',
        SWITCHYARD_ALLOWED_ORIGINS: 'https://a.example, https://b.example,,',
        SWITCHYARD_ALLOW_UWS_FALLBACK: 'true',
        SWITCHYARD_IDLE_TIMEOUT_SECONDS: '60',
        SWITCHYARD_WAL_CHECKPOINT_INTERVAL_MS: '0',
        SWITCHYARD_SSL: '0',
      },
    });
    expect(config).toMatchObject({
      maxFrameBytes: 131072,
      dataDir: '/tmp/sy-data',
      allowedOrigins: ['https://a.example', 'https://b.example'],
      allowUwsFallback: true,
      idleTimeoutSeconds: 60,
      walCheckpointIntervalMs: 0,
      ssl: false,
    });
  });

  it('reads every key of the schema from its environment variable', () => {
    // Whatever keys are added later, each must be reachable as SWITCHYARD_<KEY>: the value
    // either lands in the config (string keys) or is refused with the key named.
    const value = 'not-a-number-nor-a-flag';
    for (const key of Object.keys(configSchema.shape)) {
      let config: Record<string, unknown>;
      try {
        config = loadConfig({ env: { [envNameOf(key)]: value }, cwd: '/c' }) as Record<string, unknown>;
      } catch (error) {
        expect(error, key).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message, key).toContain(key);
        continue;
      }
      expect(String(config[key]), key).toContain(value);
    }
  });

  it('ignores empty environment values', () => {
    expect(loadConfig({ env: { SWITCHYARD_PORT: '', SWITCHYARD_HOST: '' } })).toMatchObject({ port: 7000, host: '127.0.0.1' });
  });

  describe('refuses bad values with a ConfigError naming the key', () => {
    const cases: { name: string; sources: () => ConfigSources; key: string }[] = [
      { name: 'port out of range', sources: () => ({ env: { SWITCHYARD_PORT: '70000' } }), key: 'port' },
      { name: 'port negative', sources: () => ({ flags: { port: '-1' } }), key: 'port' },
      { name: 'port not a number', sources: () => ({ flags: { port: 'http' } }), key: 'port' },
      { name: 'port fractional', sources: () => ({ env: { SWITCHYARD_PORT: '80.5' } }), key: 'port' },
      { name: 'port blank (would listen on a random port)', sources: () => ({ env: { SWITCHYARD_PORT: '  ' } }), key: 'port' },
      { name: 'port empty flag', sources: () => ({ flags: { port: '' } }), key: 'port' },
      { name: 'port as a bare boolean flag', sources: () => ({ flags: { port: true } }), key: 'port' },
      { name: 'port in hex', sources: () => ({ env: { SWITCHYARD_PORT: '0x1F90' } }), key: 'port' },
      { name: 'port null in the file', sources: () => ({ flags: { config: writeConfig('c.json', { port: null }) } }), key: 'port' },
      { name: 'port true in the file', sources: () => ({ flags: { config: writeConfig('c.json', { port: true }) } }), key: 'port' },
      { name: 'port as a list in the file', sources: () => ({ flags: { config: writeConfig('c.json', { port: [8080] }) } }), key: 'port' },
      { name: 'maxFrameBytes below 1 KiB', sources: () => ({ env: { SWITCHYARD_MAX_FRAME_BYTES: '12' } }), key: 'maxFrameBytes' },
      { name: 'maxFrameBytes not a number', sources: () => ({ env: { SWITCHYARD_MAX_FRAME_BYTES: 'big' } }), key: 'maxFrameBytes' },
      { name: 'maxFrameDepth below 2', sources: () => ({ env: { SWITCHYARD_MAX_FRAME_DEPTH: '1' } }), key: 'maxFrameDepth' },
      { name: 'unknown log level', sources: () => ({ flags: { 'log-level': 'loud' } }), key: 'logLevel' },
      { name: 'ssl not a boolean', sources: () => ({ env: { SWITCHYARD_SSL: 'yes' } }), key: 'ssl' },
      { name: 'empty host in the file', sources: () => ({ flags: { config: writeConfig('c.json', { host: '' }) } }), key: 'host' },
      { name: 'an unknown key in the file', sources: () => ({ flags: { config: writeConfig('c.json', { prot: 7000 }) } }), key: 'prot' },
    ];
    it.each(cases)('$name', ({ sources, key }) => {
      const error = configError(sources());
      expect(error.name).toBe('ConfigError');
      expect(error.message).toContain(key);
    });
  });

  it('refuses ssl without both certificate and private key', () => {
    expect(configError({ flags: { ssl: true } }).message).toMatch(/ssl/);
    expect(configError({ flags: { ssl: true, certificate: '/etc/cert.pem' } }).message).toMatch(/privateKey/);
    expect(configError({ env: { SWITCHYARD_SSL: 'true', SWITCHYARD_PRIVATE_KEY: '/etc/key.pem' } }).message).toMatch(/certificate/);
    const config = loadConfig({ flags: { ssl: true, certificate: '/etc/cert.pem', privatekey: '/etc/key.pem' } });
    expect(config).toMatchObject({ ssl: true, certificate: '/etc/cert.pem', privateKey: '/etc/key.pem' });
  });

  it('refuses a config file that is missing, not JSON, or not an object', () => {
    expect(configError({ flags: { config: join(dir.path, 'missing.json') } }).message).toContain('missing.json');
    expect(configError({ flags: { config: writeConfig('broken.json', '{"port": 70') } }).message).toContain('broken.json');
    expect(configError({ flags: { config: writeConfig('list.json', [1, 2]) } }).message).toMatch(/JSON object/);
    expect(configError({ flags: { config: writeConfig('null.json', 'null') } }).message).toMatch(/JSON object/);
  });

  it('returns a frozen config, nested list included', () => {
    const config = loadConfig({ env: { SWITCHYARD_ALLOWED_ORIGINS: 'https://a.example' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config as { extra?: number }).extra = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(7000);
    expect(() => (config.allowedOrigins as string[]).push('https://evil.example')).toThrow(TypeError);
    expect(config.allowedOrigins).toEqual(['https://a.example']);
  });

  it('does not share state between loads', () => {
    const first = loadConfig({ env: { SWITCHYARD_PORT: '7201' } });
    const second = loadConfig({});
    expect(first.port).toBe(7201);
    expect(second.port).toBe(7000);
    expect(second.allowedOrigins).not.toBe(first.allowedOrigins);
  });
});

describe('maxConnectionsOf', () => {
  const dir = tempDir('switchyard-limits-');
  const limitsFile = (openFiles: string): string => {
    const path = join(dir.path, `limits-${openFiles}`);
    writeFileSync(
      path,
      `Limit                     Soft Limit           Hard Limit           Units\nMax processes             95733                95733                processes\nMax open files            ${openFiles}                ${openFiles}                files\n`,
    );
    return path;
  };

  it('is the configured cap, 0 (off) included, whatever the descriptor limit', () => {
    expect(maxConnectionsOf({ maxConnections: 12 }, limitsFile('20000'))).toBe(12);
    expect(maxConnectionsOf({ maxConnections: 0 }, limitsFile('20000'))).toBe(0);
  });

  it('unset: the open-file limit less the reserve; off where that limit is unlimited or unreadable', () => {
    expect(maxConnectionsOf({ maxConnections: undefined }, limitsFile('20000'))).toBe(20000 - DESCRIPTOR_RESERVE);
    expect(maxConnectionsOf({ maxConnections: undefined }, limitsFile('1024'))).toBe(1);
    expect(maxConnectionsOf({ maxConnections: undefined }, limitsFile('unlimited'))).toBe(0);
    expect(maxConnectionsOf({ maxConnections: undefined }, join(dir.path, 'no such file'))).toBe(0);
  });

  it('refuses a negative or fractional cap at load', () => {
    expect(() => loadConfig({ flags: {}, env: { SWITCHYARD_MAX_CONNECTIONS: '-1' } })).toThrow(ConfigError);
    expect(() => loadConfig({ flags: {}, env: { SWITCHYARD_MAX_CONNECTIONS: '2.5' } })).toThrow(ConfigError);
    expect(loadConfig({ flags: {}, env: { SWITCHYARD_MAX_CONNECTIONS: '5000' } }).maxConnections).toBe(5000);
  });
});
