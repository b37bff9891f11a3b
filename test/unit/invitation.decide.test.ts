import { describe, expect, it } from 'vitest';
import { invitationAggregate, type InvitationCommand, type InvitationEvent } from '../../src/modules/invitations/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const spec = deciderSpec(invitationAggregate);
const ID = '0b7c6f0e-2d7a-4a4f-9a51-9d3f0f5c1a01';
const NOW = 1_800_000_000_000;

const issueData = {
  invitationId: ID,
  itemId: 'item-1',
  itineraryId: 'itinerary-1',
  eventId: 'event-1',
  organisationId: 'org-1',
  email: 'ada@example.org',
  name: 'Ada',
  title: 'Review',
  joinUrl: 'https://gw.example/guest',
  ticketJti: 'tid-1',
  ticketExpiresAt: NOW + 7 * 86_400_000,
};
const issue: InvitationCommand = { type: 'IssueInvitation', ...issueData, now: NOW };
const issued: InvitationEvent = { type: 'InvitationIssued', data: { ...issueData, sequence: 0, issuedAt: NOW } };
const exchange = (ticketId = 'tid-1', jti = 'jwt-1'): InvitationCommand => ({ type: 'ExchangeTicket', ticketId, jti, remoteAddress: '127.0.0.1', now: NOW + 1 });
const exchanged: InvitationEvent = { type: 'TicketExchanged', data: { invitationId: ID, jti: 'jwt-1', exchangedAt: NOW + 1, remoteAddress: '127.0.0.1' } };
const revoked: InvitationEvent = { type: 'InvitationRevoked', data: { invitationId: ID, itemId: 'item-1', email: 'ada@example.org', revokedAt: NOW + 2 } };

describe('invitation decide', () => {
  it('issues once, with sequence 0', () => {
    spec.given().when(issue).then([issued]);
    spec.given([issued]).when(issue).thenThrows('CONFLICT');
  });

  it('a ticket exchanges once; a second exchange is refused CONFLICT', () => {
    const after = spec.given([issued]).when(exchange()).then([exchanged]);
    after.when(exchange('tid-1', 'jwt-2')).thenThrows('CONFLICT');
  });

  it('refuses a ticket of another generation, of an unknown or of a revoked invitation: UNAUTHORIZED, one message', () => {
    spec.given([issued]).when(exchange('tid-other')).thenThrows('UNAUTHORIZED', 'ticket is not valid');
    spec.given().when(exchange()).thenThrows('UNAUTHORIZED', 'ticket is not valid');
    spec.given([issued, revoked]).when(exchange()).thenThrows('UNAUTHORIZED', 'ticket is not valid');
    spec.given([issued, exchanged, revoked]).when(exchange()).thenThrows('UNAUTHORIZED', 'ticket is not valid');
  });

  it('updates raise the sequence; a revoked invitation takes no update', () => {
    const update: InvitationCommand = { type: 'UpdateInvitation', start: NOW + 10, end: NOW + 20, title: 'Review (moved)', now: NOW + 3 };
    const after = spec.given([issued]).when(update).then([
      { type: 'InvitationUpdated', data: { invitationId: ID, sequence: 1, start: NOW + 10, end: NOW + 20, title: 'Review (moved)', updatedAt: NOW + 3 } },
    ]);
    expect(after.state.context.sequence).toBe(1);
    after.when(update).then([{ type: 'InvitationUpdated', data: { invitationId: ID, sequence: 2, start: NOW + 10, end: NOW + 20, title: 'Review (moved)', updatedAt: NOW + 3 } }]);
    spec.given([issued, revoked]).when(update).thenThrows('CONFLICT');
  });

  it('revoking twice is revoking once', () => {
    spec.given([issued]).when({ type: 'RevokeInvitation', now: NOW + 2 }).then([revoked]);
    spec.given([issued, revoked]).when({ type: 'RevokeInvitation', now: NOW + 5 }).then([]);
    spec.given().when({ type: 'RevokeInvitation', now: NOW }).thenThrows('NOT_FOUND');
  });

  it('a mail is recorded sent once; failures count attempts; a revoked invitation still records its CANCEL', () => {
    const sent: InvitationCommand = { type: 'RecordMailSent', sequence: 0, method: 'REQUEST', transport: 'smtp', messageId: '<m1>', now: NOW + 1 };
    const failed: InvitationCommand = { type: 'RecordMailFailed', sequence: 0, method: 'REQUEST', error: 'ECONNREFUSED', retryAt: NOW + 5000, now: NOW };
    const first = spec.given([issued]).when(failed).then([
      { type: 'InvitationMailFailed', data: { invitationId: ID, sequence: 0, method: 'REQUEST', attempt: 1, error: 'ECONNREFUSED', retryAt: NOW + 5000 } },
    ]);
    const second = first.when(failed).then([
      { type: 'InvitationMailFailed', data: { invitationId: ID, sequence: 0, method: 'REQUEST', attempt: 2, error: 'ECONNREFUSED', retryAt: NOW + 5000 } },
    ]);
    const delivered = second.when(sent).then([{ type: 'InvitationMailSent', data: { invitationId: ID, sequence: 0, method: 'REQUEST', transport: 'smtp', messageId: '<m1>', sentAt: NOW + 1 } }]);
    delivered.when(sent).then([]);
    delivered.when(failed).then([]);
    spec
      .given([issued, revoked])
      .when({ type: 'RecordMailSent', sequence: 1, method: 'CANCEL', transport: 'outbox', messageId: '<m2>', now: NOW + 3 })
      .then([{ type: 'InvitationMailSent', data: { invitationId: ID, sequence: 1, method: 'CANCEL', transport: 'outbox', messageId: '<m2>', sentAt: NOW + 3 } }]);
  });
});
