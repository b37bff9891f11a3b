import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { ClientConnection, type SocketSink } from '../../src/edge/connection.js';
import { Dispatcher } from '../../src/edge/dispatch.js';
import { GatewayMetrics } from '../../src/edge/metrics.js';
import { isSessionToken, principalFromSession, tokenDigest } from '../../src/modules/identity/adoption.js';
import { sessionAggregate, type SessionEvent } from '../../src/modules/identity/domain/index.js';
import type { RoomEvent } from '../../src/modules/rooms/domain/index.js';
import { RoomMembers } from '../../src/modules/rooms/members.js';
import { pushedSince } from '../../src/modules/rooms/missed-pushes.js';
import { defineTopic, portableTopics } from '../../src/runtime/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * The pieces other modules add to a cross-node resume (PROTOCOL.md section 12): the principal
 * read back from a session stream, the session token checked by its digest, the membership index
 * moving a peer to the node that adopted it, and the dispatcher's pin before node-only state.
 */

const sessions = deciderSpec(sessionAggregate);
const ADDRESS = { remoteAddress: '192.0.2.1' };

describe('principalFromSession', () => {
  const principalAfter = (events: SessionEvent[]) => principalFromSession(sessions.given(events).state);

  it('rebuilds a user, an externally signed one, an app session and an organisation', () => {
    expect(principalAfter([{ type: 'SessionAuthorized', data: { userId: 'u-1', organisationId: 'org-1', groups: ['staff'], method: 'token', ...ADDRESS } }])).toEqual({
      kind: 'user',
      userId: 'u-1',
      organisationId: 'org-1',
      groups: ['staff'],
      external: false,
    });
    expect(principalAfter([{ type: 'SessionAuthorized', data: { userId: 'idp|u-2', organisationId: null, groups: [], method: 'external', ...ADDRESS } }])).toMatchObject({ kind: 'user', external: true });
    expect(
      principalAfter([
        { type: 'AppSessionStarted', data: { app: 'chat', appTokenId: 'jti-app', ...ADDRESS } },
        { type: 'TokenIssued', data: { kind: 'session', jti: 'jti-1', subject: 'chat', expiresAt: null, digest: 'DIGEST' } },
      ]),
    ).toEqual({ kind: 'app', app: 'chat', sessionToken: { digest: 'DIGEST' } });
    expect(principalAfter([{ type: 'OrganisationAuthenticated', data: { organisationId: 'org-1', clientId: 'client-1', ...ADDRESS } }])).toEqual({
      kind: 'organisation',
      organisationId: 'org-1',
      clientId: 'client-1',
    });
  });

  it('the last sign-in wins: an app session after a user, a user after an app session', () => {
    const user: SessionEvent = { type: 'SessionAuthorized', data: { userId: 'u-1', organisationId: null, groups: [], method: 'password', ...ADDRESS } };
    const app: SessionEvent[] = [
      { type: 'AppSessionStarted', data: { app: 'chat', appTokenId: 'jti-app', ...ADDRESS } },
      { type: 'TokenIssued', data: { kind: 'session', jti: 'jti-1', subject: 'chat', expiresAt: null, digest: 'DIGEST' } },
    ];
    expect(principalAfter([user, ...app])).toMatchObject({ kind: 'app' });
    expect(principalAfter([...app, user])).toMatchObject({ kind: 'user', userId: 'u-1' });
  });

  it('gives nothing for what the log cannot say whole: a guest, MFA pending, signed out, ended, an app session from before digests, nobody', () => {
    const cases: [string, SessionEvent[]][] = [
      ['guest', [{ type: 'SessionAuthorized', data: { userId: 'guest:inv-1', organisationId: 'org-1', groups: [], method: 'guest', ...ADDRESS } }]],
      [
        'mfa pending',
        [
          { type: 'LoginSucceeded', data: { userId: 'u-1', username: 'ann', mfaRequired: true, ...ADDRESS } },
          { type: 'MfaChallenged', data: { userId: 'u-1' } },
        ],
      ],
      [
        'signed out',
        [
          { type: 'SessionAuthorized', data: { userId: 'u-1', organisationId: null, groups: [], method: 'token', ...ADDRESS } },
          { type: 'LoggedOut', data: { userId: 'u-1' } },
        ],
      ],
      [
        'ended',
        [
          { type: 'SessionAuthorized', data: { userId: 'u-1', organisationId: null, groups: [], method: 'token', ...ADDRESS } },
          { type: 'SessionEnded', data: { by: 'operator', reason: 'kicked' } },
        ],
      ],
      ['app without digest', [{ type: 'AppSessionStarted', data: { app: 'chat', appTokenId: 'jti-app', ...ADDRESS } }]],
      ['anonymous', []],
    ];
    for (const [what, events] of cases) expect(principalAfter(events), what).toBeUndefined();
  });
});

describe('isSessionToken', () => {
  it('compares the token itself, or on an adopted connection its digest; anything else is not it', () => {
    expect(isSessionToken('tok', 'tok')).toBe(true);
    expect(isSessionToken('tok', 'tok2')).toBe(false);
    const held = { digest: tokenDigest('tok') };
    expect(isSessionToken(held, 'tok')).toBe(true);
    for (const presented of ['tok ', '', 'TOK', 42, null, { digest: held.digest }, held.digest]) expect(isSessionToken(held, presented), String(presented)).toBe(false);
  });
});

const sink: SocketSink = { send: () => 1, end: () => undefined, bufferedAmount: () => 0 };
const limits = { maxBackpressureBytes: 1 << 20, badFrameLimit: 20, badFrameWindowMs: 10_000 };
const connectionOf = (id: string) => new ClientConnection({ id, codec: 'json', transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null }, sink, limits, () => undefined);

describe('RoomMembers.relocate', () => {
  const member = (peerId: string) => ({ peerId, userKey: `app:${peerId}`, payload: null, joinedAt: 0 });

  function roomWithRemoteJoiner(): { members: RoomMembers; here: Map<string, ClientConnection>; nodes: Map<string, string> } {
    const here = new Map<string, ClientConnection>([['owner', connectionOf('owner')]]);
    const nodes = new Map<string, string>([['joiner', 'node-b']]);
    const members = new RoomMembers((peerId) => here.get(peerId), (peerId) => nodes.get(peerId));
    const events: RoomEvent[] = [
      { type: 'RoomCreated', data: { room: 'r', owner: member('owner'), createdAt: 0 } },
      { type: 'JoinRequested', data: { room: 'r', peerId: 'joiner', userKey: 'app:joiner', payload: null, requestedAt: 0 } },
      { type: 'JoinApproved', data: { room: 'r', peerId: 'joiner', by: 'owner', payload: null, joinedAt: 0 } },
      { type: 'JoinRequested', data: { room: 'r', peerId: 'waiting', userKey: 'app:waiting', payload: null, requestedAt: 0 } },
    ];
    for (const event of events) members.apply(event);
    return { members, here, nodes };
  }

  it('points a member on a lost node at the node that adopted it', () => {
    const { members, nodes } = roomWithRemoteJoiner();
    expect(members.remoteOf('r').get('joiner')).toBe('node-b');
    nodes.set('joiner', 'node-c');
    members.relocate('joiner');
    expect(members.remoteOf('r').get('joiner')).toBe('node-c');
    expect(members.has('r', 'joiner')).toBe(true);
  });

  it('makes it a local member on the node that adopted it, once its socket is here', () => {
    const { members, here, nodes } = roomWithRemoteJoiner();
    // The log's word comes first, while the socket is not here yet: it stays where it was.
    nodes.delete('joiner');
    members.relocate('joiner');
    expect(members.remoteOf('r').get('joiner')).toBe('node-b');
    const adopted = connectionOf('joiner');
    here.set('joiner', adopted);
    members.relocate('joiner');
    expect(members.of('r')?.get('joiner')).toBe(adopted);
    expect(members.remoteOf('r').has('joiner')).toBe(false);
  });

  it('does not make a member of a peer only waiting for approval', () => {
    const { members, here } = roomWithRemoteJoiner();
    here.set('waiting', connectionOf('waiting'));
    members.relocate('waiting');
    expect(members.has('r', 'waiting')).toBe(false);
  });
});

describe('the dispatcher pin', () => {
  const clock = { now: () => 1_000 };

  function dispatcher(pin: (connection: ClientConnection, topic: string) => Promise<unknown> | undefined) {
    const ran: string[] = [];
    const stateful = defineTopic<unknown, ClientConnection>({ name: 'subscribe', handle: () => void ran.push('subscribe') });
    const [portable] = portableTopics([defineTopic<unknown, ClientConnection>({ name: 'join', handle: () => void ran.push('join') })]);
    const dispatch = new Dispatcher({ metrics: new GatewayMetrics(), clock, onHandlerError: () => undefined, pin }).add(stateful).add(portable!);
    return { dispatch, ran };
  }

  it('runs a topic that is not portable only after its pin is recorded; a portable one at once', async () => {
    let record!: () => void;
    const pins: string[] = [];
    const { dispatch, ran } = dispatcher((_connection, topic) => {
      pins.push(topic);
      return new Promise<void>((resolve) => (record = resolve));
    });
    const connection = connectionOf('c-1');
    dispatch.dispatch(connection, { event: 'subscribe', data: null, id: undefined }, 1_000);
    dispatch.dispatch(connection, { event: 'join', data: null, id: undefined }, 1_000);
    expect(ran).toEqual(['join']);
    expect(pins).toEqual(['subscribe']);
    record();
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual(['join', 'subscribe']);
  });

  it('answers the frame with the pin failure (a log that is down refuses it as UNAVAILABLE) and does not run it', async () => {
    const sent: unknown[] = [];
    const { dispatch, ran } = dispatcher(() => Promise.reject(new AppError('UNAVAILABLE', 'the log is unavailable')));
    const connection = connectionOf('c-2');
    connection.send = (frame) => void sent.push(frame);
    dispatch.dispatch(connection, { event: 'subscribe', data: null, id: 3 }, 1_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual([]);
    expect(sent).toMatchObject([{ event: 'error', id: 3, data: { code: 'UNAVAILABLE' } }]);
  });

  it('runs at once when there is nothing to wait for', () => {
    const { dispatch, ran } = dispatcher(() => undefined);
    dispatch.dispatch(connectionOf('c-3'), { event: 'subscribe', data: null, id: undefined }, 1_000);
    expect(ran).toEqual(['subscribe']);
  });
});

describe('pushedSince (what the rooms pushed a peer after a seq)', () => {
  const event = (position: number, type: string, data: Record<string, unknown>, actor = 'connection:owner') =>
    ({ position, streamId: 'room-r', version: position, type, data: { room: 'r', ...data }, metadata: { actor }, recordedAt: 0 }) as never;
  const log = [
    event(1, 'RoomCreated', { owner: { peerId: 'owner' } }),
    event(2, 'JoinRequested', { peerId: 'joiner' }, 'connection:joiner'),
    event(3, 'JoinApproved', { peerId: 'joiner' }),
    event(4, 'JoinRequested', { peerId: 'other' }, 'connection:other'),
    event(5, 'JoinRejected', { peerId: 'other', reason: 'rejected' }),
    event(6, 'RoomUpdated', { userData: 'x' }, 'connection:joiner'),
  ];
  const runtime = { eventsAfter: (_stream: string, after: number) => log.filter((entry: { position: number }) => entry.position > after) };
  const owners = () => ['owner'];
  const pushed = (peerId: string, since: number) => pushedSince(runtime, ['r'], owners, peerId, since);

  it('counts what went to the peer, not its own commands, a creation, or what went to others', () => {
    // The owner created the room itself (answered, not pushed); the join request after it was pushed to it.
    expect(pushed('owner', 0)).toBe(true);
    expect(pushed('owner', 6)).toBe(false);
    // The joiner's own request and update were answered; its approval at 3 was pushed to it.
    expect(pushed('joiner', 2)).toBe(true);
    // After 3: another's request (to the owners only) and its rejection (to that peer only), its own update.
    expect(pushed('joiner', 3)).toBe(false);
    expect(pushed('other', 4)).toBe(true);
  });
});
