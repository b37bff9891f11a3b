import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abuseStage, uncaughtErrors, type AbuseStage } from '../helpers/abuse.js';
import type { TestGateway } from '../helpers/gateway.js';
import { RawEngineSocket } from '../helpers/raw-engineio.js';
import type { Peer } from '../helpers/rooms.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Hardening issue, point 1: one ~100-byte anonymous text frame with a bad escape or a raw
 * control character in `room`, `to` or `id` reached an unguarded JSON.parse on the relay's
 * fast path and ended the process. Each variant must be answered BAD_REQUEST (the frame is
 * not JSON), never reach the last-resort guard, and leave everyone else served.
 */

const CRASH_FRAME = String.raw`{"event":"relay-ice-candidate","data":{"room":"a\qb","to":"xxxxxxxx","ice_candidate":{"candidate":"x"}}}`;

const body = (field: 'ice_candidate' | 'session_description') => (field === 'ice_candidate' ? '{"candidate":"x"}' : '{"type":"offer","sdp":"v=0"}');

interface Variant {
  name: string;
  event: string;
  /** The raw JSON text of `data` (or of the envelope's `id`), bad string included. */
  data: string;
  id?: string;
}

const nativeText = ({ event, data, id }: Variant) => `{"event":"${event}","data":${data}${id === undefined ? '' : `,"id":${id}`}}`;
const socketIoText = ({ event, data, id }: Variant) => `42["${event}",${data}${id === undefined ? '' : `,${id}`}]`;

/** The probe's frame and its variants: every small field, both relay events, both kinds of bad string. */
function variants(room = 'room-x', to = 'xxxxxxxx'): Variant[] {
  const out: Variant[] = [{ name: 'the probe frame', event: 'relay-ice-candidate', data: String.raw`{"room":"a\qb","to":"xxxxxxxx","ice_candidate":{"candidate":"x"}}` }];
  const bad: [string, string][] = [
    ['a bad escape', String.raw`a\qb`],
    ['a raw control character', 'a\u0001b'],
    ['a raw newline', 'a\nb'],
    ['a short \\u escape', String.raw`a\u12`],
    ['a \\u escape with a non-hex digit', String.raw`a\u12zz`],
    ['a lone backslash before the closing quote', 'ab\\\\\\'],
  ];
  for (const event of ['relay-ice-candidate', 'relay-session-description'] as const) {
    const field = event === 'relay-ice-candidate' ? 'ice_candidate' : 'session_description';
    for (const [what, value] of bad) {
      out.push({ name: `${event}: room with ${what}`, event, data: `{"room":"${value}","to":"${to}","${field}":${body(field)}}` });
      out.push({ name: `${event}: to with ${what}`, event, data: `{"room":"${room}","to":"${value}","${field}":${body(field)}}` });
      out.push({ name: `${event}: id with ${what}`, event, data: `{"room":"${room}","to":"${to}","${field}":${body(field)}}`, id: `"${value}"` });
      out.push({ name: `${event}: auth with ${what}`, event, data: `{"room":"${room}","to":"${to}","auth":"${value}","${field}":${body(field)}}` });
      out.push({ name: `${event}: forwarded body with ${what}`, event, data: `{"room":"${room}","to":"${to}","${field}":{"candidate":"${value}"}}` });
      out.push({ name: `${event}: payload with ${what}`, event, data: `{"room":"${room}","to":"${to}","${field}":${body(field)},"payload":"${value}"}` });
    }
  }
  return out;
}

describe('crash frames (hardening point 1)', () => {
  let server: TestGateway;
  let control: TestClient;
  let owner: Peer;
  let member: Peer;
  let stage: AbuseStage;
  beforeAll(async () => {
    stage = await abuseStage();
    ({ server, control, owner, member } = stage);
  });
  afterAll(() => stage.close());

  it('the probe frame is the one the issue names, byte for byte', () => {
    expect(nativeText(variants()[0]!)).toBe(CRASH_FRAME);
    for (const variant of variants()) expect(() => JSON.parse(nativeText(variant))).toThrow();
  });

  it.each(variants())('answers $name from an anonymous socket with BAD_REQUEST', async (variant) => {
    const client = await TestClient.connect(server.wsUrl());
    client.sendRaw(nativeText(variant), false);
    const error = await client.next('error');
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await client.request('ping', undefined, 2)).toMatchObject({ event: 'pong', id: 2 });
    expect(await control.request('ping', undefined, 3)).toMatchObject({ event: 'pong', id: 3 });
    client.close();
  });

  it('answers every variant from a room member aimed at another member with BAD_REQUEST, and nothing reaches the target', async () => {
    const cases = variants('room-x', member.peerId);
    for (const variant of cases) owner.client.sendRaw(nativeText(variant), false);
    for (let index = 0; index < cases.length; index++) expect((await owner.client.next('error')).data).toMatchObject({ code: 'BAD_REQUEST' });
    // The member got none of them: its next frame is the answer to its own ping.
    expect(await member.client.request('ping', undefined, 9)).toMatchObject({ event: 'pong', id: 9 });
    expect(member.client.frames.filter((frame) => frame.event === 'ice-candidate' || frame.event === 'session-description')).toEqual([]);
    // A well-formed relay still goes through on the same sockets.
    owner.client.sendJson({ event: 'relay-ice-candidate', data: { room: 'room-x', to: member.peerId, ice_candidate: { candidate: 'ok' } } });
    expect((await member.client.next('ice-candidate')).data).toMatchObject({ ice_candidate: { candidate: 'ok' } });
  });

  it('answers every variant over Socket.IO (v4 and v3) and keeps the session', async () => {
    for (const version of [4, 3] as const) {
      const socket = await RawEngineSocket.open(server.port, '/socket.io/', { version });
      expect(await socket.nextText()).toMatch(/^0\{/);
      if (version === 4) socket.send('40');
      expect(await socket.nextText()).toMatch(/^40/);
      for (const variant of variants()) socket.send(socketIoText(variant));
      // Nothing breaks the session: a ping with an ack still gets its pong.
      socket.send('421["ping"]');
      for (;;) {
        const message = await socket.nextText();
        if (message.startsWith('431')) break;
      }
      expect(socket.closed).toBeUndefined();
      socket.close();
    }
    expect(await control.request('ping', undefined, 4)).toMatchObject({ event: 'pong', id: 4 });
  });

  it('never reached the last-resort guard', async () => {
    expect(await uncaughtErrors(server)).toBe(0);
  });
});
