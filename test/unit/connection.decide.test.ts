import { initialTransition, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  connectionMachine,
  decideConnection,
  type CloseConnection,
  type ConnectionEvent,
  type ConnectionSnapshot,
  type OpenConnection,
} from '../../src/modules/connections/domain/index.js';

/**
 * decide() against snapshots: given past events (folded by the machine with XState's pure
 * `transition`, no actor, no store), when a command, then the events or the error.
 */

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

/** The state after `history`, computed purely. */
function given(...history: ConnectionEvent[]): ConnectionSnapshot {
  let [snapshot] = initialTransition(connectionMachine);
  for (const event of history) [snapshot] = transition(connectionMachine, snapshot, event);
  return snapshot;
}

function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected decide to refuse the command');
}

describe('connection evolve (the machine)', () => {
  it('folds history into state', () => {
    expect(given().value).toBe('idle');
    const open = given(openedEvent);
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
    const done = given(openedEvent, closedEvent);
    expect(done.value).toBe('closed');
    expect(done.status).toBe('done');
    expect(done.context).toMatchObject({ connectionId: 'c-1', closedAt: T0 + 1, closeCode: 1000, closeReason: 'bye' });
  });

  it('ignores events that do not fit the state', () => {
    expect(given(closedEvent).value).toBe('idle');
    expect(given(openedEvent, openedEvent).context.openedAt).toBe(T0);
    expect(given(openedEvent, closedEvent, openedEvent).value).toBe('closed');
  });
});

describe('decideConnection', () => {
  describe('OpenConnection', () => {
    it('given nothing, opens the connection with every field of the command', () => {
      expect(decideConnection(openCommand, given())).toEqual([openedEvent]);
    });

    it('keeps null user agent and origin as null', () => {
      const [event] = decideConnection({ ...openCommand, userAgent: null, origin: null }, given());
      expect(event!.data).toMatchObject({ userAgent: null, origin: null });
    });

    it('given an open connection, is refused with CONFLICT', () => {
      const error = refusal(() => decideConnection(openCommand, given(openedEvent)));
      expect(error.code).toBe('CONFLICT');
    });

    it('given a closed connection, is refused with CONFLICT', () => {
      const error = refusal(() => decideConnection(openCommand, given(openedEvent, closedEvent)));
      expect(error.code).toBe('CONFLICT');
    });
  });

  describe('CloseConnection', () => {
    it('given an open connection, closes it with id and codec from its history', () => {
      expect(decideConnection(closeCommand, given(openedEvent))).toEqual([
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
      const [event] = decideConnection({ ...closeCommand, unclean: true }, given(openedEvent));
      expect(event!.data).toMatchObject({ unclean: true });
    });

    it('given a closed connection, decides nothing (closing twice is not history)', () => {
      expect(decideConnection(closeCommand, given(openedEvent, closedEvent))).toEqual([]);
    });

    it('given nothing, decides nothing', () => {
      expect(decideConnection(closeCommand, given())).toEqual([]);
    });
  });

  it('is pure: same input, same output, and neither command nor snapshot is changed', () => {
    const snapshot = given(openedEvent);
    const contextBefore = structuredClone(snapshot.context);
    const command = structuredClone(closeCommand);
    const first = decideConnection(command, snapshot);
    const second = decideConnection(command, snapshot);
    expect(second).toEqual(first);
    expect(first).not.toBe(second);
    expect(snapshot.value).toBe('open');
    expect(snapshot.context).toEqual(contextBefore);
    expect(command).toEqual(closeCommand);
  });
});
