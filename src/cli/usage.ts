import { CUSTOMERS_USAGE } from './customers.js';
import { DEMO_DATA_DETAILS, DEMO_DATA_USAGE } from './demo-data.js';
import { INVITATIONS_DETAILS, INVITATIONS_USAGE } from './invitations.js';
import { IDENTITY_USAGES } from './identity.js';
import { SYNC_USAGE } from './sync.js';
import { ZOOM_DETAILS, ZOOM_USAGE } from './zoom.js';

/**
 * The usage text of every command group. `switchyard --help` prints them all; `switchyard
 * <command> --help` (or `switchyard help <command>`) prints its own group's.
 */
const COMMAND_USAGES: Readonly<Record<string, string>> = {
  start: `  start    [--host H] [--port P] [--data DIR] [--config FILE] [--ssl --certificate FILE --privatekey FILE] [--log-level L]
           [--cluster nats://HOST:4222[,...]]                     -> join a cluster of gateway nodes over NATS JetStream`,
  events: `  events   [--data DIR] [--stream S] [--type A,B] [--after POS] [--limit N] [--follow] [--json]
  events   --types [--json]                                -> the event catalogue: every type, its stream, what it means`,
  replay: `  replay   [--data DIR] [--out FILE] [--json]`,
  ...IDENTITY_USAGES,
  customers: CUSTOMERS_USAGE,
  sync: SYNC_USAGE,
  'demo-data': DEMO_DATA_USAGE,
  invite: INVITATIONS_USAGE,
  uninvite: INVITATIONS_USAGE,
  zoom: ZOOM_USAGE,
};

/** Said once per group's help: what its options do, beyond the synopsis. */
const COMMAND_DETAILS: Readonly<Record<string, string>> = {
  events: `

  --stream S     only the events of one stream (e.g. room-lobby)
  --type A,B     only events of these types (comma-separated; see --types)
  --after POS    only events after this log position
  --limit N      at most N events
  --follow, -f   keep printing new events until interrupted
  --json         one JSON object a line; secrets are redacted either way`,
  'demo-data': DEMO_DATA_DETAILS,
  invite: INVITATIONS_DETAILS,
  uninvite: INVITATIONS_DETAILS,
  zoom: ZOOM_DETAILS,
};

// Ids made since 2026-12-02 start with a letter or digit (core/ids.ts); older ones may start with '-'.
const FOOTER = `An argument that starts with '-' (an id from an older log) goes after --: switchyard sync qr -- -fK2...
Every config key can also be set as SWITCHYARD_<KEY> (see README.md).`;

export const GLOBAL_USAGE = `usage: switchyard <command> [options]

commands:
${[...new Set(Object.values(COMMAND_USAGES))].join('\n')}

${FOOTER}`;

/** The usage of one command group, or undefined when it has none of its own. */
export function usageOf(command: string): string | undefined {
  if (!Object.hasOwn(COMMAND_USAGES, command)) return undefined;
  // The first line keeps the global form (`usage: switchyard <command>`), naming the command.
  return `usage: switchyard <command> [options], for <command> = ${command}:

${COMMAND_USAGES[command]}${COMMAND_DETAILS[command] ?? ''}

  --data DIR     the data directory (default ./data); --config FILE a JSON config file
${FOOTER}`;
}
