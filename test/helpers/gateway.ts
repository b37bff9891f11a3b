import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigInput } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import { createLogger } from '../../src/edge/logger.js';

export interface TestGateway {
  gateway: Gateway;
  port: number;
  dataDir: string;
  url(path?: string): string;
  wsUrl(path?: string): string;
  /** Stops the gateway and removes its data directory. */
  close(): Promise<void>;
}

/** A real gateway on port 0 with its own temporary data directory. */
export async function startTestGateway(overrides: Partial<Record<keyof ConfigInput, string>> = {}, dataDir?: string): Promise<TestGateway> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  const env: Record<string, string> = { SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' };
  for (const [key, value] of Object.entries(overrides)) {
    env[`SWITCHYARD_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}`] = String(value);
  }
  const config = loadConfig({ flags: { port: '0', data: dir }, env });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel) });
  const port = gateway.port;
  return {
    gateway,
    port,
    dataDir: dir,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    wsUrl: (path = '/ws') => `ws://127.0.0.1:${port}${path}`,
    async close() {
      await gateway.stop();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
