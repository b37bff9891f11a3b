import { randomBytes } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { isWrongLastSequence, openBucket } from './kv-buckets.js';
import { jetStreamReady } from './nats.js';

export const CLAIMS_BUCKET = 'switchyard_claims';
/** KV keys: subject tokens separated by dots, no leading or trailing dot. */
const CLAIM_NAME = /^[A-Za-z0-9_=/-]+(\.[A-Za-z0-9_=/-]+)*$/;

/**
 * Claims in the KV bucket `switchyard_claims`: names that exactly one caller cluster-wide
 * gets to hold (NodeDirectory exposes them). Only authenticated cluster members reach the
 * bucket (NATS auth).
 */
export class ClaimRegistry {
  /** Claims won here, with the revision that won them, so `release` removes only its own. */
  private readonly held = new Map<string, number>();

  private constructor(
    private readonly kv: KV,
    private readonly manager: JetStreamManager,
    private readonly node: string,
  ) {}

  static async open(connection: NatsConnection, node: string, replicas: number): Promise<ClaimRegistry> {
    // Read back through the stream leader (no direct get from a replica): whose a claim is
    // must never come from a replica that has not seen it yet.
    const kv = await openBucket(connection, CLAIMS_BUCKET, { replicas, history: 1, allow_direct: false });
    return new ClaimRegistry(kv, await jetStreamReady(connection), node);
  }

  /**
   * True for exactly one caller cluster-wide: a put of `name` in `switchyard_claims` that
   * JetStream accepts only while the key has no message at all (expected last subject
   * sequence 0). Used so that of all survivors one takes over a lost node's rooms and
   * sessions, and so that of two nodes claiming one room one wins. A claim stays until its
   * winner releases it.
   *
   * Why not KV `create`: on a key with a delete marker it falls back to "expected sequence =
   * the marker's", and NATS 2.9 does not enforce a non-zero expected sequence between
   * concurrent publishes to an R3 stream (measured: three re-claims after a release all won
   * in a fifth of the rounds); the check against 0 holds. So a release removes the claim's
   * message outright instead of leaving a marker, and a marker left by anyone else is purged
   * (it and nothing newer) before trying again.
   */
  async claim(name: string, holder: string): Promise<boolean> {
    assertClaimName(name);
    // The nonce tells our own value apart when the answer to the put is lost on the way.
    const value = JSON.stringify({ holder, node: this.node, nonce: randomBytes(9).toString('base64url'), at: Date.now() });
    for (let attempt = 0; attempt < 3; attempt++) {
      let failure: unknown;
      try {
        const revision = await this.kv.put(name, value, { previousSeq: 0 });
        this.held.set(name, revision);
        return true;
      } catch (error) {
        failure = error;
      }
      const entry = await this.kv.get(name);
      if (entry?.operation === 'PUT') {
        if (entry.string() !== value) return false;
        this.held.set(name, entry.revision);
        return true;
      }
      // A timeout, and nothing stored: the caller may try again.
      if (!isWrongLastSequence(failure)) throw failure;
      if (entry) await this.purgeThrough(name, entry.revision);
    }
    return false;
  }

  /** Gives up a claim won here, if nobody replaced it since. Returns whether it was held and released. */
  async release(name: string): Promise<boolean> {
    const revision = this.held.get(name);
    if (revision === undefined) return false;
    this.held.delete(name);
    return (await this.purgeThrough(name, revision)) > 0;
  }

  /** Removes the claim's messages up to `revision` (nothing newer), leaving no marker. */
  private async purgeThrough(name: string, revision: number): Promise<number> {
    const { purged } = await this.manager.streams.purge(`KV_${CLAIMS_BUCKET}`, { filter: `$KV.${CLAIMS_BUCKET}.${name}`, seq: revision + 1 });
    return purged;
  }

  /** Who holds a claim now (the `holder` its winner gave), or undefined. */
  async holderOf(name: string): Promise<string | undefined> {
    assertClaimName(name);
    const entry = await this.kv.get(name);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return holderIn(entry.string());
  }
}

function assertClaimName(name: string): void {
  if (name.length > 255 || !CLAIM_NAME.test(name)) throw new Error(`claim name ${JSON.stringify(name)} must be dot-separated tokens of A-Z, a-z, 0-9, "_", "-", "/", "="`);
}

function holderIn(text: string): string | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && 'holder' in value && typeof value.holder === 'string' ? value.holder : undefined;
  } catch {
    return undefined;
  }
}
