import { z } from 'zod';

/**
 * Params of the room API (`POST /`) and the SFU grid API (`POST /internal`), PROTOCOL.md
 * section 6, with ODIN's wire names. Unknown extra params are ignored, as the ODIN gateway
 * does, so ODIN clients that send more than we read keep working.
 */

const MAX_ROOM_ID = 512;
/** Ten years: longer bans are a mistake, not a policy. */
const MAX_BAN_SECONDS = 10 * 365 * 24 * 3600;
const MAX_BYTES = 64 * 1024;

const roomId = z.string().min(1, 'must not be empty').max(MAX_ROOM_ID);
const banTime = z.number().finite().min(0).max(MAX_BAN_SECONDS);
const bytes = z.array(z.number().int().min(0).max(255), 'must be an array of bytes (0-255)').max(MAX_BYTES);
const userId = z.string().min(1, 'must not be empty').max(MAX_ROOM_ID);

/** `host:port` (IPv6 in brackets): how clients reach an SFU server, and its identity here. */
export const endpointSchema = z
  .string()
  .max(255)
  .regex(/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/, 'must be host:port');

export const connectParams = z.object({
  /** ODIN: a server to place a new room on, if it is active. */
  preferred_server: endpointSchema.optional(),
});

export const roomCloseParams = z.object({ room_id: roomId, ban_time: banTime.optional() });
export const roomUpdateParams = z.object({ room_id: roomId, user_data: bytes });
export const roomBanClientParams = z.object({ room_id: roomId, user_id: userId, ban_time: banTime.optional() });
export const roomSendMessageParams = z.object({ room_id: roomId, user_id: userId, message: bytes });

const serverKind = z.literal('grid', 'only grid servers are supported').optional();
const version = z.string().min(1).max(128);

export const gridConfigParams = z.object({
  public_endpoint: endpointSchema.optional(),
  server: serverKind,
  version,
  /** The server's own configuration, TOML. */
  config: z.string().max(1024 * 1024),
});

const duration = z.object({ secs: z.number().int().min(0), nanos: z.number().int().min(0).max(999_999_999) });

export const reportedRoomSchema = z.object({
  id: z.tuple([z.string().max(MAX_ROOM_ID), z.string().min(1).max(MAX_ROOM_ID)]),
  customer: z.string().min(1).max(MAX_ROOM_ID),
  age: duration,
  peers: z.number().int().min(0).max(1_000_000),
});

export const reportParams = z.object({
  public_endpoint: endpointSchema.optional(),
  server: serverKind,
  version,
  load: z.number().finite().min(0).max(1_000_000),
  clients: z.number().int().min(0).max(100_000_000),
  rooms: z.array(reportedRoomSchema).max(1_000_000),
});

export const infoParams = z.object({});

export type ConnectParams = z.output<typeof connectParams>;
export type ReportParams = z.output<typeof reportParams>;
export type GridConfigParams = z.output<typeof gridConfigParams>;
