import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abuseStage, uncaughtErrors, type AbuseStage } from '../helpers/abuse.js';
import type { TestGateway } from '../helpers/gateway.js';
import { RawEngineSocket } from '../helpers/raw-engineio.js';
import type { Peer } from '../helpers/rooms.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Fuzzes raw text frames of every event name the gateway answers, on /ws and Socket.IO:
 * envelopes written by hand (not by JSON.stringify) so strings carry raw control
 * characters, bad and good escapes, unbalanced quotes. The gateway must answer each frame
 * or ignore it, never reach the last-resort guard, and keep serving a control socket.
 * Fixed seed and bounded count: the same cases run in CI every time. The frame that killed
 * the process (hardening point 1) is in this space: a bad escape in `room` of a relay.
 */

const EVENTS = [
  'ping', 'authenticate', 'authorize', 'login', 'mfa', 'auth-request', 'logout',
  'room-create-request', 'room-join-request', 'room-join-accept', 'room-join-reject', 'room-leave',
  'relay-session-description', 'relay-ice-candidate',
];
const FIELDS = ['room', 'to', 'peer_id', 'payload', 'auth', 'token', 'method', 'username', 'password', 'code', 'ice_candidate', 'session_description'];

/** Text inside a JSON string, as written on the wire: valid or not. */
const stringContent = fc
  .array(
    fc.oneof(
      fc.constantFrom('\\', '\\q', '\\u', '\\u12', '\\u00e9', '\\"', '\\\\', '\\n', '\u0000', '\u0001', '\u001f', '\n', '"', 'room-x', 'é', '\u2028'),
      fc.string({ maxLength: 6 }),
    ),
    { maxLength: 8 },
  )
  .map((pieces) => pieces.join(''));

const value: fc.Arbitrary<string> = fc.oneof(
  stringContent.map((text) => `"${text}"`),
  fc.constantFrom('null', 'true', '1', '-0', '1e400', '{}', '[]', '{"candidate":"x"}', '{"type":"offer","sdp":"v=0"}'),
  fc.array(stringContent, { maxLength: 3 }).map((items) => `[${items.map((item) => `"${item}"`).join(',')}]`),
);

/** The members each event needs, so fuzzed frames get past the first checks to the deeper paths. */
const REQUIRED: Record<string, string[]> = {
  authenticate: ['method', 'token'],
  authorize: ['method', 'token'],
  login: ['username', 'password'],
  mfa: ['code'],
  'auth-request': ['token'],
  'room-create-request': ['room'],
  'room-join-request': ['room'],
  'room-join-accept': ['room', 'peer_id'],
  'room-join-reject': ['room', 'peer_id'],
  'room-leave': ['room'],
  'relay-session-description': ['room', 'to', 'session_description'],
  'relay-ice-candidate': ['room', 'to', 'ice_candidate'],
};

const frame = fc.constantFrom(...EVENTS).chain((event) =>
  fc.record({
    event: fc.constant(event),
    fields: fc
      .tuple(
        fc.tuple(...(REQUIRED[event] ?? []).map((key) => value.map((text) => [key, text] as [string, string]))),
        fc.array(fc.tuple(fc.constantFrom(...FIELDS), value), { maxLength: 3 }),
      )
      .map(([required, extra]) => [...(required as [string, string][]), ...extra]),
    id: fc.option(fc.oneof(fc.constantFrom('1', '0', '-1', '1.5', '"7"'), value), { nil: undefined }),
    dataAsString: fc.option(value, { nil: undefined, freq: 8 }),
  }),
);

type FuzzFrame = typeof frame extends fc.Arbitrary<infer T> ? T : never;

function dataText(fuzz: FuzzFrame): string {
  return fuzz.dataAsString ?? `{${fuzz.fields.map(([key, text]) => `"${key}":${text}`).join(',')}}`;
}


describe('fuzzed raw frames of every event', () => {
  let server: TestGateway;
  let control: TestClient;
  let owner: Peer;
  let member: Peer;
  let pingId = 0;

  let stage: AbuseStage;
  beforeAll(async () => {
    stage = await abuseStage({ loginAttemptsPerMinutePerAddress: '10000', loginAttemptsPerMinutePerUser: '10000' });
    ({ server, control, owner, member } = stage);
  });
  afterAll(() => stage.close());

  it('on /ws, from an anonymous socket and from a room member, the gateway keeps serving', async () => {
    const anonymous = await TestClient.connect(server.wsUrl());
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 10 }), async (frames) => {
        for (const fuzz of frames) {
          const text = `{"event":"${fuzz.event}","data":${dataText(fuzz)}${fuzz.id === undefined ? '' : `,"id":${fuzz.id}`}}`;
          anonymous.sendRaw(text, false);
          owner.client.sendRaw(text.replace('"to":', `"to":"${member.peerId}","ignored":`), false);
        }
        const id = 1_000_000 + ++pingId; // ids the fuzzed frames never carry
        expect(await anonymous.request('ping', undefined, id)).toMatchObject({ event: 'pong', id });
        expect(await control.request('ping', undefined, id)).toMatchObject({ event: 'pong', id });
        anonymous.frames.length = 0;
      }),
      { numRuns: 150, seed: 20261201 },
    );
    expect(anonymous.closed).toBeUndefined();
    anonymous.close();
    expect(await uncaughtErrors(server)).toBe(0);
  });

  it('on Socket.IO v4 and v3, the session survives and answers its acks', async () => {
    for (const version of [4, 3] as const) {
      const socket = await RawEngineSocket.open(server.port, '/socket.io/', { version });
      expect(await socket.nextText()).toMatch(/^0\{/);
      if (version === 4) socket.send('40');
      expect(await socket.nextText()).toMatch(/^40/);
      let ack = 100;
      await fc.assert(
        fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 10 }), async (frames) => {
          for (const fuzz of frames) socket.send(`42["${fuzz.event}",${dataText(fuzz)}]`);
          const id = ++ack;
          socket.send(`42${id}["ping"]`);
          for (;;) if ((await socket.nextText()).startsWith(`43${id}`)) break;
        }),
        { numRuns: 75, seed: 20261201 },
      );
      expect(socket.closed).toBeUndefined();
      socket.close();
    }
    expect(await control.request('ping', undefined, ++pingId)).toMatchObject({ event: 'pong' });
    expect(await uncaughtErrors(server)).toBe(0);
  });
});
