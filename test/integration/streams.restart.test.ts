import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import type { Output } from '../../src/cli/output.js';
import { replay } from '../../src/cli/replay.js';
import { zoomCommand } from '../../src/cli/zoom.js';
import { createLogger } from '../../src/edge/logger.js';
import { until } from '../helpers/conditions.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, SteerableClock, type TestUser } from '../helpers/identity.js';
import type { TestGateway } from '../helpers/gateway.js';
import { decodeJson, split } from '../helpers/jws.js';
import { connectV4 } from '../helpers/socketio.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Streams and Zoom credentials across restarts (issue 10): the gateway is stopped and started
 * again on the same data dir with a clock the test moves while it is down, so a status change
 * whose time passed meanwhile (the live window opening, the end, the recording window's end)
 * is recorded by the timers re-armed at start, without waiting on the wall clock. Status, key
 * and credentials survive; config credentials serve an organisation the CLI has not set, and
 * the CLI's win over them; replay equals the live read model after each restart.
 */

const WAIT_MS = 60_000;
const START = Date.UTC(2030, 4, 4, 10, 0);
const END = Date.UTC(2030, 4, 4, 11, 0);
const MINUTE = 60_000;
const SECRET_LOG = 'secret-set-with-the-cli-0001';
const SECRET_CONFIG = 'secret-from-the-config-0002';
type Data = Record<string, any>;

async function startGateway(dataDir: string, clock: SteerableClock, env: Record<string, string> = {}): Promise<TestGateway> {
  const config = loadConfig({
    flags: { port: '0', data: dataDir },
    env: { SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', SWITCHYARD_AUTH_DEADLINE_SECONDS: '0', SWITCHYARD_RTMP_RECORDING_SECONDS: '3600', ...env },
  });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel), clock });
  const port = gateway.port;
  return { gateway, port, dataDir, url: (path = '/') => `http://127.0.0.1:${port}${path}`, wsUrl: (path = '/ws') => `ws://127.0.0.1:${port}${path}`, close: () => gateway.stop() };
}

const silent: Output = { out: () => undefined, err: () => undefined };

describe('streams across restarts', { timeout: 240_000 }, () => {
  const dir = tempDir('switchyard-streams-restart-');
  const clock = new SteerableClock(Date.UTC(2030, 4, 4, 8, 0));
  let server: TestGateway;
  let olga: TestUser;
  let token: string;
  let organisation: string;
  let otherOrganisation: string;
  let itemId: string;
  let zoomItem: string;
  let otherZoomItem: string;
  let streamKey: string;

  const signedIn = async (): Promise<TestClient> => {
    const client = await TestClient.connect(server.wsUrl());
    expect(await ask(client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
    return client;
  };
  /** The launch stream's status changes (the other organisation's item has its own, never activated). */
  const statusChanges = () =>
    server.gateway.store
      .readAll({ type: 'StreamStatusChanged' })
      .map((event) => event.data as Data)
      .filter((data) => data.itemId === itemId);
  const joinOf = async (client: TestClient) => (responseOf<Data>(await command(client, 'consumer_rtmp_get', { id: itemId }, WAIT_MS)) as Data).join;
  /** Stops, moves the clock to `at`, starts again on the same data, and checks the read models equal a replay. */
  const restartAt = async (at: number, env: Record<string, string> = {}) => {
    await server.close();
    clock.advance(at - clock.now());
    server = await startGateway(dir.path, clock, env);
    expect(replay({ dataDir: dir.path }).equal).toBe(true);
  };

  beforeAll(async () => {
    server = await startGateway(dir.path, clock);
    const seed = await server.gateway.identity.createOrganisation('Seed', 'test');
    olga = (await createUsers(server, seed, [{ username: 'olga' }])).olga!;
    token = (await server.gateway.identity.tokens.issue('access', { subject: olga.userId, ttlSeconds: 30 * 86_400, now: clock.now() })).token;
    const client = await signedIn();
    const idOf = async (topic: string, data: unknown) => responseOf<{ id: string }>(await command(client, topic, data, WAIT_MS)).id;
    organisation = await idOf('admin_organisation_create', { data: { name: 'Restart Org' } });
    otherOrganisation = await idOf('admin_organisation_create', { data: { name: 'Config Org' } });
    const day = { start_date: '2030-05-04T00:00:00Z', end_date: '2030-05-05T00:00:00Z' };
    const items = async (org: string) => {
      const event = await idOf('admin_event_create', { data: { organisation: org, name: 'Launch', public: true, ...day } });
      const itinerary = await idOf('admin_itinerary_create', { data: { event, name: 'Day', ...day } });
      const dates = { start_date: new Date(START).toISOString(), end_date: new Date(END).toISOString() };
      return {
        rtmp: await idOf('admin_item_create', { data: { itinerary, type: 'rtmp', name: 'Launch stream', ...dates, configuration: { mode: 'live' } } }),
        zoom: await idOf('admin_item_create', { data: { itinerary, type: 'zoom', name: 'Launch call', ...dates, configuration: { meeting_number: '9876543210' } } }),
      };
    };
    ({ rtmp: itemId, zoom: zoomItem } = await items(organisation));
    ({ zoom: otherZoomItem } = await items(otherOrganisation));
    streamKey = responseOf<Data>(await command(client, 'client_rtmp_get', { id: itemId }, WAIT_MS)).stream_key;
    // Activated at 08:00, in the rehearsal: it stays rehearsing until its live window opens at 09:30.
    expect(responseOf<Data>(await command(client, 'client_rtmp_activate', { id: itemId, key: streamKey }, WAIT_MS))).toMatchObject({ status: 'rehearsing' });
    const code = await zoomCommand(['set', '--org', organisation, '--key', 'cliKey', '--secret-stdin', '--data', dir.path], loadConfig({ flags: { data: dir.path } }), silent, Readable.from([SECRET_LOG]));
    expect(code).toBe(0);
    client.close();
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    dir.remove();
  });

  it('the live window opened while the gateway was down: recorded at start, and joiners get live', async () => {
    expect(statusChanges()).toEqual([]);
    await restartAt(START - 15 * MINUTE);
    await until(() => statusChanges().length === 1, 'the status change re-armed at start');
    expect(statusChanges()[0]).toEqual({ itemId, status: 'live', previous: 'rehearsing', at: START - 15 * MINUTE, cause: 'schedule' });
    const client = await signedIn();
    expect(await joinOf(client)).toEqual({ status: 'live', stream_url: `http://localhost:8080/live/${itemId}/index.m3u8` });
    // The key survived: the hook firing again is accepted and changes nothing.
    const again = await command(client, 'client_rtmp_activate', { id: itemId, key: streamKey }, WAIT_MS);
    expect([again.receipt, (again.result.data as Data).status]).toEqual([undefined, 200]);
    expect(responseOf<Data>(await command(client, 'client_rtmp_get', { id: itemId }, WAIT_MS))).toMatchObject({ stream_key: streamKey, key_generation: 1 });
    client.close();
  });

  it('the end and the recording window passed while down: recording, then complete, each recorded once', async () => {
    await restartAt(END + 10 * MINUTE);
    await until(() => statusChanges().length === 2, 'recording recorded at start');
    expect(statusChanges()[1]).toMatchObject({ status: 'recording', previous: 'live', at: END + 10 * MINUTE });
    const v4 = await connectV4(server.port);
    const ack = (await v4.socket.timeout(WAIT_MS).emitWithAck('consumer_rtmp_get', { id: itemId })) as Data;
    expect(ack.response.join.status).toBe('recording');
    v4.socket.close();
    await restartAt(END + 2 * 60 * MINUTE);
    await until(() => statusChanges().length === 3, 'complete recorded at start');
    expect(statusChanges()[2]).toMatchObject({ status: 'complete', previous: 'recording' });
    // Nothing is left to change: a further restart records nothing.
    await restartAt(END + 3 * 60 * MINUTE);
    const client = await signedIn();
    expect(await joinOf(client)).toMatchObject({ status: 'complete' });
    expect(statusChanges()).toHaveLength(3);
    client.close();
  });

  it('credentials survive: the CLI’s win over the config’s; the config serves an organisation the CLI has not set', async () => {
    const credentials = { [organisation]: { key: 'configKeyA', secret: SECRET_CONFIG }, [otherOrganisation]: { key: 'configKeyB', secret: SECRET_CONFIG } };
    await restartAt(clock.now() + MINUTE, { SWITCHYARD_ZOOM_SDK_CREDENTIALS: JSON.stringify(credentials) });
    const client = await signedIn();
    const signed = async (id: string) => responseOf<Data>(await command(client, 'consumer_zoom_sign', { id }, WAIT_MS));
    const fromLog = await signed(zoomItem);
    const fromConfig = await signed(otherZoomItem);
    const macOf = (signature: string, secret: string) => {
      const parts = split(signature);
      return [createHmac('sha256', secret).update(`${parts.header}.${parts.payload}`).digest('base64url'), parts.signature];
    };
    expect(fromLog.sdkKey).toBe('cliKey');
    expect(decodeJson(split(fromLog.signature).payload)).toMatchObject({ sdkKey: 'cliKey', mn: '9876543210', iat: Math.floor(clock.now() / 1000) - 30 });
    const [expectedLog, actualLog] = macOf(fromLog.signature, SECRET_LOG);
    expect(actualLog).toBe(expectedLog);
    expect(fromConfig.sdkKey).toBe('configKeyB');
    const [expectedConfig, actualConfig] = macOf(fromConfig.signature, SECRET_CONFIG);
    expect(actualConfig).toBe(expectedConfig);
    client.close();
  });
});
