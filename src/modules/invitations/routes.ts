import { AppError, isAppError, type Clock } from '../../core/index.js';
import { json } from '../../edge/http.js';
import { httpErrorResponse } from '../../edge/replies.js';
import type { HttpRequest, HttpResponse, HttpRoute } from '../../protocol/http.js';
import { guestExchangeBody } from '../../protocol/topics/invitations.js';
import { GUEST_PAGE_HEADERS, GUEST_SCRIPT, guestErrorPage, guestLandingPage } from './guest-page.js';
import type { Invitations } from './service.js';

const MAX_EXCHANGE_BODY_BYTES = 8 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface InvitationRoutesDependencies {
  invitations: Invitations;
  clock: Clock;
}

const ticketOf = (request: HttpRequest): string | null => new URLSearchParams(request.query).get('ticket');

function refusal(error: unknown): HttpResponse {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (isAppError(error) && error.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer';
  return httpErrorResponse(error, headers);
}

function parseBody(request: HttpRequest): { ticket: string } {
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new AppError('BAD_REQUEST', 'body must be JSON: {"ticket": "..."}');
  }
  const parsed = guestExchangeBody.safeParse(body);
  if (!parsed.success) throw new AppError('BAD_REQUEST', `ticket: ${parsed.error.issues[0]?.message ?? 'is missing'}`);
  return parsed.data;
}

const when = (start: string | null, end: string | null): string =>
  start === null ? '' : `${start.replace('T', ' ').slice(0, 16)} – ${(end ?? start).replace('T', ' ').slice(0, 16)} UTC`;

/** The guest side of PROTOCOL.md section 9: the exchange, the landing page, the calendar file. */
export function invitationRoutes({ invitations, clock }: InvitationRoutesDependencies): HttpRoute[] {
  return [
    {
      method: 'post',
      path: '/guest/exchange',
      maxBodyBytes: MAX_EXCHANGE_BODY_BYTES,
      handler: async (request) => {
        try {
          const { ticket } = parseBody(request);
          const grant = await invitations.exchange(ticket, request.remoteAddress, clock.now());
          return json(200, grant, { 'cache-control': 'no-store', pragma: 'no-cache' });
        } catch (error) {
          return refusal(error);
        }
      },
    },
    {
      method: 'get',
      path: '/guest',
      handler: async (request) => {
        try {
          // Shows what the ticket is for without using it: the exchange is the button's.
          const { invitation } = await invitations.verifyTicket(ticketOf(request), clock.now());
          const item = invitations.invitableItem(invitation.itemId);
          const page = guestLandingPage({
            id: item.itemId,
            name: invitation.title,
            when: when(new Date(invitation.startDate ?? item.startDate).toISOString(), new Date(invitation.endDate ?? item.endDate).toISOString()),
            guestName: invitation.name,
          });
          return { status: 200, headers: GUEST_PAGE_HEADERS, body: page };
        } catch (error) {
          const status = isAppError(error) && error.code === 'UNAUTHORIZED' ? 401 : isAppError(error) && error.code === 'NOT_FOUND' ? 404 : 400;
          return { status, headers: GUEST_PAGE_HEADERS, body: guestErrorPage('This invitation link cannot be used. Ask the organiser for a new one.') };
        }
      },
    },
    {
      method: 'get',
      path: '/guest/guest.js',
      handler: () => ({ status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }, body: GUEST_SCRIPT }),
    },
    {
      method: 'get',
      path: '/invitations/:file',
      handler: async (request) => {
        try {
          const file = request.path.split('/')[2] ?? '';
          const invitationId = file.endsWith('.ics') ? file.slice(0, -4) : '';
          if (!UUID.test(invitationId)) throw new AppError('NOT_FOUND', `no route for ${request.path}`);
          const ticket = ticketOf(request);
          if (ticket === null) throw new AppError('UNAUTHORIZED', 'ticket is not valid');
          const body = await invitations.ics(invitationId, ticket, clock.now());
          return { status: 200, headers: { 'content-type': 'text/calendar; charset=utf-8; method=REQUEST', 'cache-control': 'no-store', 'content-disposition': 'attachment; filename="invite.ics"' }, body };
        } catch (error) {
          return refusal(error);
        }
      },
    },
  ];
}
