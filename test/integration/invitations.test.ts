import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import ICAL from 'ical.js';
import type { ParsedMail } from 'mailparser';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/auth/keys.js';
import { TokenService } from '../../src/auth/tokens.js';
import { LocalLogSource } from '../../src/cluster/index.js';
import { invitationsModule, type InvitableItem } from '../../src/modules/invitations/index.js';
import { ActorRuntime, ProcessorRunner, Scheduler } from '../../src/runtime/index.js';
import { SqliteEventStore } from '../../src/store/index.js';
import { until } from '../helpers/conditions.js';
import { smtpListener } from '../helpers/smtp.js';
import { SteerableClock } from '../helpers/identity.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The invitations module over a real log, real tokens and a real SMTP listener, without the
 * gateway (the module's wiring into src/app/modules.ts is separate): invite -> mail with the
 * .ics -> exchange once -> revoke -> CANCEL; a down server and its retries; a restart on the
 * same data; the outbox without SMTP.
 */

const START = Date.UTC(2030, 4, 4, 9, 0);
const END = Date.UTC(2030, 4, 4, 10, 0);
const ITEM: InvitableItem = {
  itemId: '9d0a3b1e-1111-4c2d-8e3f-000000000001', itineraryId: 'it-1', eventId: 'ev-1', organisationId: 'org-1',
  type: 'webrtc', name: 'Design review', startDate: START, endDate: END, configuration: { instance: 'call-room-1' },
};
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function openModule(dataDir: string, clock: SteerableClock, smtpUrl: string | undefined) {
  const store = new SqliteEventStore({ path: join(dataDir, 'log.db'), projections: invitationsModule.projections, walCheckpointIntervalMs: 0 });
  const runtime = new ActorRuntime(store, silent);
  for (const aggregate of invitationsModule.aggregates) runtime.register(aggregate);
  const ring = new KeyRing(join(dataDir, 'keys'));
  ring.loadOrCreate(clock.now());
  const tokens = new TokenService(ring, { issuer: 'switchyard', clockToleranceSeconds: 30 });
  const scheduler = new Scheduler(clock, silent);
  const config = {
    smtpUrl, mailFrom: 'Switchyard <no-reply@switchyard.test>', smtpTlsRejectUnauthorized: true, smtpTimeoutSeconds: 2,
    guestTicketSeconds: 86_400, guestTokenSeconds: 600, maxInviteesPerCommand: 10, mailRetrySeconds: 1, mailMaxAttempts: 8, dataDir,
  };
  const access = { require: () => undefined } as never;
  const module = invitationsModule.create({
    runtime, store, clock, logger: silent, config, scheduler, registry: new Registry(), tokens, access,
    items: { get: (itemId) => (itemId === ITEM.itemId ? ITEM : undefined) },
  });
  const source = new LocalLogSource(store, 5, () => undefined);
  const runner = new ProcessorRunner(source, store.checkpoints, silent);
  for (const processor of module.processors ?? []) runner.add(processor);
  runner.start();
  scheduler.start();
  await module.start?.();
  return {
    store, tokens, runner, api: module.api,
    events: (type: string) => store.readAll({ type }),
    async close() { await runner.stop(); await scheduler.stop(); await module.stop?.(); await store.close(); },
  };
}

/** SMTP round trips take many event-loop turns: a larger budget than until's default, still a condition, not a sleep. */
const eventually = (condition: () => boolean, description: string) => until(condition, description, 20_000_000);

const linkOf = (mail: ParsedMail): string => /(https?:\/\/\S+\?ticket=\S+)/.exec(mail.text ?? '')![1]!;
const ticketOf = (mail: ParsedMail): string => new URL(linkOf(mail)).searchParams.get('ticket')!;
const calendarOf = (mail: ParsedMail) => {
  const attachment = mail.attachments.find((entry) => entry.filename === 'invite.ics')!;
  return { attachment, calendar: new ICAL.Component(ICAL.parse(attachment.content.toString('utf8'))) };
};

describe('invitations: mail, ticket, revoke, retry, restart', () => {
  const clock = new SteerableClock(Date.UTC(2030, 4, 1, 12, 0));
  let dir: { path: string; remove(): void };
  let smtp: Awaited<ReturnType<typeof smtpListener>>;
  let gw: Awaited<ReturnType<typeof openModule>>;
  const who = { actor: 'user:olga' };

  beforeAll(async () => {
    dir = tempDir('switchyard-invitations-');
    smtp = await smtpListener();
    gw = await openModule(dir.path, clock, `smtp://127.0.0.1:${smtp.port}`);
  });
  afterAll(async () => { await gw?.close(); await smtp?.close(); dir?.remove(); });

  it('invites two addresses: each gets a mail with the link and a REQUEST .ics', async () => {
    const outcome = await gw.api.invitations.invite(ITEM.itemId, ['ada@example.org', 'Bob@Example.org'], undefined, 'http://gw.test/guest', { 'ada@example.org': 'Ada L' }, who);
    expect(outcome.invited.map((entry) => entry.status)).toEqual(['invited', 'invited']);
    await eventually(() => smtp.mails.length === 2 && gw.events('InvitationMailSent').length === 2, 'two mails sent and recorded');
    const ada = smtp.mails.find((mail) => mail.to && !Array.isArray(mail.to) && mail.to.value[0]?.address === 'ada@example.org')!;
    expect(ada.subject).toBe('Invitation: Design review');
    expect(linkOf(ada)).toMatch(/^http:\/\/gw\.test\/guest\?ticket=/);
    const { attachment, calendar } = calendarOf(ada);
    expect(attachment.contentType).toBe('text/calendar');
    expect(calendar.getFirstPropertyValue('method')).toBe('REQUEST');
    const event = calendar.getFirstSubcomponent('vevent')!;
    expect(event.getFirstPropertyValue('uid')).toBe(`${outcome.invited[0]!.invitation}@switchyard`);
    expect((event.getFirstPropertyValue('dtstart') as ICAL.Time).toJSDate().getTime()).toBe(START);
    expect(event.getFirstPropertyValue('url')).toBe(linkOf(ada));
    // The log holds the ticket's id only, never a usable ticket.
    expect(JSON.stringify(gw.store.readAll({}))).not.toContain(ticketOf(ada));
  });

  it('a ticket exchanges once; forged, other-kind and reused tickets are refused alike', async () => {
    const ticket = ticketOf(smtp.mails[0]!);
    const grant = await gw.api.invitations.exchange(ticket, '127.0.0.1', clock.now());
    expect(grant).toMatchObject({ token_type: 'Bearer', expires_in: 600, item: { id: ITEM.itemId, room: 'call-room-1' } });
    const claims = await gw.tokens.verify('guest', grant.access_token, clock.now());
    expect(claims).toMatchObject({ item: ITEM.itemId, room: 'call-room-1', org: 'org-1' });
    await expect(gw.api.invitations.exchange(ticket, '127.0.0.1', clock.now())).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'ticket is not valid' });
    const forged = `${ticket.slice(0, -4)}AAAA`;
    await expect(gw.api.invitations.exchange(forged, '127.0.0.1', clock.now())).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'ticket is not valid' });
    await expect(gw.api.invitations.exchange(grant.access_token, '127.0.0.1', clock.now())).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'ticket is not valid' });
    expect(gw.events('TicketExchanged')).toHaveLength(1);
    // The .ics to the ticket holder, used or not.
    const invitationId = claims.sub;
    expect(await gw.api.invitations.ics(invitationId, ticket, clock.now())).toContain('METHOD:REQUEST');
  });

  it('re-inviting an invited address sends no second mail', async () => {
    const again = await gw.api.invitations.invite(ITEM.itemId, ['ada@example.org'], undefined, 'http://gw.test/guest', undefined, who);
    expect(again.invited[0]!.status).toBe('already_invited');
    await gw.runner.drain();
    expect(gw.events('InvitationIssued')).toHaveLength(2);
  });

  it('removal sends a CANCEL and the ticket no longer exchanges', async () => {
    const bob = smtp.mails.find((mail) => mail.to && !Array.isArray(mail.to) && mail.to.value[0]?.address === 'bob@example.org')!;
    const removed = await gw.api.invitations.remove(ITEM.itemId, ['bob@example.org'], who);
    expect(removed.removed[0]!.status).toBe('removed');
    await eventually(() => smtp.mails.length === 3, 'the CANCEL mail');
    const cancel = calendarOf(smtp.mails[2]!).calendar;
    expect(cancel.getFirstPropertyValue('method')).toBe('CANCEL');
    expect(cancel.getFirstSubcomponent('vevent')!.getFirstPropertyValue('status')).toBe('CANCELLED');
    await expect(gw.api.invitations.exchange(ticketOf(bob), '127.0.0.1', clock.now())).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(gw.api.invitations.isRevoked(removed.removed[0]!.invitation!)).toBe(true);
  });

  it('a restart on the same data sends nothing twice and a used ticket stays used', async () => {
    await gw.close();
    gw = await openModule(dir.path, clock, `smtp://127.0.0.1:${smtp.port}`);
    await gw.runner.drain();
    expect(smtp.mails).toHaveLength(3);
    await expect(gw.api.invitations.exchange(ticketOf(smtp.mails[0]!), '127.0.0.1', clock.now())).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('SMTP down: the failure is recorded, and a retry succeeds once the server is back', async () => {
    const down = await smtpListener();
    const port = down.port;
    await down.close();
    await gw.close();
    gw = await openModule(dir.path, clock, `smtp://127.0.0.1:${port}`);
    await gw.api.invitations.invite(ITEM.itemId, ['cy@example.org'], 'Retry me', 'http://gw.test/guest', undefined, who);
    await eventually(() => gw.events('InvitationMailFailed').length >= 1, 'a failure recorded');
    expect(gw.events('InvitationMailFailed')[0]!.data).toMatchObject({ attempt: 1, method: 'REQUEST', retryAt: expect.any(Number) });
    // Back up on another port: a restart with the right URL re-arms the owed mail.
    await gw.close();
    gw = await openModule(dir.path, clock, `smtp://127.0.0.1:${smtp.port}`);
    await eventually(() => smtp.mails.some((mail) => mail.subject === 'Invitation: Retry me'), 'the retried mail');
    await eventually(() => gw.events('InvitationMailSent').length === 4, 'the retry recorded sent');
  });
});

describe('invitations: a slow SMTP server', () => {
  it('one that accepts the connection and never greets fails the send after smtpTimeoutSeconds, recorded and retried', async () => {
    // A listener that holds every socket open without a byte: the SMTP greeting never comes.
    const held: Socket[] = [];
    const silentServer = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
    const address = silentServer.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const dir = tempDir('switchyard-slow-smtp-');
    const gw = await openModule(dir.path, new SteerableClock(Date.UTC(2030, 4, 1)), `smtp://127.0.0.1:${port}`);
    try {
      await gw.api.invitations.invite(ITEM.itemId, ['slow@example.org'], undefined, 'http://gw.test/guest', undefined, { actor: 'operator' });
      await eventually(() => gw.events('InvitationMailFailed').length >= 1, 'the timed-out send recorded');
      expect(gw.events('InvitationMailFailed')[0]!.data).toMatchObject({ attempt: 1, retryAt: expect.any(Number) });
      expect(gw.events('InvitationMailSent')).toHaveLength(0);
    } finally {
      await gw.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silentServer.close(() => resolve()));
      dir.remove();
    }
  });
});

describe('invitations: outbox without SMTP', () => {
  it('writes a 0600 .eml into data/outbox', async () => {
    const dir = tempDir('switchyard-outbox-');
    const gw = await openModule(dir.path, new SteerableClock(Date.UTC(2030, 4, 1)), undefined);
    try {
      const { invited } = await gw.api.invitations.invite(ITEM.itemId, ['dee@example.org'], undefined, 'http://gw.test/guest', undefined, { actor: 'operator' });
      const outbox = join(dir.path, 'outbox');
      const file = join(outbox, `${invited[0]!.invitation}-0-REQUEST.eml`);
      await eventually(() => existsSync(file) && gw.events('InvitationMailSent').length === 1, 'the .eml written');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(outbox).mode & 0o777).toBe(0o700);
      expect(readdirSync(outbox)).toHaveLength(1);
      expect(gw.events('InvitationMailSent')[0]!.data).toMatchObject({ transport: 'outbox' });
    } finally {
      await gw.close();
      dir.remove();
    }
  });
});
