import QRCode from 'qrcode';
import { parseArgs } from 'node:util';
import type { Config } from '../app/config.js';
import { AppError } from '../core/errors.js';
import { isPermission, PERMISSIONS } from '../protocol/topics/extream.js';
import { connectOperatorContext, operatorFailure } from './context.js';
import { listCommand, type ListArea } from './lists.js';
import type { Output } from './output.js';

const OPERATOR = 'operator';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Each area's commands, for its own `--help` and the global usage. */
export const IDENTITY_USAGES: Readonly<Record<string, string>> = {
  orgs: `  orgs add <name>                                        -> organisation id (names are unique, ignoring case and spacing)
  orgs list [--json]`,
  groups: `  groups add --org ORG <name>                            -> group id
  groups grant --org ORG <group> <permission>...         (view_|edit_|delete_ + organisation|event|itinerary|item,
  groups revoke --org ORG <group> <permission>...          moderate_chat, manage_poll, send_notice, operate_webrtc, stream_rtmp)
  groups list [--org ORG] [--json]`,
  users: `  users add --org ORG --username U --password-stdin [--group G]...   -> user id
  users mfa enroll <username>                            -> otpauth URI and a QR code
  users mfa unlock <username>
  users disable <username> [--reason R]
  users enable <username>
  users list [--org ORG] [--json]`,
  clients: `  clients add --org ORG --name N [--redirect-uri URI]... [--public]  -> client id (+ secret, shown once)
  clients list [--org ORG] [--json]                      (secrets are never shown again)`,
  keys: `  keys rotate                                            -> new signing key; old ones verify until their tokens expire`,
};

export const IDENTITY_USAGE = Object.values(IDENTITY_USAGES).join('\n');

const LISTABLE: ReadonlySet<string> = new Set<ListArea>(['orgs', 'groups', 'users', 'clients']);
const isListArea = (area: string): area is ListArea => LISTABLE.has(area);

/**
 * Operator commands of the identity area (PROTOCOL.md section 10). Each appends events to
 * the log; a running server picks them up within a second.
 */
export async function identityCommand(
  area: string,
  argv: string[],
  config: Config,
  output: Output,
  stdin: NodeJS.ReadableStream,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      org: { type: 'string' },
      username: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      group: { type: 'string', multiple: true },
      reason: { type: 'string' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      public: { type: 'boolean' },
    },
  });
  const print = (human: string, machine: Record<string, unknown>) => output.out(values.json ? JSON.stringify(machine) : human);
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new AppError('BAD_REQUEST', `missing ${what}`);
    return value;
  };
  const [verb, ...rest] = positionals;
  // Listing reads the read models only: no actors, token service or secrets box to build.
  if (verb === 'list' && isListArea(area)) {
    if (rest.length > 0) {
      output.err(`${area} list takes no arguments, got "${rest.join(' ')}"\n${IDENTITY_USAGES[area] ?? IDENTITY_USAGE}`);
      return 2;
    }
    return listCommand(area, { org: values.org, json: values.json }, config, output);
  }
  const context = await connectOperatorContext(config);
  try {
    const { identity } = context;
    switch (`${area} ${verb ?? ''}`) {
      case 'orgs add': {
        const organisationId = await identity.createOrganisation(need(rest.join(' '), '<name>'), OPERATOR);
        print(organisationId, { organisationId });
        return 0;
      }
      case 'groups add': {
        const groupId = await identity.createGroup(need(values.org, '--org'), need(rest.join(' '), '<name>'), OPERATOR);
        print(groupId, { groupId });
        return 0;
      }
      case 'groups grant':
      case 'groups revoke': {
        const [group, ...named] = rest;
        if (named.length === 0) throw new AppError('BAD_REQUEST', 'name at least one permission');
        const unknown = named.filter((permission) => !isPermission(permission));
        if (unknown.length > 0) throw new AppError('BAD_REQUEST', `unknown permission ${unknown.join(', ')}; one of ${PERMISSIONS.join(', ')}`);
        const organisation = identity.directory.organisationByIdOrName(need(values.org, '--org'));
        if (!organisation) throw new AppError('NOT_FOUND', `unknown organisation ${values.org}`);
        const change = verb === 'grant' ? context.organisations.grant.bind(context.organisations) : context.organisations.revoke.bind(context.organisations);
        const { view } = await change(organisation.organisation_id, need(group, '<group>'), named.filter(isPermission), { actor: OPERATOR });
        print(`${view.name}: ${view.permissions.join(' ') || '(no permissions)'}`, { groupId: view.id, group: view.name, permissions: view.permissions });
        return 0;
      }
      case 'users add': {
        if (!values['password-stdin']) throw new AppError('BAD_REQUEST', 'pass the password on standard input with --password-stdin');
        const password = await readStdin(stdin);
        const userId = await identity.addUser({
          organisation: need(values.org, '--org'),
          username: need(values.username, '--username'),
          password,
          groups: values.group ?? [],
          by: OPERATOR,
        });
        print(userId, { userId });
        return 0;
      }
      case 'users mfa': {
        const [action, username] = rest;
        if (action === 'enroll') {
          const { uri, secret } = await identity.enrollMfa(need(username, '<username>'), OPERATOR);
          if (values.json) {
            output.out(JSON.stringify({ uri, secret }));
          } else {
            output.out(uri);
            output.out(await QRCode.toString(uri, { type: 'terminal', small: true }));
          }
          return 0;
        }
        if (action === 'unlock') {
          await identity.unlockMfa(need(username, '<username>'), OPERATOR);
          print(`MFA unlocked for ${username}`, { unlocked: username });
          return 0;
        }
        throw new AppError('BAD_REQUEST', 'users mfa takes enroll or unlock');
      }
      case 'users disable': {
        const userId = await identity.disableUser(need(rest[0], '<username>'), OPERATOR, values.reason ?? 'disabled by an operator');
        print(`disabled ${rest[0]} (${userId})`, { disabled: userId });
        return 0;
      }
      case 'users enable': {
        await identity.enableUser(need(rest[0], '<username>'), OPERATOR);
        print(`enabled ${rest[0]}`, { enabled: rest[0] });
        return 0;
      }
      case 'clients add': {
        const client = await identity.registerClient({
          organisation: need(values.org, '--org'),
          name: need(values.name, '--name'),
          redirectUris: values['redirect-uri'] ?? [],
          public: values.public ?? false,
          by: OPERATOR,
        });
        print(
          client.clientSecret ? `client_id ${client.clientId}\nclient_secret ${client.clientSecret}  (shown once)` : `client_id ${client.clientId}`,
          client,
        );
        return 0;
      }
      case 'keys rotate': {
        // Old keys keep verifying for the longest lifetime a token they signed can have.
        const grace = Math.max(config.refreshTokenTtlSeconds, config.accessTokenTtlSeconds, config.sessionTokenTtlSeconds, config.organisationTokenTtlSeconds);
        const rotated = context.keyRing.rotate(Date.now(), grace);
        print(`new signing key ${rotated.kid}; retired ${rotated.retired.join(', ') || 'none'}`, rotated);
        return 0;
      }
      default:
        output.err(`unknown command "${area} ${verb ?? ''}"\n${IDENTITY_USAGES[area] ?? IDENTITY_USAGE}`);
        return 2;
    }
  } catch (error) {
    return operatorFailure(error, output);
  } finally {
    await context.close();
  }
}
