import { describe, expect, it } from 'vitest';
import { DISCONNECT, reconnectAllowed } from '../../src/core/disconnect.js';

describe('the Disconnect catalogue (PROTOCOL.md section 2)', () => {
  it("agrees with the close-code ranges: 4000-4499 may reconnect, 4500-4999 may not, 1000 is the client's own leaving", () => {
    for (const [name, disconnect] of Object.entries(DISCONNECT)) {
      expect(reconnectAllowed(disconnect.code), name).toBe(disconnect.reconnect);
      expect(disconnect.reason.length, name).toBeGreaterThan(0);
      // A close frame's reason is at most 123 bytes (RFC 6455 5.5).
      expect(Buffer.byteLength(disconnect.reason), name).toBeLessThanOrEqual(123);
    }
  });

  it('has one entry per code', () => {
    const codes = Object.values(DISCONNECT).map((disconnect) => disconnect.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('names the codes the protocol lists', () => {
    expect(DISCONNECT.shuttingDown.code).toBe(1001);
    expect(DISCONNECT.frameTooLarge.code).toBe(1009);
    expect(DISCONNECT.slowConsumer.code).toBe(4008);
    expect(DISCONNECT.rateLimited.code).toBe(4029);
    expect(DISCONNECT.badFrames.code).toBe(4400);
    expect(DISCONNECT.userDisabled.code).toBe(4501);
    expect(DISCONNECT.kicked.code).toBe(4503);
  });
});
