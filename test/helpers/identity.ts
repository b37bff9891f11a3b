import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigInput } from '../../src/app/config.js';
import type { Clock } from '../../src/core/clock.js';
import type { RecordedEvent } from '../../src/store/types.js';
import { Gateway } from '../../src/app/gateway.js';
import { createLogger } from '../../src/edge/logger.js';
import type { TestGateway } from './gateway.js';
import { TestClient, type Frame } from './ws-client.js';

/**
 * Identity tests over real sockets. Like `startTestGateway` (same config path, port 0, own data
 * dir), plus a clock the test steers: TOTP steps, rate-limit windows and MFA locks are then
 * decided at times the test chose, not at whatever second the run happened to hit.
 */

/** Stands still until moved; starts in the middle of the current 30 s TOTP step, near real time. */
export class SteerableClock implements Clock {
  private current: number;

  constructor(start = Math.floor(Date.now() / 30_000) * 30_000 + 15_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }

  /** Moves to the middle of a TOTP step at least `steps` steps ahead: no code used so far is current or newer. */
  nextTotpSteps(steps = 3): void {
    this.current = (Math.floor(this.current / 30_000) + steps) * 30_000 + 15_000;
  }

  get epochSeconds(): number {
    return Math.floor(this.current / 1000);
  }
}

export interface IdentityGateway extends TestGateway {
  clock: SteerableClock;
  /** Events of one type in the log, oldest first. */
  events<Data = Record<string, unknown>>(type: string, where?: (event: RecordedEvent<string, Data>) => boolean): RecordedEvent<string, Data>[];
}

export async function startIdentityGateway(
  overrides: Partial<Record<keyof ConfigInput, string>> = {},
  clock = new SteerableClock(),
): Promise<IdentityGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-identity-'));
  const env: Record<string, string> = { SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' };
  for (const [key, value] of Object.entries(overrides)) env[`SWITCHYARD_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}`] = String(value);
  const config = loadConfig({ flags: { port: '0', data: dir }, env });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel), clock });
  const port = gateway.port;
  return {
    gateway,
    port,
    dataDir: dir,
    clock,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    wsUrl: (path = '/ws') => `ws://127.0.0.1:${port}${path}`,
    events: <Data>(type: string, where?: (event: RecordedEvent<string, Data>) => boolean) => {
      const all = gateway.store.readAll({ type }) as RecordedEvent<string, Data>[];
      return where ? all.filter(where) : all;
    },
    async close() {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestUser {
  username: string;
  password: string;
  userId: string;
  /** The TOTP secret when MFA is enrolled. */
  secret: string | undefined;
}

/** Creates users through the IdentityService, at most four at once (each hash takes one of the four scrypt slots). */
export async function createUsers(
  server: TestGateway,
  organisation: string,
  specs: { username: string; mfa?: boolean; groups?: string[] }[],
): Promise<Record<string, TestUser>> {
  const identity = server.gateway.identity;
  const users: Record<string, TestUser> = {};
  for (let index = 0; index < specs.length; index += 4) {
    await Promise.all(
      specs.slice(index, index + 4).map(async (spec) => {
        const password = `pw-${spec.username}-correct-horse`;
        const userId = await identity.addUser({ organisation, username: spec.username, password, groups: spec.groups ?? [], by: 'test' });
        const secret = spec.mfa ? (await identity.enrollMfa(spec.username, 'test')).secret : undefined;
        users[spec.username] = { username: spec.username, password, userId, secret };
      }),
    );
  }
  return users;
}

/** A connected socket (its `welcome` received, so it is in the log) and its peer id. */
export async function connect(server: TestGateway): Promise<{ client: TestClient; peerId: string }> {
  const client = await TestClient.open(server.wsUrl());
  const welcome = await client.next('welcome');
  return { client, peerId: (welcome.data as { peer_id: string }).peer_id };
}

let nextId = 1;

/**
 * Sends a frame with a fresh id and waits for its answer. The bound is a hang guard sized for
 * a loaded shared machine (a login is scrypt at N=2^17 in one of four slots), not a timing claim.
 */
export function ask(client: TestClient, event: string, data?: unknown, timeoutMs = 120_000): Promise<Frame> {
  const id = nextId++;
  client.sendJson({ event, data, id });
  return client.next((frame) => frame.id === id, timeoutMs);
}

export const login = (client: TestClient, user: { username: string; password: string }): Promise<Frame> =>
  ask(client, 'login', { username: user.username, password: user.password });
