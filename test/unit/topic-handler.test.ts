import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../../src/core/errors.js';
import { ANONYMOUS, type Principal } from '../../src/core/types.js';
import type { OutboundFrame } from '../../src/protocol/index.js';
import { defineCommandTopic, defineTopic, runTopic, splitCommandTopic, type TopicClient } from '../../src/runtime/index.js';
import { extreamErrorData, httpErrorResponse, rpcErrorOf, topicErrorFrame } from '../../src/edge/replies.js';

/** The topic pipeline (runtime/topic-handler.ts) and the one error map (edge/replies.ts). */

class FakeClient implements TopicClient {
  readonly sent: OutboundFrame[] = [];
  principal: Principal = ANONYMOUS;
  constructor(readonly id = 'peer-1') {}
  send(frame: OutboundFrame): void {
    this.sent.push(frame);
  }
}

const frame = (event: string, data: unknown, id?: number) => ({ event, data, id });

describe('runTopic', () => {
  const echo = defineTopic({
    name: 'echo',
    schema: z.object({ text: z.string().min(1) }),
    handle: ({ client, data, id, actor, correlationId, now }) => client.send({ event: 'echo', data: { text: data.text, actor, correlationId, now }, id }),
  });

  it('validates with the schema, then hands typed data, actor, correlation id and now to the handler', () => {
    const client = new FakeClient();
    runTopic(echo, client, frame('echo', { text: 'hi' }, 7), 1000);
    expect(client.sent).toEqual([{ event: 'echo', id: 7, data: { text: 'hi', actor: 'connection:peer-1', correlationId: 'peer-1:7', now: 1000 } }]);
  });

  it('refuses data that fails the schema with BAD_REQUEST naming the field, before the handler runs', () => {
    const client = new FakeClient();
    expect(() => runTopic(echo, client, frame('echo', { text: '' }), 0)).toThrow(AppError);
    try {
      runTopic(echo, client, frame('echo', { text: 5 }), 0);
    } catch (error) {
      expect((error as AppError).code).toBe('BAD_REQUEST');
      expect((error as AppError).message).toMatch(/^echo: text: /);
      expect((error as AppError).details).toMatchObject({ errors: [{ path: 'text' }] });
    }
    expect(client.sent).toEqual([]);
  });

  it('runs authorize before the handler', () => {
    const guarded = defineTopic({
      name: 'guarded',
      authorize: (client) => {
        if (client.principal.kind === 'anonymous') throw new AppError('UNAUTHORIZED', 'Token is not valid');
      },
      handle: ({ client }) => client.send({ event: 'ok', data: null }),
    });
    const client = new FakeClient();
    expect(() => runTopic(guarded, client, frame('guarded', null), 0)).toThrow(/Token is not valid/);
    expect(client.sent).toEqual([]);
  });

  it("takes Extream's payload.correlationId as the correlation id", () => {
    const client = new FakeClient();
    const seen: string[] = [];
    runTopic(defineTopic({ name: 't', handle: ({ correlationId }) => void seen.push(correlationId) }), client, frame('t', { payload: { correlationId: 'c-42' } }), 0);
    expect(seen).toEqual(['c-42']);
  });
});

describe('the guest gate (runTopic)', () => {
  const guest: Principal = { kind: 'guest', invitationId: 'inv-1', itemId: 'item-1', room: 'call-1', organisationId: 'org-1', email: 'g@example.com', name: null };
  const user: Principal = { kind: 'user', userId: 'u1', organisationId: 'org-1', groups: [], external: false };
  const clientAs = (principal: Principal) => {
    const client = new FakeClient();
    client.principal = principal;
    return client;
  };
  const refusalOf = (run: () => unknown): AppError => {
    try {
      run();
    } catch (error) {
      return error as AppError;
    }
    throw new Error('expected a refusal');
  };
  const schema = z.object({ room: z.string() });

  it('refuses a guest on a topic that does not admit guests, before authorize and handle, as FORBIDDEN reason unauthorized', () => {
    const calls: string[] = [];
    const closed = defineTopic({ name: 'closed', schema, authorize: () => void calls.push('authorize'), handle: () => void calls.push('handle') });
    const error = refusalOf(() => runTopic(closed, clientAs(guest), frame('closed', { room: 'call-1' }), 0));
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'FORBIDDEN', message: 'a guest may only join the item it was invited to', details: { reason: 'unauthorized' } });
    expect(calls).toEqual([]);
    // The Extream reject style turns it into section 8's refusal.
    expect(extreamErrorData(error)).toEqual({ status: 403, error: error.message, meta: { permitted: false, reason: 'unauthorized' } });
  });

  it('admits a guest when admitGuest says so for this data (validated first), refuses it when it says no', () => {
    const seen: unknown[] = [];
    const own = defineTopic({ name: 'own', schema, admitGuest: (principal, data) => data.room === principal.room, handle: ({ data }) => void seen.push(data) });
    runTopic(own, clientAs(guest), frame('own', { room: 'call-1' }), 0);
    expect(seen).toEqual([{ room: 'call-1' }]);
    expect(refusalOf(() => runTopic(own, clientAs(guest), frame('own', { room: 'elsewhere' }), 0)).code).toBe('FORBIDDEN');
    // Bad data is a bad request, whoever sends it: the schema runs before the gate.
    expect(refusalOf(() => runTopic(own, clientAs(guest), frame('own', { room: 5 }), 0)).code).toBe('BAD_REQUEST');
    expect(seen).toHaveLength(1);
  });

  it('leaves everyone else alone: users and anonymous sockets run topics without admitGuest as before', () => {
    const seen: string[] = [];
    const closed = defineTopic({ name: 'closed', handle: ({ client }) => void seen.push(client.principal.kind) });
    runTopic(closed, clientAs(user), frame('closed', null), 0);
    runTopic(closed, clientAs(ANONYMOUS), frame('closed', null), 0);
    const refusing = defineTopic({ name: 'refusing', admitGuest: () => false, handle: ({ client }) => void seen.push(client.principal.kind) });
    runTopic(refusing, clientAs(user), frame('refusing', null), 0);
    expect(seen).toEqual(['user', 'anonymous', 'user']);
  });

  it('defineCommandTopic passes admitGuest through; without it, guests get the Extream refusal from the pipeline', async () => {
    const open = defineCommandTopic({ name: 'consumer_webrtc_get', serviceTopic: 'ex-manage', requiresLogin: false, admitGuest: () => true, execute: async () => ({ response: 'ok' }) });
    const client = clientAs(guest);
    await runTopic(open, client, frame('consumer_webrtc_get', {}, 1), 0);
    expect(client.sent[0]).toMatchObject({ data: { status: 200, response: 'ok' } });
    const closed = defineCommandTopic({ name: 'admin_event_read', serviceTopic: 'ex-manage', requiresLogin: true, execute: async () => ({ response: 'secret' }) });
    expect(closed.admitGuest).toBeUndefined();
    expect(refusalOf(() => runTopic(closed, clientAs(guest), frame('admin_event_read', {}), 0)).code).toBe('FORBIDDEN');
  });
});

describe("Extream's two answers (defineCommandTopic)", () => {
  it('splits the topic name into domain, action and command', () => {
    expect(splitCommandTopic('admin_event_create')).toEqual({ domain: 'admin', action: 'event', command: 'create' });
    expect(splitCommandTopic('consumer_online_users')).toEqual({ domain: 'consumer', action: 'online', command: 'users' });
  });

  it('sends the receipt once the change is in the log, then the result', async () => {
    const topic = defineCommandTopic({
      name: 'admin_event_create',
      serviceTopic: 'ex-manage',
      requiresLogin: true,
      schema: z.object({ name: z.string() }),
      execute: async ({ data }) => ({ position: 41, status: 201, response: { id: 'e-1', name: data.name } }),
    });
    const client = new FakeClient();
    await runTopic(topic, client, frame('admin_event_create', { name: 'Launch' }, 3), 0);
    expect(client.sent).toEqual([
      { event: 'admin_event_create', id: 3, data: { status: 202, topic: 'ex-manage', messageId: 41 }, interim: true },
      {
        event: 'admin_event_create',
        id: 3,
        data: { status: 201, domain: 'admin', action: 'event', command: 'create', meta: { permitted: true, message: 'success', requiresLogin: true }, response: { id: 'e-1', name: 'Launch' } },
      },
    ]);
  });

  it('skips the receipt for reads and answers on the correlation id when the client set one', async () => {
    const topic = defineCommandTopic({ name: 'consumer_event_get', serviceTopic: 'ex-manage', requiresLogin: false, execute: async () => ({ response: [] }) });
    const client = new FakeClient();
    await runTopic(topic, client, frame('consumer_event_get', { payload: { correlationId: 'abc' } }), 0);
    expect(client.sent).toHaveLength(1);
    expect(client.sent[0]).toMatchObject({ event: 'abc', data: { status: 200, response: [] } });
  });
});

describe('edge/replies.ts', () => {
  const client = new FakeClient();
  it('maps an error to the generic error frame, a named reject, or the Extream shape', () => {
    const forbidden = new AppError('FORBIDDEN', 'not yours');
    expect(topicErrorFrame(undefined, forbidden, 5, null, client)).toEqual({ event: 'error', id: 5, data: { code: 'FORBIDDEN', message: 'not yours' } });
    const named = defineTopic({ name: 'room-create-request', reject: { kind: 'event', event: 'room-create-reject', fields: (data) => ({ room: (data as { room: string }).room }) }, handle: () => {} });
    expect(topicErrorFrame(named, new AppError('CONFLICT', 'taken'), 2, { room: 'r' }, client)).toEqual({ event: 'room-create-reject', id: 2, data: { room: 'r', message: 'taken', code: 'CONFLICT' } });
    const extream = defineCommandTopic({ name: 'admin_event_update', serviceTopic: 'ex-manage', requiresLogin: true, execute: async () => ({ response: null }) });
    expect(topicErrorFrame(extream, forbidden, undefined, {}, client)).toEqual({ event: 'admin_event_update', id: undefined, data: { status: 403, error: 'not yours', meta: { permitted: false, reason: 'unauthorized' } } });
  });

  it('gives Extream bad requests status 400 with the field errors', () => {
    const error = new AppError('BAD_REQUEST', 'name: too short', { errors: [{ path: 'name', message: 'too short' }] });
    expect(extreamErrorData(error)).toEqual({ status: 400, error: 'name: too short', meta: { permitted: true, message: 'bad_request' }, response: { errors: [{ path: 'name', message: 'too short' }] } });
  });

  it('never shows the message of an error that is not an AppError, in any form', () => {
    const bug = new Error('SQLITE_CORRUPT at /data/switchyard.db');
    expect(topicErrorFrame(undefined, bug, 1, null, client).data).toEqual({ code: 'INTERNAL', message: 'internal error' });
    expect(JSON.stringify(httpErrorResponse(bug))).not.toMatch(/SQLITE|data/);
    expect(httpErrorResponse(bug).status).toBe(500);
    expect(rpcErrorOf(bug)).toEqual({ code: -32603, message: 'internal error', data: { code: 'INTERNAL' } });
    expect(JSON.stringify(extreamErrorData(bug))).not.toMatch(/SQLITE/);
  });
});
