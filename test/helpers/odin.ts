import { TokenGenerator, generateAccessKey, getKeyId, loadAccessKey } from '@4players/odin-tokens';
import type { TestGateway } from './gateway.js';

/** Internal credentials the grid tests configure (16+ characters, as the config demands). */
export const INTERNAL_TOKEN = 'grid-tests-internal-secret-0123456789';

export const ALL_METHODS = ['Connect', 'RoomClose', 'RoomUpdate', 'RoomBanClient', 'RoomSendMessage'];

export interface TestCustomer {
  id: string;
  accessKey: string;
  keyId: string;
  /** The ODIN config entry (public key only). */
  config: { id: string; maxPeers: number | null; maxRooms: number | null; accessKeys: { publicKey: { kid: string; kty: 'OKP'; crv: 'Ed25519'; x: string }; namespace?: string }[] };
  generator: TokenGenerator;
}

/** A customer with a fresh access key, made by the real @4players/odin-tokens package. */
export function testCustomer(id: string, maxPeers: number | null = null, maxRooms: number | null = null, namespace?: string): TestCustomer {
  const accessKey = generateAccessKey();
  const pair = loadAccessKey(accessKey);
  const keyId = getKeyId(pair.publicKey);
  return {
    id,
    accessKey,
    keyId,
    config: {
      id,
      maxPeers,
      maxRooms,
      accessKeys: [
        {
          publicKey: { kid: keyId, kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pair.publicKey).toString('base64url') },
          ...(namespace ? { namespace } : {}),
        },
      ],
    },
    generator: new TokenGenerator(accessKey),
  };
}

/** A room API token as an ODIN customer's backend makes it. */
export function gatewayToken(customer: TestCustomer, rid: string | string[], uid = 'user-1', subject: string | string[] = ALL_METHODS, lifetime = 300): string {
  return customer.generator.createToken(rid, uid, { audience: 'gateway', subject, lifetime });
}

export interface RpcAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON body, undefined for 204. */
  body: any;
}

export async function post(url: string, body: string, headers: Record<string, string>): Promise<RpcAnswer> {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** One JSON-RPC call to the room API. */
export function rpc(gateway: TestGateway, token: string | undefined, method: string, params: unknown = {}, id: number | string = 1, path = '/'): Promise<RpcAnswer> {
  return post(gateway.url(path), JSON.stringify({ jsonrpc: '2.0', id, method, params }), {
    'content-type': 'application/json',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  });
}

/** One JSON-RPC call to /internal with the tests' Bearer token. */
export function internal(gateway: TestGateway, method: string, params: unknown = {}, authorization = `Bearer ${INTERNAL_TOKEN}`): Promise<RpcAnswer> {
  return post(gateway.url('/internal'), JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), {
    'content-type': 'application/json',
    authorization,
  });
}

/** Config overrides for a gateway serving these customers, with /internal enabled. */
export function gridOverrides(customers: TestCustomer[], extra: Record<string, string> = {}): Record<string, string> {
  return { customers: JSON.stringify(customers.map((customer) => customer.config)), internalToken: INTERNAL_TOKEN, ...extra };
}

/**
 * Waits until `check` resolves truthy, re-checking every few milliseconds: for conditions met
 * by another process or a poller (the CLI's events, the customer API). The deadline is a hang
 * guard only, far beyond any healthy wait.
 */
export async function eventually<T>(check: () => Promise<T> | T, description: string, guardMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + guardMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition never held: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
