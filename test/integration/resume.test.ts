import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/app/gateway.js';
import { sendToAll, type ClientConnection } from '../../src/edge/index.js';
import { until } from '../helpers/conditions.js';
import { startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';
import { APP_PASSWORD, appToken, meetInRoom, type Peer } from '../helpers/rooms.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Reconnect and resume over native sockets (PROTOCOL.md section 11), JSON and MessagePack:
 * a signed-in peer in a room, hearing pushes made from the log, loses its TCP connection
 * without a close frame (`terminate()`: what a network cut looks like to the server) and a
 * new socket resumes it. The pushes come from a processor reading the log, as a module's do:
 * every OrganisationCreated is pushed with `seq: event.position` to the peers watching, the
 * ClientConnection objects held as modules hold them. Waits are on conditions.
 */

interface Welcome {
  peer_id: string;
  codec: string;
  resume: string;
  resumeWindowSeconds: number;
}

interface Session extends Peer {
  welcome: Welcome;
  /** The server's object for it, as a module holds it. */
  connection: ClientConnection;
}

/** Pushes `probe {name}` with seq = the event's log position to every watcher, from the log. */
function probePushes(gateway: Gateway) {
  const watchers = new Set<ClientConnection>();
  gateway.processors.add({
    name: 'test.resume-probe',
    startFrom: 'now',
    canHandle: (event) => event.type === 'OrganisationCreated',
    handle(events) {
      for (const event of events) sendToAll(watchers, { event: 'probe', data: { name: (event.data as { name: string }).name }, seq: event.position });
    },
  });
  let made = 0;
  return {
    watch: (connection: ClientConnection) => watchers.add(connection),
    /** Commits one event the probe pushes; resolves with its position once pushed. */
    cause: async (): Promise<number> => {
      const name = `probe-${(made += 1)}-${Math.random().toString(36).slice(2)}`;
      await gateway.identity.createOrganisation(name, 'test');
      return gateway.store.readAll({ type: 'OrganisationCreated' }).at(-1)!.position;
    },
  };
}

const seqOf = (frame: Frame): number | undefined => (frame as Frame & { seq?: number }).seq;

for (const codec of ['json', 'msgpack'] as const) {
  const protocols = codec === 'msgpack' ? ['switchyard.v1.msgpack'] : undefined;

  describe(`resume over native ${codec}`, { timeout: 120_000 }, () => {
    let server: IdentityGateway;
    let probe: ReturnType<typeof probePushes>;
    let token: string;
    let rooms = 0;

    /** A socket signed in with an app token (Chat Signal's auth-request): an authenticated, resumable session. */
    async function signIn(): Promise<Session> {
      const client = await TestClient.open(server.wsUrl(), protocols ? { protocols } : {});
      const welcome = (await client.next('welcome')).data as Welcome;
      client.sendJson({ event: 'auth-request', data: token });
      const accept = await client.next('auth-accept');
      const connection = server.gateway.connections.get(welcome.peer_id)!;
      probe.watch(connection);
      return { client, peerId: welcome.peer_id, sessionToken: (accept.data as { token: string }).token, welcome, connection };
    }

    /** The network goes: no close frame reaches the server, which keeps the connection detached. */
    async function cut(session: Session): Promise<void> {
      session.client.socket.terminate();
      await until(() => session.connection.detached, 'the connection is detached');
    }

    /** Opens a socket and sends `resume` as its first frame, before its welcome has arrived. */
    async function resumeOn(session: string, since: number): Promise<{ client: TestClient; answer: Frame }> {
      const client = await TestClient.open(server.wsUrl(), protocols ? { protocols } : {});
      client.sendJson({ event: 'resume', data: { session, since }, id: 1 });
      const answer = await client.next((frame) => frame.id === 1);
      return { client, answer };
    }

    beforeAll(async () => {
      server = await startIdentityGateway({ appPassword: APP_PASSWORD, resumeFailuresPerMinutePerAddress: '10000' });
      probe = probePushes(server.gateway);
      token = await appToken(server);
    });

    afterAll(async () => {
      await server?.close();
    });

    it('welcome carries the resume token and the window; pushes from the log carry seq beside event', async () => {
      const session = await signIn();
      expect(session.welcome).toMatchObject({ peer_id: session.peerId, codec, resumeWindowSeconds: 120 });
      expect(session.welcome.resume).toMatch(/^r1\.[\w-]{11}\.[\w-]{22}\.[\w-]{22}$/);
      expect(session.welcome.resume).toContain(session.peerId);
      const seq = await probe.cause();
      const pushed = await session.client.next('probe');
      expect(seqOf(pushed)).toBe(seq);
      expect(pushed.data).not.toHaveProperty('seq');
      session.client.close();
    });

    it('a cut peer resumes within the window: same peer_id, still in its room, the missed pushes in order once, then resumed', async () => {
      const room = `resume-${codec}-${(rooms += 1)}`;
      const a = await signIn();
      const b = await signIn();
      await meetInRoom(a, [b], room);
      const seen = await probe.cause();
      expect(seqOf(await a.client.next('probe'))).toBe(seen);

      await cut(a);
      const missed = [await probe.cause(), await probe.cause()];
      const { client, answer } = await resumeOn(a.welcome.resume, seen);

      expect(answer).toMatchObject({ event: 'resumed', data: { missed: 2, peer_id: a.peerId, resumeWindowSeconds: 120 } });
      // The new socket's own welcome first, then the replay, then the answer.
      expect(client.frames.map((frame) => frame.event)).toEqual(['welcome', 'probe', 'probe']);
      expect(client.frames.slice(1).map(seqOf)).toEqual(missed);
      const carrier = (client.frames[0]!.data as Welcome).peer_id;
      client.frames.splice(0);
      expect(carrier).not.toBe(a.peerId);

      // Still a member: a relay reaches B from A's peer_id, and B never heard A leave.
      const sdp = { type: 'offer', sdp: 'v=0' };
      client.sendJson({ event: 'relay-session-description', data: { room, to: b.peerId, session_description: sdp } });
      expect((await b.client.next('session-description')).data).toEqual({ room, peer_id: a.peerId, session_description: sdp });
      expect(b.client.frames.filter((frame) => frame.event === 'room-user-leave')).toEqual([]);

      // Pushes go on to the resumed socket, once; the carrier is nobody.
      const next = await probe.cause();
      expect(seqOf(await client.next('probe'))).toBe(next);
      expect(server.gateway.connections.get(a.peerId)).toBe(a.connection);
      expect(server.gateway.connections.get(carrier)).toBeUndefined();
      expect(client.frames.filter((frame) => frame.event === 'probe')).toEqual([]);

      // The log: A detached and resumed by the carrier, whose own connection ended naming A.
      expect(server.events('ConnectionDetached', (event) => event.data.connectionId === a.peerId)).toMatchObject([{ data: { code: 1006 } }]);
      expect(server.events('ConnectionResumed', (event) => event.data.connectionId === a.peerId)).toMatchObject([
        { data: { carrier, since: seen, replacedSocket: false } },
      ]);
      expect(server.events('ConnectionClosed', (event) => event.data.connectionId === carrier)).toMatchObject([
        { data: { code: 1000, resumedConnection: a.peerId } },
      ]);
      expect(server.events('ConnectionClosed', (event) => event.data.connectionId === a.peerId)).toEqual([]);
      client.close();
      b.client.close();
    });

    it('a token serves one resume: the old one is then unknown, the one in resumed works after the next cut', async () => {
      const a = await signIn();
      await cut(a);
      const first = await resumeOn(a.welcome.resume, 0);
      expect(first.answer.event).toBe('resumed');
      const next = (first.answer.data as { resume: string }).resume;
      expect(next).not.toBe(a.welcome.resume);

      first.client.socket.terminate();
      await until(() => a.connection.detached, 'detached again');
      const stale = await resumeOn(a.welcome.resume, 0);
      expect(stale.answer).toMatchObject({ event: 'resume-failed', data: { reason: 'unknown' } });
      const second = await resumeOn(next, 0);
      expect(second.answer).toMatchObject({ event: 'resumed', data: { peer_id: a.peerId, missed: 0 } });
      stale.client.close();
      second.client.close();
    });

    it('a client that notices the cut first resumes while its old socket is still up: the old socket is closed with 4509', async () => {
      const a = await signIn();
      const seen = await probe.cause();
      await a.client.next('probe');
      const { client, answer } = await resumeOn(a.welcome.resume, seen);
      expect(answer).toMatchObject({ event: 'resumed', data: { peer_id: a.peerId, missed: 0 } });
      expect(await a.client.waitClosed()).toEqual({ code: 4509, reason: 'session resumed on another socket' });
      const next = await probe.cause();
      expect(seqOf(await client.next('probe'))).toBe(next);
      expect(server.events('ConnectionResumed', (event) => event.data.connectionId === a.peerId)).toMatchObject([{ data: { replacedSocket: true } }]);
      client.close();
    });

    it('the window passed: resume-failed expired, and the others in its room hear it leave now', async () => {
      const room = `expire-${codec}-${(rooms += 1)}`;
      const a = await signIn();
      const b = await signIn();
      await meetInRoom(a, [b], room);
      await cut(a);
      server.clock.advance(121_000);
      const { client, answer } = await resumeOn(a.welcome.resume, 0);
      expect(answer).toMatchObject({ event: 'resume-failed', data: { reason: 'expired' } });
      expect((await b.client.next('room-user-leave')).data).toEqual({ room, peer_id: a.peerId });
      expect(server.gateway.connections.get(a.peerId)).toBeUndefined();
      // The socket goes on as the fresh connection its welcome named.
      const own = (client.frames.find((frame) => frame.event === 'welcome')!.data as Welcome).peer_id;
      expect(server.gateway.connections.get(own)).toBeDefined();
      expect((await client.request('ping')).event).toBe('pong');
      const closes = () => server.events('ConnectionClosed', (event) => event.data.connectionId === a.peerId);
      await until(() => closes().length > 0, 'the end is recorded');
      expect(closes()).toMatchObject([{ data: { code: 1006, reason: 'not resumed within 120 s' } }]);
      client.close();
      b.client.close();
    });

    it('a client that closes on purpose (1000) or an anonymous one leaves at once: nothing to resume', async () => {
      const room = `leave-${codec}-${(rooms += 1)}`;
      const a = await signIn();
      const b = await signIn();
      await meetInRoom(a, [b], room);
      a.client.socket.close(1000);
      expect((await b.client.next('room-user-leave')).data).toEqual({ room, peer_id: a.peerId });
      const resumed = await resumeOn(a.welcome.resume, 0);
      expect(resumed.answer).toMatchObject({ event: 'resume-failed', data: { reason: 'unknown' } });

      const anonymous = await TestClient.open(server.wsUrl(), protocols ? { protocols } : {});
      const welcome = (await anonymous.next('welcome')).data as Welcome;
      anonymous.socket.terminate();
      await until(() => server.gateway.connections.get(welcome.peer_id) === undefined, 'the anonymous connection is closed');
      resumed.client.close();
      b.client.close();
    });
  });
}
