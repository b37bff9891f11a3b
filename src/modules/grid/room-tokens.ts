import type { Logger } from 'pino';
import { RoomTokenSigner, deriveServerKey, loadOrCreateMasterKey, type Ed25519KeyPair, type VerifiedOdinToken } from '../../auth/index.js';

/**
 * The keys of the SFU servers and the room tokens Connect hands out for them. Each server's
 * key is derived from the gateway master key and its address, so the gateway never stores
 * per-server secrets and a server that comes back under the same address keeps its key.
 */
export class RoomTokens {
  private readonly masterKey: Buffer;
  /** Derivation is an HKDF plus a key import: done once per address for the process's lifetime. */
  private readonly serverKeys = new Map<string, Ed25519KeyPair>();
  private readonly signer = new RoomTokenSigner();
  /**
   * The last room token of each verified client token (the verifier hands out the same object
   * for every request with that token): a repeat Connect in the same second, to the same
   * server, gets it without building claims or a cache key. Entries go with their token.
   */
  private readonly lastIssued = new WeakMap<VerifiedOdinToken, { server: string; nbf: number; token: string }>();

  constructor(
    dataDir: string,
    logger: Logger,
    private readonly lifetimeSeconds: number,
  ) {
    const master = loadOrCreateMasterKey(dataDir);
    this.masterKey = master.key;
    if (master.generated) {
      logger.info({ path: master.path }, 'generated the gateway master key: SFU server keys derive from it, keep a backup');
    }
  }

  serverKey(address: string): Ed25519KeyPair {
    let key = this.serverKeys.get(address);
    if (!key) {
      key = deriveServerKey(this.masterKey, address);
      this.serverKeys.set(address, key);
    }
    return key;
  }

  /** The token a Connect's client presents to `server`, in the claims the ODIN gateway issues. */
  forConnect(token: VerifiedOdinToken, server: string, now: number): string {
    const nbf = Math.floor(now / 1000);
    const last = this.lastIssued.get(token);
    if (last && last.server === server && last.nbf === nbf) return last.token;
    const issued = this.signer.sign(this.serverKey(server), {
      uid: token.userId,
      cid: token.key.customerId,
      rid: token.rid,
      nsp: token.key.namespace,
      adr: server,
      sub: 'connect',
      aud: 'sfu',
      nbf,
      exp: nbf + this.lifetimeSeconds,
    });
    this.lastIssued.set(token, { server, nbf, token: issued });
    return issued;
  }
}
