import { startTestGateway, type TestGateway } from './gateway.js';
import { APP_PASSWORD, appToken, connectPeer, meetInRoom, type Peer } from './rooms.js';
import { TestClient } from './ws-client.js';

/**
 * A gateway for throwing bad frames at: a high bad-frame limit (so one socket can send many),
 * a control client that must stay served, and two app-token peers meeting in `room-x` (so
 * relay frames reach the deeper paths).
 */
export interface AbuseStage {
  server: TestGateway;
  control: TestClient;
  owner: Peer;
  member: Peer;
  close(): Promise<void>;
}

export async function abuseStage(overrides: Record<string, string> = {}): Promise<AbuseStage> {
  const server = await startTestGateway({ badFrameLimit: '10000', appPassword: APP_PASSWORD, ...overrides });
  const control = await TestClient.connect(server.wsUrl());
  const token = await appToken(server);
  const owner = await connectPeer(server, token);
  const member = await connectPeer(server, token);
  await meetInRoom(owner, [member], 'room-x');
  return {
    server,
    control,
    owner,
    member,
    async close() {
      control.close();
      owner.client.close();
      member.client.close();
      await server.close();
    },
  };
}

/** `switchyard_uncaught_errors_total` summed over its labels: what reached the last-resort guard. */
export async function uncaughtErrors(server: TestGateway): Promise<number> {
  const text = await (await fetch(server.url('/metrics'))).text();
  return [...text.matchAll(/^switchyard_uncaught_errors_total\{[^}]*\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}
