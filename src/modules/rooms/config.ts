/**
 * The configuration keys the rooms module reads: its slice of the gateway's config
 * (app/config.ts composes it; its `Config` satisfies this structurally).
 */
export interface RoomsConfig {
  /** Largest `payload` field in room and relay frames, measured as JSON. */
  readonly maxPayloadBytes: number;
  /** Deepest nesting the relay's scanner accepts inside a frame (as the generic decoder does). */
  readonly maxFrameDepth: number;
  /** Per-connection relay budgets (token buckets, burst = 2 s worth): SDP and ICE apart. */
  readonly relaySdpPerSecond: number;
  readonly relayIcePerSecond: number;
  /** Rate-limited relays tolerated per 10 s before the socket is closed with 4029. */
  readonly rateLimitStrikes: number;
  /**
   * Room actors idle this long are dropped and reloaded from the log by the next command: the
   * relay needs only RoomMembers, so an open room with quiet members needs no actor. The bound
   * caps the actors a burst of distinct open rooms leaves after a sweep.
   */
  readonly roomIdleSeconds: number;
  readonly roomMaxActors: number;
  readonly roomSweepSeconds: number;
}
