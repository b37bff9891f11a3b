import { z } from 'zod';
import { configInt as int, configList as list } from '../../core/index.js';
import { decodePublicKey, keyIdOf } from '../../auth/index.js';
import { CUSTOMER_ID_PATTERN } from './domain/index.js';

/**
 * Configuration keys of the room API and the SFU grid, spread into the one config schema
 * (src/app/config.ts). Every key is also `SWITCHYARD_<KEY>`; `customers` takes JSON there.
 */

const limit = z.number().int().min(0).nullable();

/** A public key as the ODIN gateway's config lists it: an Ed25519 JWK, `kid` optional. */
const publicKeySchema = z
  .object({
    kid: z.string().optional(),
    kty: z.literal('OKP').default('OKP'),
    crv: z.literal('Ed25519').default('Ed25519'),
    x: z.string(),
  })
  .superRefine((key, context) => {
    let bytes: Buffer;
    try {
      bytes = decodePublicKey(key.x);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message, path: ['x'] });
      return;
    }
    if (key.kid !== undefined && key.kid !== keyIdOf(bytes)) {
      context.addIssue({ code: 'custom', message: `kid ${key.kid} does not belong to this key (its kid is ${keyIdOf(bytes)})`, path: ['kid'] });
    }
  });

/** One customer, in the ODIN gateway's format; `null` limits mean unlimited. */
export const customerConfigSchema = z.object({
  id: z.string().regex(CUSTOMER_ID_PATTERN, 'customer ids are 1-128 characters of A-Z a-z 0-9 _ . @ : -'),
  maxPeers: limit,
  maxRooms: limit,
  accessKeys: z.array(z.object({ namespace: z.string().min(1).max(128).optional(), publicKey: publicKeySchema })).default([]),
});

export type CustomerConfig = z.output<typeof customerConfigSchema>;

export const customerListSchema = z.array(customerConfigSchema).superRefine((customers, context) => {
  const seen = new Set<string>();
  customers.forEach((customer, index) => {
    if (seen.has(customer.id)) context.addIssue({ code: 'custom', message: `customer ${customer.id} is listed twice`, path: [index, 'id'] });
    seen.add(customer.id);
  });
});

/** The customer list, or JSON text of it (from SWITCHYARD_CUSTOMERS). */
const customersInput = z.preprocess((value, context) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    // A union of "string | array" would only say "Invalid input" here.
    context.addIssue({ code: 'custom', message: 'customers must be JSON', input: value });
    return z.NEVER;
  }
}, customerListSchema);

export const gridConfigShape = {
  /** Customers and their public access keys (ODIN format). More come from the log and the customer API. */
  customers: customersInput.default([]),
  /** URL answering GET with the customer list (same format); fetched every `customerApiUpdateInterval` seconds. */
  customerApiUrl: z.string().url().optional(),
  customerApiUpdateInterval: int(5, 86_400).default(300),
  /** Bearer token sent to the customer API, if it needs one. */
  customerApiToken: z.string().min(1).optional(),
  /** Clock skew tolerated on room API tokens (`exp`, `nbf`), seconds. */
  odinTokenLeewaySeconds: int(0, 3600).default(30),
  /** Lifetime of the room tokens Connect issues, seconds; also how long an unreported placement holds. */
  roomTokenLifetimeSeconds: int(10, 86_400).default(300),
  /** Report interval recommended to SFU servers; a server silent for 1.5 intervals is disabled. */
  sfuReportIntervalSeconds: int(1, 3600).default(5),
  /** A disabled server silent this long is removed with its rooms and undelivered tasks. */
  sfuRemoveAfterSeconds: int(10, 30 * 86_400).default(600),
  /** Networks allowed to scrape an SFU server's metrics (recommended config). ODIN allowed everyone. */
  sfuMetricsAllowed: list.default(['127.0.0.1/8', '::1/128']),
  /** Secret SFU servers present on /internal (Bearer, or Basic with user `internalUser`). Unset: /internal is off. */
  internalToken: z.string().min(16, 'must be at least 16 characters').optional(),
  internalUser: z.string().min(1).default('sfu'),
  /** Largest room API request body (POST / and /rpc). */
  rpcMaxBodyBytes: int(1024, 16 * 1024 * 1024).default(64 * 1024),
  /** Largest /internal request body: reports list every room of a server. */
  internalMaxBodyBytes: int(1024, 256 * 1024 * 1024).default(8 * 1024 * 1024),
};

const gridConfigSchema = z.object(gridConfigShape);

/** The grid's part of the validated config. */
export type GridConfig = Readonly<z.output<typeof gridConfigSchema>>;
