import { parseArgs } from 'node:util';
import type { Config } from '../app/config.js';
import { SecretBox } from '../auth/secrets.js';
import { AppError } from '../core/errors.js';
import { StreamDirectory, ZoomSignatures, zoomCredentialsAggregate, zoomSdkKey, zoomSdkSecret } from '../modules/streams/index.js';
import { connectOperatorContext, operatorFailure } from './context.js';
import { table, type Output } from './output.js';

export const ZOOM_USAGE = `  zoom set --org ORG --key K --secret-stdin [--json]   -> an organisation's Zoom Meeting SDK credentials (the secret is sealed in the log)
  zoom show --org ORG [--json]                          -> its SDK key and where it comes from (the secret is never shown)`;

export const ZOOM_DETAILS = `

  --org ORG        the organisation, by id or name
  --key K          the Meeting SDK app's key (Zoom's "Client ID")
  --secret-stdin   read its secret ("Client Secret") from standard input, never from the command line
  Credentials set here take precedence over the zoomSdkCredentials config key. A running
  server uses them from its next consumer_zoom_sign on.`;

const ACTOR = 'operator';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** A refused operator input, as a message that quotes nothing it was given (the secret least of all). */
function checked<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { message: string }[] } } }, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('BAD_REQUEST', parsed.error.issues[0]?.message ?? 'invalid value');
  return parsed.data;
}

/**
 * `switchyard zoom set|show` (issue 10): an organisation's Zoom Meeting SDK credentials, for
 * `consumer_zoom_sign`. `set` records ZoomCredentialsSet with the secret sealed under the
 * gateway's secrets key (data/keys/secrets.key); `show` prints the key and its source only.
 */
export async function zoomCommand(argv: string[], config: Config, output: Output, stdin: NodeJS.ReadableStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      org: { type: 'string' },
      key: { type: 'string' },
      'secret-stdin': { type: 'boolean' },
    },
  });
  const [verb] = positionals;
  if ((verb !== 'set' && verb !== 'show') || positionals.length > 1 || values.org === undefined) {
    output.err(`zoom takes set or show, and --org\n${ZOOM_USAGE}`);
    return 2;
  }
  const context = await connectOperatorContext(config);
  try {
    context.runtime.register(zoomCredentialsAggregate);
    const organisation = context.identity.directory.organisationByIdOrName(values.org);
    if (!organisation) throw new AppError('NOT_FOUND', `no organisation "${values.org}"`);
    const directory = new StreamDirectory(context.store.readModels);
    if (verb === 'set') {
      if (values.key === undefined) throw new AppError('BAD_REQUEST', 'zoom set needs --key');
      if (!values['secret-stdin']) throw new AppError('BAD_REQUEST', 'pass the secret on standard input with --secret-stdin');
      const sdkKey = checked(zoomSdkKey, values.key);
      const sdkSecret = checked(zoomSdkSecret, await readStdin(stdin));
      const zoom = new ZoomSignatures({ runtime: context.runtime, directory, secrets: SecretBox.open(config.dataDir).box, config });
      const now = context.clock.now();
      await zoom.set(organisation.organisation_id, sdkKey, sdkSecret, { actor: ACTOR, now });
      const shown = { organisation: organisation.organisation_id, sdk_key: sdkKey, source: 'log', set_at: new Date(now).toISOString() };
      if (values.json) output.out(JSON.stringify(shown));
      else output.out(`Zoom SDK key ${sdkKey} set for organisation ${organisation.name} (${organisation.organisation_id})`);
      return 0;
    }
    // show: the key and where it comes from, read without opening the secret.
    const recorded = directory.zoomCredentials(organisation.organisation_id);
    const configured = Object.hasOwn(config.zoomSdkCredentials, organisation.organisation_id) ? config.zoomSdkCredentials[organisation.organisation_id] : undefined;
    const shown = recorded
      ? { organisation: organisation.organisation_id, sdk_key: recorded.sdkKey, source: 'log', set_at: new Date(recorded.setAt).toISOString() }
      : configured
        ? { organisation: organisation.organisation_id, sdk_key: configured.key, source: 'config', set_at: null }
        : undefined;
    if (!shown) throw new AppError('NOT_FOUND', `organisation ${organisation.name} has no Zoom credentials (switchyard zoom set --org ${organisation.organisation_id} --key K --secret-stdin)`);
    if (values.json) output.out(JSON.stringify(shown));
    else for (const line of table(['ORGANISATION', 'SDK KEY', 'SOURCE', 'SET AT'], [[shown.organisation, shown.sdk_key, shown.source, shown.set_at ?? '']])) output.out(line);
    return 0;
  } catch (error) {
    return operatorFailure(error, output);
  } finally {
    await context.close();
  }
}
