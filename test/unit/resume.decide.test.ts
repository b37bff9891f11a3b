import { describe, expect, it } from 'vitest';
import {
  connectionAggregate,
  type CloseConnection,
  type ConnectionEvent,
  type DetachConnection,
  type ResumeConnection,
} from '../../src/modules/connections/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * A connection's resume in the log (PROTOCOL.md section 11): given its history, when it is
 * detached, resumed or closed, then these events or this refusal.
 */

const spec = deciderSpec(connectionAggregate);
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

const opened: ConnectionEvent = {
  type: 'ConnectionOpened',
  data: {
    connectionId: 'c-1',
    codec: 'json',
    transport: 'native',
    remoteAddress: '192.0.2.10',
    userAgent: null,
    origin: null,
    openedAt: T0,
    node: 'node-aaaaaa',
  },
};

const detach: DetachConnection = { type: 'DetachConnection', code: 1006, reason: '', framesIn: 4, framesOut: 9, until: T0 + 120_000, now: T0 + 1000 };
const detached: ConnectionEvent = {
  type: 'ConnectionDetached',
  data: { connectionId: 'c-1', code: 1006, reason: '', framesIn: 4, framesOut: 9, detachedAt: T0 + 1000, until: T0 + 120_000 },
};

const resume: ResumeConnection = { type: 'ResumeConnection', carrier: 'c-2', remoteAddress: '198.51.100.7', since: 41, replacedSocket: false, now: T0 + 5000 };
const resumed: ConnectionEvent = {
  type: 'ConnectionResumed',
  data: { connectionId: 'c-1', carrier: 'c-2', remoteAddress: '198.51.100.7', since: 41, replacedSocket: false, resumedAt: T0 + 5000 },
};

const windowEnded: CloseConnection = { type: 'CloseConnection', code: 1006, reason: 'not resumed within 120 s', framesIn: 4, framesOut: 9, now: T0 + 121_000 };

describe('DetachConnection', () => {
  it('given an open connection, detaches it until the window ends', () => {
    const after = spec.given([opened]).when(detach).then([detached]);
    expect(after.state.value).toBe('detached');
    expect(after.state.context).toMatchObject({ detachedUntil: T0 + 120_000, node: 'node-aaaaaa' });
  });

  it('given a detached connection, is refused with CONFLICT (its socket is already gone)', () => {
    spec.given([opened, detached]).when(detach).thenThrows('CONFLICT');
  });

  it('given a closed connection, is refused with CONFLICT', () => {
    spec.given([opened, detached]).when(windowEnded).after.when(detach).thenThrows('CONFLICT');
  });
});

describe('ResumeConnection', () => {
  it('given a detached connection, resumes it on the new socket, from its address', () => {
    const after = spec.given([opened, detached]).when(resume).then([resumed]);
    expect(after.state.value).toBe('open');
    expect(after.state.context).toMatchObject({ remoteAddress: '198.51.100.7', detachedUntil: undefined });
  });

  it('given a connection still on its old socket (the client noticed the cut first), resumes it, saying the socket was replaced', () => {
    const [event] = spec.given([opened]).when({ ...resume, replacedSocket: true }).events;
    expect(event).toMatchObject({ type: 'ConnectionResumed', data: { replacedSocket: true, carrier: 'c-2' } });
  });

  it('given a resumed connection cut again, detaches and resumes it again', () => {
    spec.given([opened, detached, resumed]).when(detach).then([detached]).when(resume).then([resumed]);
  });

  it('given a closed connection, is refused with CONFLICT: an ended session cannot come back', () => {
    spec.given([opened, detached]).when(windowEnded).after.when(resume).thenThrows('CONFLICT');
  });

  it('given nothing, is refused with CONFLICT', () => {
    spec.given().when(resume).thenThrows('CONFLICT');
  });
});

describe('CloseConnection of a detached connection', () => {
  it('closes it when its window ends, with the code its socket was lost with', () => {
    const after = spec
      .given([opened, detached])
      .when(windowEnded)
      .then([
        {
          type: 'ConnectionClosed',
          data: { connectionId: 'c-1', codec: 'json', code: 1006, reason: 'not resumed within 120 s', unclean: false, framesIn: 4, framesOut: 9, closedAt: T0 + 121_000 },
        },
      ]);
    expect(after.state.status).toBe('done');
  });

  it('names the resumed connection on a resuming socket’s own connection', () => {
    const [event] = spec.given([opened]).when({ ...windowEnded, code: 1000, reason: 'resumed connection c-0', resumedConnection: 'c-0' }).events;
    expect(event).toMatchObject({ type: 'ConnectionClosed', data: { code: 1000, resumedConnection: 'c-0' } });
  });
});
