import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { calendarFile, calendarUid, parseMailbox, requireSchedule } from '../../src/modules/invitations/calendar.js';

/** The .ics is written with `ics` and read back with ical.js: another library than the writer. */
const START = Date.UTC(2026, 4, 4, 9, 0);
const END = Date.UTC(2026, 4, 4, 10, 30);
const base = {
  invitationId: '7a1c52b4-8a4d-4b5e-9a26-1f0b7f3d2c11',
  sequence: 0,
  start: START,
  end: END,
  title: 'Quarterly review; with, punctuation',
  organizer: 'Switchyard <no-reply@switchyard.test>',
  attendee: { email: 'ada@example.org', name: 'Ada Lovelace' },
  joinLink: 'https://gw.example/guest?ticket=aaa.bbb.ccc',
};

function parse(text: string) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  const event = calendar.getFirstSubcomponent('vevent')!;
  return { calendar, event };
}

describe('the invitation calendar entry', () => {
  it('a REQUEST: method, stable UID, SEQUENCE, UTC times, organiser, attendee (RSVP), URL and the link in DESCRIPTION', () => {
    const { calendar, event } = parse(calendarFile({ ...base, method: 'REQUEST' }));
    expect(calendar.getFirstPropertyValue('method')).toBe('REQUEST');
    expect(event.getFirstPropertyValue('uid')).toBe(calendarUid(base.invitationId));
    expect(event.getFirstPropertyValue('uid')).toBe(`${base.invitationId}@switchyard`);
    expect(event.getFirstPropertyValue('sequence')).toBe(0);
    const start = event.getFirstPropertyValue('dtstart') as ICAL.Time;
    const end = event.getFirstPropertyValue('dtend') as ICAL.Time;
    expect(start.zone?.tzid).toBe('UTC');
    expect(start.toJSDate().getTime()).toBe(START);
    expect(end.toJSDate().getTime()).toBe(END);
    expect(event.getFirstPropertyValue('summary')).toBe(base.title);
    const organizer = event.getFirstProperty('organizer')!;
    expect(String(organizer.getFirstValue()).toLowerCase()).toBe('mailto:no-reply@switchyard.test');
    expect(organizer.getParameter('cn')).toBe('Switchyard');
    const attendee = event.getFirstProperty('attendee')!;
    expect(String(attendee.getFirstValue()).toLowerCase()).toBe('mailto:ada@example.org');
    expect(attendee.getParameter('rsvp')).toBe('TRUE');
    expect(attendee.getParameter('cn')).toBe('Ada Lovelace');
    expect(event.getFirstPropertyValue('url')).toBe(base.joinLink);
    expect(String(event.getFirstPropertyValue('description'))).toContain(base.joinLink);
    expect(event.getFirstPropertyValue('status')).toBe('CONFIRMED');
  });

  it('an update keeps the UID and carries the higher SEQUENCE', () => {
    const first = parse(calendarFile({ ...base, method: 'REQUEST' })).event;
    const update = parse(calendarFile({ ...base, method: 'REQUEST', sequence: 3, start: START + 3_600_000, end: END + 3_600_000 })).event;
    expect(update.getFirstPropertyValue('uid')).toBe(first.getFirstPropertyValue('uid'));
    expect(update.getFirstPropertyValue('sequence')).toBe(3);
    expect((update.getFirstPropertyValue('dtstart') as ICAL.Time).toJSDate().getTime()).toBe(START + 3_600_000);
  });

  it('a CANCEL: METHOD:CANCEL, STATUS:CANCELLED, same UID, no join link', () => {
    const text = calendarFile({ ...base, method: 'CANCEL', sequence: 1, joinLink: null });
    const { calendar, event } = parse(text);
    expect(calendar.getFirstPropertyValue('method')).toBe('CANCEL');
    expect(event.getFirstPropertyValue('status')).toBe('CANCELLED');
    expect(event.getFirstPropertyValue('uid')).toBe(calendarUid(base.invitationId));
    expect(event.getFirstPropertyValue('sequence')).toBe(1);
    expect(text).not.toContain('ticket=');
  });

  it('mailboxes: a name and an address, or a bare address', () => {
    expect(parseMailbox('Switchyard <no-reply@localhost>')).toEqual({ name: 'Switchyard', email: 'no-reply@localhost' });
    expect(parseMailbox('ops@example.org')).toEqual({ email: 'ops@example.org' });
  });

  it('an item without dates cannot be invited to: BAD_REQUEST naming id', () => {
    expect(() => requireSchedule({ startDate: null, endDate: null })).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', details: { errors: [expect.objectContaining({ path: 'id' })] } }));
  });
});
