import { parseArgs } from 'node:util';
import { generateAccessKey, loadAccessKey } from '../auth/odin-keys.js';
import type { Config } from '../app/config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { streamId } from '../core/ids.js';
import {
  CUSTOMER_CATEGORY,
  CUSTOMER_ID_PATTERN,
  customerAggregate,
  type CustomerCommand,
  type CustomerContext,
  type customerMachine,
} from '../modules/grid/domain/index.js';
import { ActorRuntime } from '../runtime/index.js';
import { openOperatorLog, operatorFailure } from './context.js';
import { table, type Output } from './output.js';

export const CUSTOMERS_USAGE = `  customers add --id C --max-peers N --max-rooms N [--namespace NS]   -> access key, shown once
  customers keys --id C [--add [--namespace NS] | --revoke KEY_ID]      -> key ids (secrets are never shown again)
  customers limits --id C --max-peers N --max-rooms N                  (N: a number or "unlimited")
  customers list`;

const OPERATOR = { actor: 'operator' };

/** `unlimited` or a whole number. */
function limitFlag(name: string, value: string | undefined): number | null {
  if (value === undefined) throw new AppError('BAD_REQUEST', `missing --${name} (a number or "unlimited")`);
  if (value === 'unlimited') return null;
  if (!/^\d{1,9}$/.test(value)) throw new AppError('BAD_REQUEST', `--${name} must be a whole number or "unlimited"`);
  return Number(value);
}

const showLimit = (value: number | null): string => (value === null ? 'unlimited' : String(value));

/**
 * `switchyard customers ...`: room API customers (ODIN licensees) and their access keys, as
 * events in the log. A running gateway picks them up within a second. Access keys are made
 * here, printed once and forgotten: the log holds only public keys.
 */
export async function customersCommand(argv: string[], config: Config, output: Output, clock: Clock = systemClock): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      id: { type: 'string' },
      'max-peers': { type: 'string' },
      'max-rooms': { type: 'string' },
      namespace: { type: 'string' },
      add: { type: 'boolean' },
      revoke: { type: 'string' },
    },
  });
  const [verb] = positionals;
  const store = await openOperatorLog(config, clock);
  const runtime = new ActorRuntime(store);
  runtime.register(customerAggregate);
  const run = (customerId: string, command: CustomerCommand) => runtime.execute(streamId(CUSTOMER_CATEGORY, customerId), command, OPERATOR);
  const customerOf = (customerId: string): CustomerContext | undefined => {
    const snapshot = runtime.read<typeof customerMachine>(streamId(CUSTOMER_CATEGORY, customerId));
    return snapshot.matches('registered') ? snapshot.context : undefined;
  };
  const needId = (): string => {
    const id = values.id;
    if (!id) throw new AppError('BAD_REQUEST', 'missing --id');
    if (!CUSTOMER_ID_PATTERN.test(id)) throw new AppError('BAD_REQUEST', 'a customer id is 1-128 characters of A-Z a-z 0-9 _ . @ : -');
    return id;
  };
  const namespace = values.namespace ?? null;
  /** A new key for a customer: returns the access key, which exists nowhere else from now on. */
  const addKey = async (customerId: string) => {
    const accessKey = generateAccessKey();
    const pair = loadAccessKey(accessKey);
    await run(customerId, {
      type: 'AddCustomerKey',
      keyId: pair.keyId,
      publicKey: pair.publicKeyBytes.toString('base64url'),
      namespace,
      now: clock.now(),
    });
    return { accessKey, keyId: pair.keyId };
  };

  try {
    if (namespace !== null && (namespace.length === 0 || namespace.length > 128)) throw new AppError('BAD_REQUEST', '--namespace is 1-128 characters');
    switch (verb) {
      case 'add': {
        const customerId = needId();
        const maxPeers = limitFlag('max-peers', values['max-peers']);
        const maxRooms = limitFlag('max-rooms', values['max-rooms']);
        await run(customerId, { type: 'RegisterCustomer', customerId, maxPeers, maxRooms, now: clock.now() });
        const { accessKey, keyId } = await addKey(customerId);
        if (values.json) output.out(JSON.stringify({ customerId, maxPeers, maxRooms, keyId, accessKey }));
        else {
          output.out(`customer ${customerId} (max peers ${showLimit(maxPeers)}, max rooms ${showLimit(maxRooms)})`);
          output.out(`key id      ${keyId}`);
          output.out(`access key  ${accessKey}`);
          output.out('The access key is shown this once and not stored: keep it now. It signs tokens with @4players/odin-tokens.');
        }
        return 0;
      }
      case 'keys': {
        const customerId = needId();
        if (!customerOf(customerId)) throw new AppError('NOT_FOUND', `no customer ${customerId} in the log (customers from the config file or the customer API are managed there)`);
        if (values.add && values.revoke) throw new AppError('BAD_REQUEST', 'use --add or --revoke, not both');
        if (values.add) {
          const { accessKey, keyId } = await addKey(customerId);
          if (values.json) output.out(JSON.stringify({ customerId, keyId, accessKey }));
          else {
            output.out(`key id      ${keyId}`);
            output.out(`access key  ${accessKey}`);
            output.out('The access key is shown this once and not stored: keep it now.');
          }
          return 0;
        }
        if (values.revoke) {
          await run(customerId, { type: 'RevokeCustomerKey', keyId: values.revoke, now: clock.now() });
          if (values.json) output.out(JSON.stringify({ customerId, revoked: values.revoke }));
          else output.out(`revoked ${values.revoke}; tokens signed with it are refused within a second`);
          return 0;
        }
        const keys = Object.values(customerOf(customerId)!.keys);
        if (values.json) {
          output.out(JSON.stringify({ customerId, keys: keys.map(({ keyId, namespace: ns, addedAt }) => ({ keyId, namespace: ns, addedAt })) }));
        } else {
          const rows = keys.map((key) => [key.keyId, key.namespace ?? customerId, new Date(key.addedAt).toISOString()]);
          for (const line of table(['KEY ID', 'NAMESPACE', 'ADDED'], rows)) output.out(line);
        }
        return 0;
      }
      case 'limits': {
        const customerId = needId();
        const maxPeers = limitFlag('max-peers', values['max-peers']);
        const maxRooms = limitFlag('max-rooms', values['max-rooms']);
        await run(customerId, { type: 'ChangeCustomerLimits', maxPeers, maxRooms, now: clock.now() });
        if (values.json) output.out(JSON.stringify({ customerId, maxPeers, maxRooms }));
        else output.out(`customer ${customerId}: max peers ${showLimit(maxPeers)}, max rooms ${showLimit(maxRooms)}`);
        return 0;
      }
      case 'list': {
        const customers: CustomerContext[] = [];
        const seen = new Set<string>();
        for (const event of store.readAll({ type: 'CustomerRegistered' })) {
          const id = (event.data as { customerId: string }).customerId;
          if (seen.has(id)) continue;
          seen.add(id);
          const customer = customerOf(id);
          if (customer) customers.push(customer);
        }
        if (values.json) {
          for (const customer of customers) {
            output.out(JSON.stringify({ customerId: customer.customerId, maxPeers: customer.maxPeers, maxRooms: customer.maxRooms, keyIds: Object.keys(customer.keys) }));
          }
        } else {
          const rows = customers.map((customer) => [
            customer.customerId ?? '',
            showLimit(customer.maxPeers),
            showLimit(customer.maxRooms),
            Object.keys(customer.keys).join(' '),
          ]);
          for (const line of table(['CUSTOMER', 'MAX PEERS', 'MAX ROOMS', 'KEY IDS'], rows)) output.out(line);
        }
        return 0;
      }
      default:
        output.err(`unknown command "customers ${verb ?? ''}"\n${CUSTOMERS_USAGE}`);
        return 2;
    }
  } catch (error) {
    return operatorFailure(error, output);
  } finally {
    await store.close();
  }
}
