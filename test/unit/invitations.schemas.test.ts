import { describe, expect, it } from 'vitest';
import { validate } from '../../src/runtime/topic-handler.js';
import { webrtcAddSchema, webrtcRemoveSchema } from '../../src/protocol/topics/invitations.js';

const ITEM = '5f0c1d4e-6a7b-4c8d-9e0f-112233445566';
const add = { name: 'client_webrtc_add', schema: webrtcAddSchema(3), handle: () => undefined };
const remove = { name: 'client_webrtc_remove', schema: webrtcRemoveSchema(3), handle: () => undefined };

/** The refused field paths of a frame's data, as the client's error answer lists them. */
function refused(topic: typeof add | typeof remove, data: unknown): string[] {
  try {
    validate(topic, data);
  } catch (error) {
    const details = (error as { code: string; details: { errors: { path: string }[] } });
    expect(details.code).toBe('BAD_REQUEST');
    return details.details.errors.map((entry) => entry.path);
  }
  throw new Error('accepted');
}

const ok = { id: ITEM, data: { emails: ['ada@example.org'], baseURL: 'https://gw.example/guest' } };

describe('invitation topic schemas', () => {
  it('accepts a good command, lower-cases addresses', () => {
    const parsed = validate(add, { ...ok, data: { ...ok.data, emails: ['Ada@Example.org'], title: 'Review', names: { 'ada@example.org': 'Ada' } } });
    expect(parsed.data.emails).toEqual(['ada@example.org']);
  });

  it('malformed addresses are named by index', () => {
    expect(refused(add, { ...ok, data: { ...ok.data, emails: ['ada@example.org', 'not-an-address'] } })).toEqual(['data.emails.1']);
    expect(refused(add, { ...ok, data: { ...ok.data, emails: [`${'a'.repeat(250)}@example.org`] } })).toContain('data.emails.0');
    expect(refused(add, { ...ok, data: { ...ok.data, emails: ['ada@example.org\r\nBcc: eve@example.org'] } })).toContain('data.emails.0');
    expect(refused(add, { ...ok, data: { ...ok.data, emails: [] } })).toEqual(['data.emails']);
  });

  it('a duplicate (case-insensitively) is named at its second place', () => {
    expect(refused(add, { ...ok, data: { ...ok.data, emails: ['ada@example.org', 'bob@example.org', 'ADA@example.org'] } })).toEqual(['data.emails.2']);
    expect(refused(remove, { id: ITEM, data: { emails: ['bob@example.org', 'bob@example.org'] } })).toEqual(['data.emails.1']);
  });

  it('too many invitees in one command', () => {
    const emails = ['a@example.org', 'b@example.org', 'c@example.org', 'd@example.org'];
    expect(refused(add, { ...ok, data: { ...ok.data, emails } })).toEqual(['data.emails']);
  });

  it('CR/LF in titles and names (header injection) are refused', () => {
    expect(refused(add, { ...ok, data: { ...ok.data, title: 'Review\r\nBcc: eve@example.org' } })).toEqual(['data.title']);
    expect(refused(add, { ...ok, data: { ...ok.data, title: 'x'.repeat(201) } })).toEqual(['data.title']);
    expect(refused(add, { ...ok, data: { ...ok.data, names: { 'ada@example.org': 'Ada\nBcc: eve@example.org' } } })).toEqual(['data.names.ada@example.org']);
  });

  it('baseURL must be an http(s) URL of bounded length', () => {
    for (const baseURL of ['javascript:alert(1)', 'ftp://gw.example/guest', 'not a url', `https://gw.example/${'x'.repeat(2048)}`, 'https://gw.example/\r\nx']) {
      expect(refused(add, { ...ok, data: { ...ok.data, baseURL } })).toEqual(['data.baseURL']);
    }
    expect(refused(add, { ...ok, data: { emails: ok.data.emails } })).toEqual(['data.baseURL']);
  });

  it('the item id must be a UUID', () => {
    expect(refused(add, { ...ok, id: 'item-1' })).toEqual(['id']);
  });
});
