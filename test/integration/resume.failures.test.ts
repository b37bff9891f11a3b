import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/app/gateway.js';
import { replay } from '../../src/cli/replay.js';
import { connectionsProjection } from '../../src/modules/connections/index.js';
import { sendToAll, type ClientConnection } from '../../src/edge/index.js';
import { until } from '../helpers/conditions.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { APP_PASSWORD, appToken, meetInRoom, type Peer } from '../helpers/rooms.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Resumes that must fail (PROTOCOL.md section 11), and what the socket and the session are
 * then: forged and garbage tokens, a token of one session turned towards another, a `since`
 * in the future or before what is kept, a resume that is not the first frame, another codec,
 * too many failures from one address, a window that ends on its own, a restart; and garbage
 * `resume` data of many shapes, none of which takes anything down.
 */

interface Session extends Peer {
  resume: string;
  connection: ClientConnection;
}

/** Every OrganisationCreated pushed as `probe` with seq = its position to the watchers, from the log. */
function probePushes(gateway: Gateway) {
  const watchers = new Set<ClientConnection>();
  let last = 0;
  gateway.processors.add({
    name: 'test.resume-probe',
    startFrom: 'now',
    canHandle: (event) => event.type === 'OrganisationCreated',
    handle(events) {
      for (const event of events) {
        last = event.position;
        sendToAll(watchers, { event: 'probe', data: {}, seq: event.position });
      }
    },
  });
  let made = 0;
  return {
    watchers,
    cause: async (): Promise<number> => {
      await gateway.identity.createOrganisation(`probe-${(made += 1)}-${Math.random().toString(36).slice(2)}`, 'test');
      return last;
    },
  };
}

type Server = TestGateway & { probe: ReturnType<typeof probePushes>; appToken: string };

async function start(overrides: Record<string, string> = {}, dataDir?: string): Promise<Server> {
  const server = await startTestGateway({ appPassword: APP_PASSWORD, resumeFailuresPerMinutePerAddress: '10000', ...overrides }, dataDir);
  return Object.assign(server, { probe: probePushes(server.gateway), appToken: await appToken(server) });
}

async function signIn(server: Server, protocols?: string[]): Promise<Session> {
  const client = await TestClient.open(server.wsUrl(), protocols ? { protocols } : {});
  const welcome = (await client.next('welcome')).data as { peer_id: string; resume: string };
  client.sendJson({ event: 'auth-request', data: server.appToken });
  const accept = await client.next('auth-accept');
  const connection = server.gateway.connections.get(welcome.peer_id)!;
  server.probe.watchers.add(connection);
  return { client, peerId: welcome.peer_id, sessionToken: (accept.data as { token: string }).token, resume: welcome.resume, connection };
}

async function cut(session: Session): Promise<void> {
  session.client.socket.terminate();
  await until(() => session.connection.detached, 'the connection is detached');
}

/** A new socket whose first frame is `resume` with this data; resolves with its answer. */
async function resumeWith(server: TestGateway, data: unknown, protocols?: string[]): Promise<{ client: TestClient; answer: Frame }> {
  const client = await TestClient.open(server.wsUrl(), protocols ? { protocols } : {});
  client.sendJson({ event: 'resume', data, id: 1 });
  return { client, answer: await client.next((frame) => frame.id === 1) };
}

const reasonOf = (frame: Frame) => (frame.event === 'resume-failed' ? (frame.data as { reason: string }).reason : frame.event);

describe('resumes that fail', { timeout: 120_000 }, () => {
  let server: Server;

  beforeAll(async () => {
    server = await start();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('forged and foreign tokens are unknown; the socket goes on as the fresh connection of its welcome', async () => {
    const a = await signIn(server);
    await cut(a);
    const [, node, id, secret] = a.resume.split('.');
    const forged = [
      'garbage',
      `r1.${node}.${id}.${'A'.repeat(22)}`, // the right session, a guessed secret
      `r1.${'B'.repeat(11)}.${id}.${secret}`, // another node's
      `r1.${node}.${id}.${secret}x`,
      `r2.${node}.${id}.${secret}`,
      a.resume.toUpperCase(),
    ];
    for (const session of forged) {
      const { client, answer } = await resumeWith(server, { session, since: 0 });
      expect(answer, session).toMatchObject({ event: 'resume-failed', data: { reason: 'unknown', message: expect.any(String) } });
      const own = (await client.next('welcome')).data as { peer_id: string };
      expect(own.peer_id).not.toBe(a.peerId);
      expect((await client.request('ping')).event).toBe('pong');
      client.close();
    }
    // The real session was not touched by any of it.
    expect(a.connection.detached).toBe(true);
    expect((await resumeWith(server, { session: a.resume, since: 0 })).answer).toMatchObject({ event: 'resumed', data: { peer_id: a.peerId } });
  });

  it('a token names its own session only: A’s secret with B’s id is unknown, and B stays resumable by its own token', async () => {
    const a = await signIn(server);
    const b = await signIn(server);
    await cut(a);
    await cut(b);
    const [, node, , secretOfA] = a.resume.split('.');
    const turned = await resumeWith(server, { session: `r1.${node}.${b.peerId}.${secretOfA}`, since: 0 });
    expect(reasonOf(turned.answer)).toBe('unknown');
    expect(b.connection.detached).toBe(true);
    const ownB = await resumeWith(server, { session: b.resume, since: 0 });
    expect(ownB.answer).toMatchObject({ event: 'resumed', data: { peer_id: b.peerId } });
    const ownA = await resumeWith(server, { session: a.resume, since: 0 });
    expect(ownA.answer).toMatchObject({ event: 'resumed', data: { peer_id: a.peerId } });
    for (const { client } of [turned, ownA, ownB]) client.close();
  });

  it('since past every seq the session was sent is the future; the session stays resumable', async () => {
    const a = await signIn(server);
    const seen = await server.probe.cause();
    await a.client.next('probe');
    await cut(a);
    const future = await resumeWith(server, { session: a.resume, since: seen + 1000 });
    expect(reasonOf(future.answer)).toBe('future');
    expect(a.connection.detached).toBe(true);
    const right = await resumeWith(server, { session: a.resume, since: seen });
    expect(right.answer).toMatchObject({ event: 'resumed', data: { missed: 0 } });
    future.client.close();
    right.client.close();
  });

  it('resume after another frame is forbidden, and so is another codec than the session’s; neither touches the session', async () => {
    const a = await signIn(server);
    await cut(a);
    const late = await TestClient.open(server.wsUrl());
    await late.next('welcome');
    expect((await late.request('ping')).event).toBe('pong');
    late.sendJson({ event: 'resume', data: { session: a.resume, since: 0 }, id: 2 });
    expect(reasonOf(await late.next((frame) => frame.id === 2))).toBe('forbidden');
    const otherCodec = await resumeWith(server, { session: a.resume, since: 0 }, ['switchyard.v1.msgpack']);
    expect(reasonOf(otherCodec.answer)).toBe('forbidden');
    expect(a.connection.detached).toBe(true);
    expect((await resumeWith(server, { session: a.resume, since: 0 })).answer.event).toBe('resumed');
    late.close();
    otherCodec.client.close();
  });

  it('a frame sent before the answer runs on the new socket’s own connection: forbidden, and the token still works', async () => {
    const a = await signIn(server);
    await cut(a);
    const hasty = await TestClient.open(server.wsUrl());
    // Both frames in one go: the second is dispatched while the resume is being recorded.
    hasty.sendJson({ event: 'resume', data: { session: a.resume, since: 0 }, id: 1 });
    hasty.sendJson({ event: 'ping', id: 2 });
    expect(reasonOf(await hasty.next((frame) => frame.id === 1))).toBe('forbidden');
    expect(a.connection.detached).toBe(true);
    const patient = await resumeWith(server, { session: a.resume, since: 0 });
    expect(patient.answer).toMatchObject({ event: 'resumed', data: { peer_id: a.peerId } });
    hasty.close();
    patient.client.close();
  });

  it('garbage resume data of any shape is refused as BAD_REQUEST, JSON or MessagePack, and nothing goes down', async () => {
    const shapes: unknown[] = [
      null,
      'r1.x.y.z',
      42,
      [],
      {},
      { session: 'x' },
      { since: 0 },
      { session: 7, since: 0 },
      { session: 'x', since: -1 },
      { session: 'x', since: 1.5 },
      { session: 'x', since: '3' },
      { session: 'x', since: Number.MAX_SAFE_INTEGER + 2 },
      { session: 'x'.repeat(10_000), since: 0 },
      { session: '', since: 0 },
      { session: { nested: ['deep'] }, since: [0] },
    ];
    for (const [index, data] of shapes.entries()) {
      const client = await TestClient.open(server.wsUrl());
      if (index % 2 === 0) client.sendJson({ event: 'resume', data, id: 3 });
      else client.sendMsgpack({ event: 'resume', data, id: 3 });
      expect(await client.next((frame) => frame.id === 3), JSON.stringify(data)?.slice(0, 80)).toMatchObject({ event: 'error', data: { code: 'BAD_REQUEST' } });
      expect((await client.request('ping')).event).toBe('pong');
      client.close();
    }
    // Well-formed nonsense is an unknown session, never a crash.
    for (const session of ['\u0000', '....', 'r1.' + '.'.repeat(200), '😀'.repeat(60)]) {
      expect(reasonOf((await resumeWith(server, { session, since: 0 })).answer)).toBe('unknown');
    }
    expect((await fetch(server.url('/healthz'))).status).toBe(200);
  });

  it('a user disabled while detached is ended at once (4501): modules hear of it, the token is unknown', async () => {
    const organisation = await server.gateway.identity.createOrganisation('Detached Org', 'test');
    const userId = await server.gateway.identity.addUser({ organisation, username: 'detached-dora', password: 'pw-detached-dora-correct-horse', groups: [], by: 'test' });
    const access = await server.gateway.identity.tokens.issue('access', { subject: userId, ttlSeconds: 3600, now: Date.now() });
    const client = await TestClient.open(server.wsUrl());
    const welcome = (await client.next('welcome')).data as { peer_id: string; resume: string };
    client.sendJson({ event: 'authorize', data: { method: 'oauth2', token: access.token }, id: 5 });
    expect(await client.next((frame) => frame.id === 5)).toMatchObject({ event: 'authorized' });
    const connection = server.gateway.connections.get(welcome.peer_id)!;
    client.socket.terminate();
    await until(() => connection.detached, 'detached');

    await server.gateway.identity.disableUser('detached-dora', 'operator', 'left');
    const closes = () => server.gateway.store.readStream(`connection-${welcome.peer_id}`).filter((event) => event.type === 'ConnectionClosed');
    await until(() => closes().length > 0, 'the end is recorded');
    expect(server.gateway.connections.get(welcome.peer_id)).toBeUndefined();
    expect(closes()).toMatchObject([{ data: { code: 4501 } }]);
    expect(reasonOf((await resumeWith(server, { session: welcome.resume, since: 0 })).answer)).toBe('unknown');
  });

  it('counts resumes by outcome and the detached connections in /metrics', async () => {
    const a = await signIn(server);
    await cut(a);
    const text = await (await fetch(server.url('/metrics'))).text();
    expect(text).toMatch(/switchyard_resumes_total\{outcome="resumed"\} [1-9]/);
    expect(text).toMatch(/switchyard_resumes_total\{outcome="unknown"\} [1-9]/);
    expect(text).toMatch(/switchyard_resumes_total\{outcome="forbidden"\} [1-9]/);
    expect(text).toMatch(/switchyard_detached_connections [1-9]/);
  });
});

describe('resume limits', { timeout: 120_000 }, () => {
  it('pushes after since that fell out of the ring: gap, and the session ends (its room hears it leave)', async () => {
    const server = await start({ resumeBufferPushes: '2' });
    try {
      const a = await signIn(server);
      const b = await signIn(server);
      await meetInRoom(a, [b], 'gap-room');
      const seen = await server.probe.cause();
      await a.client.next('probe');
      await cut(a);
      for (let index = 0; index < 3; index++) await server.probe.cause();
      const { answer } = await resumeWith(server, { session: a.resume, since: seen });
      expect(reasonOf(answer)).toBe('gap');
      expect((await b.client.next('room-user-leave')).data).toEqual({ room: 'gap-room', peer_id: a.peerId });
      // Its token now says why, to whoever holds it.
      expect(reasonOf((await resumeWith(server, { session: a.resume, since: seen })).answer)).toBe('gap');
    } finally {
      await server.close();
    }
  });

  it('failed resumes per address are limited: past the limit even a good token is refused unread', async () => {
    const server = await start({ resumeFailuresPerMinutePerAddress: '3' });
    try {
      const a = await signIn(server);
      await cut(a);
      for (let index = 0; index < 3; index++) expect(reasonOf((await resumeWith(server, { session: `r1.${'x'.repeat(11)}.${'y'.repeat(22)}.${'z'.repeat(22)}`, since: 0 })).answer)).toBe('unknown');
      expect(reasonOf((await resumeWith(server, { session: a.resume, since: 0 })).answer)).toBe('rate-limited');
      expect(a.connection.detached).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('a window that ends on its own closes the session: its room hears it leave, its token then says expired', async () => {
    const server = await start({ resumeWindowSeconds: '1' });
    try {
      const a = await signIn(server);
      const b = await signIn(server);
      await meetInRoom(a, [b], 'window-room');
      await cut(a);
      expect((await b.client.next('room-user-leave', 10_000)).data).toEqual({ room: 'window-room', peer_id: a.peerId });
      expect(server.gateway.connections.get(a.peerId)).toBeUndefined();
      expect(reasonOf((await resumeWith(server, { session: a.resume, since: 0 })).answer)).toBe('expired');
    } finally {
      await server.close();
    }
  });

  it('shutdown ends detached sessions at once; after the restart their tokens say restarted', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-resume-'));
    try {
      const first = await start({}, dataDir);
      const a = await signIn(first);
      const b = await signIn(first);
      const c = await signIn(first);
      await cut(c);
      expect((await resumeWith(first, { session: c.resume, since: 0 })).answer.event).toBe('resumed');
      await cut(a);
      await first.close();
      expect(await b.client.waitClosed()).toMatchObject({ code: 1001 });

      const second = await start({}, dataDir);
      try {
        const closes = second.gateway.store.readAll({ type: 'ConnectionClosed' });
        expect(closes.filter((event) => (event.data as { connectionId: string }).connectionId === a.peerId)).toMatchObject([
          { data: { code: 1001, reason: 'server shutting down', unclean: false } },
        ]);
        expect(reasonOf((await resumeWith(second, { session: a.resume, since: 0 })).answer)).toBe('restarted');
        expect(reasonOf((await resumeWith(second, { session: b.resume, since: 0 })).answer)).toBe('restarted');
        // Another node's token (a node id this log never saw) stays unknown.
        const [, , id, secret] = a.resume.split('.');
        expect(reasonOf((await resumeWith(second, { session: `r1.${'Q'.repeat(11)}.${id}.${secret}`, since: 0 })).answer)).toBe('unknown');
      } finally {
        await second.close();
      }
      // Detaches, resumes and the carriers' closes rebuild the connections read model as it was live.
      const report = replay({ dataDir, projections: [connectionsProjection] });
      expect(report.equal, JSON.stringify(report.tables)).toBe(true);
      expect(report.tables[0]!.liveRows).toBeGreaterThan(3);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
