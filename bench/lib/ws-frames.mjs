// The raw WebSocket reading the benches' load generators share (bench/ws/load.mjs,
// bench/ws/relay-load.mjs, bench/cluster/relay-load.mjs): their clients are plain net.Sockets
// that parse server frames by hand, so the generator spends as little as it can per message.

/** A masked, empty pong: the answer to a server's ping (uWS pings carry no payload). */
export const PONG_FRAME = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

/**
 * Reads the header of the (unmasked, server-sent) frame at `offset` into `frame`
 * ({ opcode, start, end }: its payload is buffer[start, end)). False when the frame is not
 * all in `buffer` yet. One object reused by the caller, so reading allocates nothing.
 */
export function readFrame(buffer, offset, frame) {
  const length = buffer.length;
  if (length - offset < 2) return false;
  let size = buffer[offset + 1] & 0x7f;
  let header = 2;
  if (size === 126) {
    if (length - offset < 4) return false;
    size = buffer.readUInt16BE(offset + 2);
    header = 4;
  } else if (size === 127) {
    if (length - offset < 10) return false;
    size = Number(buffer.readBigUInt64BE(offset + 2));
    header = 10;
  }
  if (length - offset < header + size) return false;
  frame.opcode = buffer[offset] & 0x0f;
  frame.start = offset + header;
  frame.end = frame.start + size;
  return true;
}
