import { generateAccessKey, getKeyId, loadAccessKey } from '@4players/odin-tokens';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { CustomerDirectory, definitionsFromConfig, type CustomerDefinition } from '../../src/modules/grid/customers.js';

const silent = pino({ level: 'silent' });

function odinCustomer(id: string, maxPeers: number | null, maxRooms: number | null, namespace?: string) {
  const pair = loadAccessKey(generateAccessKey());
  const kid = getKeyId(pair.publicKey);
  return {
    kid,
    entry: {
      id,
      maxPeers,
      maxRooms,
      accessKeys: [{ publicKey: { kid, kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pair.publicKey).toString('base64url') }, ...(namespace ? { namespace } : {}) }],
    },
  };
}

describe('customers in the config', () => {
  it('are read in the ODIN format, from the environment as JSON', () => {
    const acme = odinCustomer('acme', 10, null, 'acme-ns');
    const config = loadConfig({ env: { SWITCHYARD_CUSTOMERS: JSON.stringify([acme.entry]) } });
    const [definition] = definitionsFromConfig(config.customers);
    expect(definition).toMatchObject({ id: 'acme', maxPeers: 10, maxRooms: null, keys: [{ keyId: acme.kid, namespace: 'acme-ns' }] });
  });

  it.each([
    ['a kid that is not the key\'s', (entry: any) => (entry.accessKeys[0].publicKey.kid = 'AAAAAAAAAAAA'), /does not belong to this key/],
    ['a public key that is not 32 bytes', (entry: any) => (entry.accessKeys[0].publicKey.x = 'abc'), /32 bytes/],
    ['a negative limit', (entry: any) => (entry.maxRooms = -1), /maxRooms/],
    ['a missing limit', (entry: any) => delete entry.maxPeers, /maxPeers/],
    ['an id with a slash', (entry: any) => (entry.id = 'a/b'), /customer ids/],
  ])('refuse %s, naming the key', (_name, spoil, message) => {
    const { entry } = odinCustomer('acme', 1, 1);
    spoil(entry);
    expect(() => loadConfig({ env: { SWITCHYARD_CUSTOMERS: JSON.stringify([entry]) } })).toThrow(message);
  });

  it('refuse a customer listed twice and text that is not JSON', () => {
    const { entry } = odinCustomer('acme', 1, 1);
    expect(() => loadConfig({ env: { SWITCHYARD_CUSTOMERS: JSON.stringify([entry, entry]) } })).toThrow(/listed twice/);
    expect(() => loadConfig({ env: { SWITCHYARD_CUSTOMERS: '[{' } })).toThrow(/customers must be JSON/);
  });

  it('/internal needs a token of 16 characters or more', () => {
    expect(() => loadConfig({ env: { SWITCHYARD_INTERNAL_TOKEN: 'short' } })).toThrow(/internalToken/);
    expect(loadConfig({ env: { SWITCHYARD_INTERNAL_TOKEN: 'x'.repeat(16) } }).internalToken).toBe('x'.repeat(16));
    expect(loadConfig({}).internalToken).toBeUndefined();
  });
});

describe('the customer directory', () => {
  const definition = (id: string, keyIds: string[], limits: { maxPeers: number | null; maxRooms: number | null }): CustomerDefinition => ({
    id,
    ...limits,
    keys: keyIds.map((keyId) => ({ keyId, publicKey: Buffer.alloc(32, keyId.length), namespace: null })),
  });

  it('merges sources: keys are the union, limits come from the most dynamic source', () => {
    const directory = new CustomerDirectory(silent);
    directory.setSource('config', [definition('acme', ['k1'], { maxPeers: 1, maxRooms: 1 })]);
    directory.setSource('log', [definition('acme', ['k2'], { maxPeers: 2, maxRooms: 2 })]);
    expect(directory.licence('acme')).toMatchObject({ maxPeers: 2, maxRooms: 2 });
    directory.setSource('api', [definition('acme', ['k3'], { maxPeers: 3, maxRooms: null })]);
    expect(directory.licence('acme')).toMatchObject({ maxPeers: 3, maxRooms: null });
    expect(['k1', 'k2', 'k3'].map((kid) => directory.key(kid)?.customerId)).toEqual(['acme', 'acme', 'acme']);
    expect(directory.key('k1')?.namespace).toBe('acme');
    const generation = directory.generation;
    directory.setSource('api', []);
    expect(directory.key('k3')).toBeUndefined();
    expect(directory.licence('acme')).toMatchObject({ maxPeers: 2 });
    expect(directory.generation).toBeGreaterThan(generation);
  });

  it('refuses a key claimed by two customers for both', () => {
    const directory = new CustomerDirectory(silent);
    directory.setSource('config', [definition('acme', ['shared', 'a'], { maxPeers: null, maxRooms: null })]);
    directory.setSource('api', [definition('evil', ['shared'], { maxPeers: null, maxRooms: null })]);
    expect(directory.key('shared')).toBeUndefined();
    expect(directory.key('a')?.customerId).toBe('acme');
  });

  it('knows no key it was not given (no demo fallback)', () => {
    const directory = new CustomerDirectory(silent);
    expect(directory.key('anything')).toBeUndefined();
    expect(directory.licence('anyone')).toBeUndefined();
  });
});
