import { describe, expect, it } from 'vitest';
import { connectionAggregate, type CloseConnection, type ConnectionEvent, type OpenConnection } from '../../src/modules/connections/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * decide() against snapshots: given past events (folded by the machine with XState's pure
 * `transition`, no actor, no store), when a command, then the events or the error.
 */

const spec = deciderSpec(connectionAggregate);

const T0 = Date.UTC(2025, 3, 4, 5, 6, 7);

const openCommand: OpenConnection = {
  type: 'OpenConnection',
  connectionId: 'c-1',
  codec: 'msgpack',
  transport: 'socket.io',
  remoteAddress: '192.0.2.10',
  userAgent: 'Mozilla/5.0',
  origin: 'https://app.example',
  now: T0,
};

const closeCommand: CloseConnection = {
  type: 'CloseConnection',
  code: 4008,
  reason: 'slow consumer',
  framesIn: 10,
  framesOut: 12,
  now: T0 + 60_000,
};

const openedEvent: ConnectionEvent = {
  type: 'ConnectionOpened',
  data: {
    connectionId: 'c-1',
    codec: 'msgpack',
    transport: 'socket.io',
    remoteAddress: '192.0.2.10',
    userAgent: 'Mozilla/5.0',
    origin: 'https://app.example',
    openedAt: T0,
  },
};

const closedEvent: ConnectionEvent = {
  type: 'ConnectionClosed',
  data: {
    connectionId: 'c-1',
    codec: 'msgpack',
    code: 1000,
    reason: 'bye',
    unclean: false,
    framesIn: 1,
    framesOut: 1,
    closedAt: T0 + 1,
  },
};

describe('connection evolve (the machine)', () => {
  it('folds history into state', () => {
    expect(spec.given().state.value).toBe('idle');
    const open = spec.given([openedEvent]).state;
    expect(open.value).toBe('open');
    expect(open.context).toEqual({
      connectionId: 'c-1',
      codec: 'msgpack',
      transport: 'socket.io',
      remoteAddress: '192.0.2.10',
      openedAt: T0,
      closedAt: null,
      closeCode: null,
      closeReason: null,
    });
    const done = spec.given([openedEvent, closedEvent]).state;
    expect(done.value).toBe('closed');
    expect(done.status).toBe('done');
    expect(done.context).toMatchObject({ connectionId: 'c-1', closedAt: T0 + 1, closeCode: 1000, closeReason: 'bye' });
  });

  it('ignores events that do not fit the state', () => {
    expect(spec.given([closedEvent]).state.value).toBe('idle');
    expect(spec.given([openedEvent, openedEvent]).state.context.openedAt).toBe(T0);
    expect(spec.given([openedEvent, closedEvent, openedEvent]).state.value).toBe('closed');
  });
});

describe('decideConnection', () => {
  describe('OpenConnection', () => {
    it('given nothing, opens the connection with every field of the command', () => {
      spec.given().when(openCommand).then([openedEvent]);
    });

    it('keeps null user agent and origin as null', () => {
      const [event] = spec.given().when({ ...openCommand, userAgent: null, origin: null }).events;
      expect(event!.data).toMatchObject({ userAgent: null, origin: null });
    });

    it('given an open connection, is refused with CONFLICT', () => {
      spec.given([openedEvent]).when(openCommand).thenThrows('CONFLICT');
    });

    it('given a closed connection, is refused with CONFLICT', () => {
      spec.given([openedEvent, closedEvent]).when(openCommand).thenThrows('CONFLICT');
    });
  });

  describe('CloseConnection', () => {
    it('given an open connection, closes it with id and codec from its history', () => {
      spec
        .given([openedEvent])
        .when(closeCommand)
        .then([
          {
            type: 'ConnectionClosed',
            data: {
              connectionId: 'c-1',
              codec: 'msgpack',
              code: 4008,
              reason: 'slow consumer',
              unclean: false,
              framesIn: 10,
              framesOut: 12,
              closedAt: T0 + 60_000,
            },
          },
        ]);
    });

    it('carries unclean: true for connections found open at start', () => {
      const [event] = spec.given([openedEvent]).when({ ...closeCommand, unclean: true }).events;
      expect(event!.data).toMatchObject({ unclean: true });
    });

    it('given a closed connection, decides nothing (closing twice is not history)', () => {
      spec.given([openedEvent, closedEvent]).when(closeCommand).then([]);
    });

    it('given nothing, decides nothing', () => {
      spec.given().when(closeCommand).then([]);
    });
  });

  it('is pure: same input, same output, and neither command nor snapshot is changed', () => {
    const opened = spec.given([openedEvent]);
    const snapshot = opened.state;
    const contextBefore = structuredClone(snapshot.context);
    const command = structuredClone(closeCommand);
    const first = opened.when(command).events;
    const second = opened.when(command).events;
    expect(second).toEqual(first);
    expect(first).not.toBe(second);
    expect(snapshot.value).toBe('open');
    expect(snapshot.context).toEqual(contextBefore);
    expect(command).toEqual(closeCommand);
  });
});

describe('decideConnection in a cluster (PROTOCOL.md section 12)', () => {
  const onNode = (node: string): ConnectionEvent => ({ ...openedEvent, data: { ...openedEvent.data, node, resumeDigest: 'D1' } } as ConnectionEvent);
  const resume = { type: 'ResumeConnection', carrier: 'c-2', remoteAddress: '192.0.2.11', since: 7, replacedSocket: false, now: T0 + 5 } as const;

  it('records the resume digest with the open, and a resume on another node moves the connection there with its new digest', () => {
    const [opened] = spec.given().when({ ...openCommand, node: 'node-a', resumeDigest: 'D1' }).events;
    expect(opened!.data).toMatchObject({ node: 'node-a', resumeDigest: 'D1' });
    const moved = spec.given([onNode('node-a')]).when({ ...resume, node: 'node-b', resumeDigest: 'D2', fromNode: 'node-a' });
    expect(moved.events).toMatchObject([{ type: 'ConnectionResumed', data: { node: 'node-b', resumeDigest: 'D2' } }]);
    expect(moved.after.state.context).toMatchObject({ node: 'node-b', resumeDigest: 'D2', remoteAddress: '192.0.2.11' });
  });

  it('refuses an adoption from a node the connection is no longer on (another node won) with CONFLICT', () => {
    spec.given([onNode('node-c')]).when({ ...resume, node: 'node-b', fromNode: 'node-a' }).thenThrows('CONFLICT');
  });

  it('pins an open connection once; a detached or closed one is not pinned', () => {
    const pin = { type: 'PinConnection', topic: 'consumer_event_get', now: T0 + 2 } as const;
    const pinned = spec.given([onNode('node-a')]).when(pin);
    expect(pinned.events).toEqual([{ type: 'ConnectionPinned', data: { connectionId: 'c-1', topic: 'consumer_event_get', pinnedAt: T0 + 2 } }]);
    expect(pinned.after.state.context.pinned).toBe(true);
    spec.given([onNode('node-a'), ...pinned.events]).when(pin).then([]);
    spec.given([onNode('node-a'), closedEvent]).when(pin).then([]);
  });

  it('decides nothing for a lost node when the connection has moved: no detach, no close', () => {
    const moved: ConnectionEvent = { type: 'ConnectionResumed', data: { connectionId: 'c-1', carrier: 'c-2', remoteAddress: 'x', since: 0, replacedSocket: false, resumedAt: T0, node: 'node-b' } };
    spec.given([onNode('node-a'), moved]).when({ type: 'DetachConnection', code: 1006, reason: 'node lost', framesIn: 0, framesOut: 0, until: T0 + 1, ifOnNode: 'node-a', now: T0 }).then([]);
    spec.given([onNode('node-a'), moved]).when({ ...closeCommand, ifOnNode: 'node-a' }).then([]);
    expect(spec.given([onNode('node-a')]).when({ ...closeCommand, ifOnNode: 'node-a' }).events).toHaveLength(1);
  });
});

describe('decideConnection: a pinned connection does not move', () => {
  it('refuses an adoption by another node with CONFLICT, and allows its own node to resume it', () => {
    const opened: ConnectionEvent = { ...openedEvent, data: { ...openedEvent.data, node: 'node-a', resumeDigest: 'D1' } } as ConnectionEvent;
    const pinned: ConnectionEvent = { type: 'ConnectionPinned', data: { connectionId: 'c-1', topic: 'consumer_event_get', pinnedAt: T0 } };
    const resume = { type: 'ResumeConnection', carrier: 'c-2', remoteAddress: '192.0.2.11', since: 0, replacedSocket: false, now: T0 + 5 } as const;
    spec.given([opened, pinned]).when({ ...resume, node: 'node-b', fromNode: 'node-a' }).thenThrows('CONFLICT', 'a pinned connection cannot move to another node');
    expect(spec.given([opened, pinned]).when({ ...resume, resumeDigest: 'D2', fromNode: 'node-a' }).events).toHaveLength(1);
  });
});
