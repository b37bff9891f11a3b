// The room API benches' customer (bench/http/connect.mjs, connect-micro.mjs): unlimited, so the
// licence check is paid but never refuses, with one fresh access key whose TokenGenerator makes
// client tokens as customers' backends do.
import { TokenGenerator, generateAccessKey, getKeyId, loadAccessKey } from '@4players/odin-tokens';

export function benchCustomer(id = 'bench') {
  const accessKey = generateAccessKey();
  const pair = loadAccessKey(accessKey);
  const customer = {
    id,
    maxPeers: null,
    maxRooms: null,
    accessKeys: [{ publicKey: { kid: getKeyId(pair.publicKey), kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pair.publicKey).toString('base64url') } }],
  };
  return { customer, generator: new TokenGenerator(accessKey) };
}
