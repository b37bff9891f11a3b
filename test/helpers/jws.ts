import { createHmac, sign, type KeyObject } from 'node:crypto';

/**
 * Hand-made compact JWS for token tests: the forged-token suite needs byte-level control
 * (raw header and payload text, alg none, HMAC with a public key, odd encodings) that a JOSE
 * library refuses to produce. node:crypto only; jose stays the gateway's one JWT dependency.
 */

export const b64u = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');
export const json64 = (value: unknown): string => b64u(JSON.stringify(value));

export interface Segments {
  header: string;
  payload: string;
  signature: string;
}

export function split(token: string): Segments {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return { header, payload, signature };
}

export const decodeJson = (segment: string): Record<string, unknown> => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

export type Signer =
  | { alg: 'EdDSA'; key: KeyObject }
  | { alg: 'HS256'; secret: Buffer | string }
  | { alg: 'RS256'; key: KeyObject }
  | { alg: 'ES256'; key: KeyObject }
  | { alg: 'none' };

/** The signature segment of `signingInput` ("<header>.<payload>") under `signer`. */
export function signatureOf(signingInput: string, signer: Signer): string {
  const data = Buffer.from(signingInput, 'ascii');
  switch (signer.alg) {
    case 'EdDSA':
      return b64u(sign(null, data, signer.key));
    case 'HS256':
      return b64u(createHmac('sha256', signer.secret).update(data).digest());
    case 'RS256':
      return b64u(sign('sha256', data, signer.key));
    case 'ES256':
      return b64u(sign('sha256', data, { key: signer.key, dsaEncoding: 'ieee-p1363' }));
    case 'none':
      return '';
  }
}

/**
 * A compact JWS of a header and payload given as objects (JSON-encoded here) or as raw
 * segment text (used as is), signed by `signer`.
 */
export function compactJws(header: object | { raw: string }, payload: object | { raw: string }, signer: Signer): string {
  const segment = (part: object | { raw: string }) => ('raw' in part && typeof part.raw === 'string' ? part.raw : json64(part));
  const signingInput = `${segment(header)}.${segment(payload)}`;
  return `${signingInput}.${signatureOf(signingInput, signer)}`;
}
