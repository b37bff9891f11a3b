import { parseArgs } from 'node:util';
import type { Config } from '../app/config.js';
import { AppError } from '../core/errors.js';
import { InvitationDirectory, Invitations } from '../modules/invitations/index.js';
import { invitationAggregate } from '../modules/invitations/domain/index.js';
import { ItineraryDirectory } from '../modules/itineraries/index.js';
import { inviteeEmails } from '../protocol/topics/invitations.js';
import { connectLiveEventsContext, operatorFailure } from './context.js';
import { table, type Output } from './output.js';

export const INVITATIONS_USAGE = `  invite <itemId> <email>... [--title T] [--base-url URL] [--json]   -> invitations to a webrtc/zoom item (mails go out from the server)
  uninvite <itemId> <email>... [--json]                              -> removes them: a CANCEL mail, tickets and guest sockets end`;

export const INVITATIONS_DETAILS = `

  --title T        the invitation's title (default: the item's name)
  --base-url URL   the page the mail's link opens with ?ticket=... (default http://<host>:<port>/guest of the config)
  The server sends the mails from the log (SMTP when smtpUrl is set, else data/outbox/*.eml):
  one that is not running sends them when it next starts.`;

const ACTOR = 'operator';

/**
 * `switchyard invite` / `uninvite` (issue 11): the operator's way to the same service the
 * `client_webrtc_add` / `client_webrtc_remove` topics use, with the same checks (a webrtc or
 * zoom item with dates, valid and distinct addresses, at most maxInviteesPerCommand). Only
 * events are appended here; the tickets are signed and mailed by the server's mailer.
 */
export async function invitationsCommand(verb: 'invite' | 'uninvite', argv: string[], config: Config, output: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { data: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, title: { type: 'string' }, 'base-url': { type: 'string' } },
  });
  const [itemId, ...emails] = positionals;
  if (!itemId || emails.length === 0) {
    output.err(`${verb} takes an item id and at least one email address\n${INVITATIONS_USAGE}`);
    return 2;
  }
  const context = await connectLiveEventsContext(config);
  try {
    context.runtime.register(invitationAggregate);
    const items = new ItineraryDirectory(context.store.readModels);
    const invitations = new Invitations({
      runtime: context.runtime,
      directory: new InvitationDirectory(context.store.readModels),
      // The same view of an item the gateway's invitations module gets (src/app/modules.ts).
      items: { get: (id) => items.item(id) },
      tokens: context.identity.tokens,
      clock: context.clock,
      config,
    });
    const parsed = inviteeEmails(config.maxInviteesPerCommand).safeParse(emails);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AppError('BAD_REQUEST', `email ${issue.path.join('.')}: ${issue.message}`);
    }
    const rows =
      verb === 'invite'
        ? (await invitations.invite(itemId, parsed.data, values.title, values['base-url'] ?? `http://${config.host}:${config.port}/guest`, undefined, { actor: ACTOR })).invited
        : (await invitations.remove(itemId, parsed.data, { actor: ACTOR })).removed;
    if (values.json) output.out(JSON.stringify(rows));
    else for (const line of table(['EMAIL', 'STATUS', 'INVITATION'], rows.map((row) => [row.email, row.status, row.invitation ?? '']))) output.out(line);
    return 0;
  } catch (error) {
    return operatorFailure(error, output);
  } finally {
    await context.close();
  }
}
