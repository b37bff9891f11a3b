import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../../src/core/errors.js';
import { RpcDispatcher, parseRpcBody, rpcMethod, type CallOutcome, type RpcEntry } from '../../src/protocol/jsonrpc.js';
import { rpcErrorOf } from '../../src/edge/replies.js';
import { extendSfuConfig, mergeMissing, recommendedSfuConfig } from '../../src/modules/grid/sfu-config.js';
import { parse } from 'smol-toml';

const entry = (value: unknown): RpcEntry => {
  const parsed = parseRpcBody(JSON.stringify(value), 10);
  if (parsed.kind !== 'single') throw new Error(`expected a single call, got ${parsed.kind}`);
  return parsed.entry;
};

describe('JSON-RPC envelopes', () => {
  it('parses single calls, batches and notifications', () => {
    expect(parseRpcBody('{"jsonrpc":"2.0","method":"A","params":{"x":1},"id":7}', 10)).toEqual({
      kind: 'single',
      entry: { ok: true, request: { method: 'A', params: { x: 1 }, id: 7 } },
    });
    const batch = parseRpcBody('[{"jsonrpc":"2.0","method":"A","id":"a"},{"jsonrpc":"2.0","method":"B"}]', 10);
    expect(batch.kind).toBe('batch');
    if (batch.kind === 'batch') expect(batch.entries.map((item) => item.ok && 'id' in item.request)).toEqual([true, false]);
  });

  it('answers unusable bodies with one error: parse error, empty batch, oversized batch', () => {
    expect(parseRpcBody('{"jsonrpc":', 10)).toMatchObject({ kind: 'invalid', response: { id: null, error: { code: -32700 } } });
    expect(parseRpcBody('[]', 10)).toMatchObject({ kind: 'invalid', response: { error: { code: -32600, message: 'empty batch' } } });
    expect(parseRpcBody(JSON.stringify(Array(11).fill({ jsonrpc: '2.0', method: 'A', id: 1 })), 10)).toMatchObject({
      kind: 'invalid',
      response: { error: { code: -32600 } },
    });
  });

  it.each([
    ['not an object', 5, null],
    ['wrong version', { jsonrpc: '1.0', method: 'A', id: 3 }, 3],
    ['no method', { jsonrpc: '2.0', id: 4 }, 4],
    ['method not a string', { jsonrpc: '2.0', method: 9, id: 'x' }, 'x'],
    ['params a string', { jsonrpc: '2.0', method: 'A', params: 'p', id: 5 }, 5],
    ['id an object', { jsonrpc: '2.0', method: 'A', id: {} }, null],
  ])('marks invalid requests (%s) with -32600 and the id when usable', (_name, value, id) => {
    expect(entry(value)).toMatchObject({ ok: false, response: { id, error: { code: -32600, data: { code: 'BAD_REQUEST' } } } });
  });

  it('maps stable error codes to JSON-RPC codes and hides internal errors', () => {
    expect(rpcErrorOf(new AppError('UNAUTHORIZED', 'no'))).toEqual({ code: -32001, message: 'no', data: { code: 'UNAUTHORIZED' } });
    expect(rpcErrorOf(new AppError('FORBIDDEN', 'no')).code).toBe(-32003);
    expect(rpcErrorOf(new AppError('NOT_FOUND', 'no')).code).toBe(-32004);
    expect(rpcErrorOf(new AppError('LIMIT_EXCEEDED', 'no', { limit: 'maxRooms' }))).toEqual({
      code: -32029,
      message: 'no',
      data: { code: 'LIMIT_EXCEEDED', limit: 'maxRooms' },
    });
    expect(rpcErrorOf(new Error('SQLITE_BUSY at /data/x.db'))).toEqual({ code: -32603, message: 'internal error', data: { code: 'INTERNAL' } });
  });
});

describe('the dispatcher', () => {
  const calls: CallOutcome[] = [];
  const dispatcher = new RpcDispatcher<{ allowed: string[] }>(
    [
      rpcMethod('Echo', z.object({ text: z.string() }), (params) => ({ echo: params.text })),
      rpcMethod('Fail', z.object({}), () => {
        throw new Error('secret internals');
      }),
      rpcMethod('Nothing', z.object({}), () => undefined),
    ],
    rpcErrorOf,
    {
      authorize(method, context) {
        if (!context.allowed.includes(method.name)) throw new AppError('FORBIDDEN', `not allowed: ${method.name}`);
      },
      observe: (call) => calls.push(call),
    },
  );
  const context = { allowed: ['Echo', 'Fail', 'Nothing'] };

  it('runs a method with validated params', async () => {
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Echo', params: { text: 'hi' }, id: 1 }), context)).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { echo: 'hi' },
    });
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Nothing', id: 2 }), context)).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
  });

  it('answers notifications with nothing, whatever happens', async () => {
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Echo', params: { text: 'hi' } }), context)).toBeUndefined();
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Fail' }), context)).toBeUndefined();
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Unknown' }), context)).toBeUndefined();
  });

  it('bad params are -32602 with the issues; positional params are refused', async () => {
    const answer = await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Echo', params: { text: 5 }, id: 3 }), context);
    expect(answer).toMatchObject({ id: 3, error: { code: -32602, data: { code: 'BAD_REQUEST', issues: [{ path: 'text' }] } } });
    expect((answer as { error: { message: string } }).error.message).toMatch(/^invalid params: text: /);
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Echo', params: ['hi'], id: 4 }), context)).toMatchObject({
      error: { code: -32602, message: 'params must be an object (by name)' },
    });
  });

  it('unknown methods are -32601, refused ones -32003, failures -32603 without internals', async () => {
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Nope', id: 5 }), context)).toMatchObject({ error: { code: -32601 } });
    expect(await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Echo', params: { text: 'x' }, id: 6 }), { allowed: [] })).toMatchObject({
      error: { code: -32003, message: 'not allowed: Echo' },
    });
    const failed = await dispatcher.call(entry({ jsonrpc: '2.0', method: 'Fail', id: 7 }), context);
    expect(failed).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32603, message: 'internal error', data: { code: 'INTERNAL' } } });
    expect(calls.filter((call) => call.method === 'Fail').map((call) => call.outcome)).toContain('failure');
    expect(calls.find((call) => call.method === 'Echo' && call.outcome === 'rejected')).toBeDefined();
  });
});

describe('GridConfig TOML', () => {
  const recommended = recommendedSfuConfig({ reportIntervalSeconds: 5, metricsAllowed: ['10.0.0.0/8'] });
  const key = { kid: 'AkEy', kty: 'OKP', crv: 'Ed25519', x: 'x'.repeat(43) };

  it("keeps the server's own settings, adds the recommended ones and the server key", () => {
    const toml = extendSfuConfig('[supervisor]\nreport_interval = 1000\n[metrics]\nallowed = ["192.168.0.0/16"]\n', recommended, key);
    const config = parse(toml) as Record<string, any>;
    expect(config.supervisor.report_interval).toBe(1000);
    expect(config.quic).toMatchObject({ keep_alive_interval: 5000, migration: true });
    expect(config.metrics.allowed).toEqual(['192.168.0.0/16', '10.0.0.0/8']);
    expect(config.metrics.allowed).not.toContain('0.0.0.0/0');
    expect(config.authorization.keys).toEqual([key]);
  });

  it('asking twice does not pile up keys or list entries', () => {
    const once = extendSfuConfig('', recommended, key);
    const twice = parse(extendSfuConfig(once, recommended, key)) as Record<string, any>;
    expect(twice.authorization.keys).toEqual([key]);
    expect(twice.metrics.allowed).toEqual(['10.0.0.0/8']);
  });

  it('refuses a config that is not TOML, naming where', () => {
    expect(() => extendSfuConfig('[quic\nbinding = 1', recommended, key)).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringMatching(/^config is not valid TOML/) }),
    );
  });

  it('mergeMissing never overwrites a value the server set', () => {
    expect(mergeMissing({ a: 1, b: { c: 2 } }, { a: 9, b: { c: 9, d: 3 }, e: 4 })).toEqual({ a: 1, b: { c: 2, d: 3 }, e: 4 });
  });
});
