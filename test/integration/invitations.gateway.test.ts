import ICAL from 'ical.js';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/child-gateway.js';
import { until } from '../helpers/conditions.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, connect, createUsers, login, startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';
import { smtpListener } from '../helpers/smtp.js';
import type { TestClient } from '../helpers/ws-client.js';

/**
 * Issue 11 end to end on a running gateway: an organiser invites over a socket, the mail
 * reaches a real SMTP listener with its .ics, the guest exchanges the ticket over HTTP, signs
 * a socket in with the guest token and gets its item (and nothing else); removal sends the
 * CANCEL, closes the guest's socket with 4501 and refuses the token from then on; the CLI
 * invites through the same log; every step is in the audit trail.
 */

type Data = Record<string, any>;
/** SMTP round trips take many event-loop turns: a larger budget than until's default, still a condition. */
const eventually = (condition: () => boolean, description: string) => until(condition, description, 20_000_000);
const ticketOf = (mail: ParsedMail): string => new URL(/(https?:\/\/\S+\?ticket=\S+)/.exec(mail.text ?? '')![1]!).searchParams.get('ticket')!;
const calendarOf = (mail: ParsedMail) => {
  const attachment = mail.attachments.find((file) => file.filename === 'invite.ics')!;
  const calendar = new ICAL.Component(ICAL.parse(attachment.content.toString('utf8')));
  return { method: calendar.getFirstPropertyValue('method'), event: calendar.getFirstSubcomponent('vevent')! };
};

describe('invitations on a running gateway', () => {
  let server: IdentityGateway;
  let smtp: Awaited<ReturnType<typeof smtpListener>>;
  let organiser: TestClient;
  let itemId: string;
  let otherItemId: string;

  beforeAll(async () => {
    smtp = await smtpListener();
    server = await startIdentityGateway({ smtpUrl: smtp.url, mailFrom: 'Acme Events <events@acme.test>' });
    const seed = await server.gateway.identity.createOrganisation('Seed', 'test');
    const users = await createUsers(server, seed, [{ username: 'olga' }]);
    ({ client: organiser } = await connect(server));
    await login(organiser, users.olga!);
    const org = responseOf<{ id: string }>(await command(organiser, 'admin_organisation_create', { data: { name: 'Acme Events' } })).id;
    const event = responseOf<{ id: string }>(
      await command(organiser, 'admin_event_create', { data: { organisation: org, name: 'Partner day', start_date: '2030-05-04 08:00:00', end_date: '2030-05-04 18:00:00' } }),
    ).id;
    const itinerary = responseOf<{ id: string }>(
      await command(organiser, 'admin_itinerary_create', { data: { event, name: 'Morning', start_date: '2030-05-04 08:00:00', end_date: '2030-05-04 12:00:00' } }),
    ).id;
    const item = (name: string) =>
      command(organiser, 'admin_item_create', {
        data: { itinerary, type: 'webrtc', name, start_date: '2030-05-04 09:00:00', end_date: '2030-05-04 10:00:00', configuration: { mode: 'group', instance: `room-${name.length}` } },
      });
    itemId = responseOf<{ id: string }>(await item('Design review')).id;
    otherItemId = responseOf<{ id: string }>(await item('Board')).id;
  });

  afterAll(async () => {
    await server?.close();
    await smtp?.close();
  });

  let ticket: string;
  let guestToken: string;
  let guest: TestClient;

  it('client_webrtc_add: the receipt, the result, and a mail with a REQUEST .ics reach the invitee', async () => {
    const answers = await command(organiser, 'client_webrtc_add', {
      id: itemId,
      data: { emails: ['Ada@Partner.test'], title: 'Design review with Acme', baseURL: server.url('/guest'), names: { 'ada@partner.test': 'Ada Lovelace' } },
    });
    expect(answers.receipt?.data).toMatchObject({ status: 202, topic: 'ex-collab' });
    expect(answers.result.data).toMatchObject({ status: 201, meta: { permitted: true }, response: { invited: [{ email: 'ada@partner.test', status: 'invited' }] } });
    await eventually(() => smtp.mails.length === 1, 'the invitation mail');
    const mail = smtp.mails[0]!;
    expect(mail.to).toMatchObject({ value: [{ address: 'ada@partner.test' }] });
    const { method, event } = calendarOf(mail);
    expect(method).toBe('REQUEST');
    expect(event.getFirstPropertyValue('summary')).toBe('Design review with Acme');
    expect(String(event.getFirstPropertyValue('dtstart'))).toMatch(/^2030-05-04T09:00:00/);
    ticket = ticketOf(mail);
    // The log holds the ticket's id, never the ticket.
    expect(JSON.stringify(server.gateway.store.readAll())).not.toContain(ticket);
  });

  it('the ticket holder gets the .ics over HTTP; anyone else does not', async () => {
    const [issued] = server.events<Data>('InvitationIssued');
    const own = await fetch(server.url(`/invitations/${issued!.data.invitationId}.ics?ticket=${encodeURIComponent(ticket)}`));
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toMatch(/text\/calendar/);
    expect(await own.text()).toContain('METHOD:REQUEST');
    expect((await fetch(server.url(`/invitations/${issued!.data.invitationId}.ics`))).status).toBeGreaterThanOrEqual(400);
  });

  it('POST /guest/exchange gives a guest token once; the guest gets its item and nothing else', async () => {
    const exchanged = await fetch(server.url('/guest/exchange'), { method: 'POST', body: JSON.stringify({ ticket }), headers: { 'content-type': 'application/json' } });
    expect(exchanged.status).toBe(200);
    const grant = (await exchanged.json()) as Data;
    expect(grant).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number), item: { id: itemId, type: 'webrtc', room: 'room-13' } });
    guestToken = grant.access_token;
    const again = await fetch(server.url('/guest/exchange'), { method: 'POST', body: JSON.stringify({ ticket }), headers: { 'content-type': 'application/json' } });
    expect(again.status).toBe(401);

    ({ client: guest } = await connect(server));
    const authorized = await ask(guest, 'authorize', { token: guestToken });
    expect(authorized).toMatchObject({ event: 'authorized', data: { guest: true, item: itemId } });
    const own = await command(guest, 'consumer_webrtc_get', { id: itemId });
    expect(own.result.data).toMatchObject({ status: 200, response: { item: { id: itemId }, join: { room: 'room-13' } } });
    for (const [topic, data] of [
      ['consumer_webrtc_get', { id: otherItemId }],
      ['admin_item_read', { id: itemId }],
      ['client_webrtc_add', { id: itemId, data: { emails: ['eve@x.test'], baseURL: server.url('/guest') } }],
    ] as const) {
      const refused = await command(guest, topic, data);
      expect(refused.result.data, topic).toMatchObject({ status: 403, meta: { permitted: false } });
    }
  });

  it("a change of the item's time sends an updated invitation: the same UID, a higher SEQUENCE", async () => {
    await command(organiser, 'admin_item_update', { id: itemId, data: { start_date: '2030-05-04 10:00:00', end_date: '2030-05-04 11:00:00' } });
    await eventually(() => smtp.mails.length === 2, 'the updated invitation');
    const first = calendarOf(smtp.mails[0]!).event;
    const { method, event } = calendarOf(smtp.mails[1]!);
    expect(smtp.mails[1]!.subject).toBe('Updated invitation: Design review with Acme');
    expect(method).toBe('REQUEST');
    expect(event.getFirstPropertyValue('uid')).toBe(first.getFirstPropertyValue('uid'));
    expect(Number(event.getFirstPropertyValue('sequence'))).toBeGreaterThan(Number(first.getFirstPropertyValue('sequence') ?? 0));
    expect(String(event.getFirstPropertyValue('dtstart'))).toMatch(/^2030-05-04T10:00:00/);
    // The mail is counted once its MailSent is committed, a moment after the SMTP server has it.
    let metrics = '';
    for (let attempt = 0; attempt < 200 && !/switchyard_invitation_mails_total\{outcome="sent"\} 2/.test(metrics); attempt++) {
      metrics = await (await fetch(server.url('/metrics'))).text();
      if (!/switchyard_invitation_mails_total\{outcome="sent"\} 2/.test(metrics)) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(metrics).toMatch(/switchyard_invitation_mails_total\{outcome="sent"\} 2/);
  });

  it('re-inviting the same address sends no second mail', async () => {
    const answers = await command(organiser, 'client_webrtc_add', { id: itemId, data: { emails: ['ada@partner.test'], baseURL: server.url('/guest') } });
    expect(responseOf<Data>(answers).invited).toEqual([expect.objectContaining({ status: 'already_invited' })]);
    expect(server.events('InvitationIssued')).toHaveLength(1);
  });

  it('client_webrtc_remove: a CANCEL mail, the guest socket closes with 4501, and the token is refused from then on', async () => {
    const answers = await command(organiser, 'client_webrtc_remove', { id: itemId, data: { emails: ['ada@partner.test'] } });
    expect(responseOf<Data>(answers).removed).toEqual([expect.objectContaining({ status: 'removed' })]);
    await eventually(() => guest.closed !== undefined, 'the guest socket closed');
    expect(guest.closed?.code).toBe(4501);
    await eventually(() => smtp.mails.length === 3, 'the CANCEL mail');
    const { method, event } = calendarOf(smtp.mails[2]!);
    expect(method).toBe('CANCEL');
    expect(event.getFirstPropertyValue('status')).toBe('CANCELLED');
    const { client: again } = await connect(server);
    expect(await ask(again, 'authorize', { token: guestToken })).toMatchObject({ event: 'unauthorized' });
    again.close();
  });

  it('switchyard invite appends through the same log; the running gateway mails it', async () => {
    const result = await runCli(['invite', itemId, 'bob@partner.test', '--title', 'Design review', '--base-url', server.url('/guest'), '--data', server.dataDir, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([expect.objectContaining({ email: 'bob@partner.test', status: 'invited' })]);
    await eventually(() => smtp.mails.some((mail) => JSON.stringify(mail.to).includes('bob@partner.test')), 'the CLI invitation mailed by the server');
    const refused = await runCli(['invite', itemId, 'not-an-address', '--data', server.dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/BAD_REQUEST/);
  });

  it('replay rebuilds the invitations read model (and every other) equal to the live one', async () => {
    const result = await runCli(['replay', '--data', server.dataDir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('the audit trail says who invited whom, who exchanged, and who removed', () => {
    const [issued] = server.events<Data>('InvitationIssued');
    expect(issued!.metadata.actor).toMatch(/^user:/);
    expect(issued!.data.email).toBe('ada@partner.test');
    expect(server.events('TicketExchanged')).toHaveLength(1);
    expect(server.events<Data>('InvitationRevoked')[0]!.metadata.actor).toBe(issued!.metadata.actor);
    expect(server.events<Data>('InvitationMailSent').map((event) => event.data.method)).toEqual(expect.arrayContaining(['REQUEST', 'CANCEL']));
    expect(server.events<Data>('InvitationIssued').at(-1)!.metadata.actor).toBe('operator');
  });
});
