import type { VerifiedOdinToken } from '../../auth/index.js';
import type { Clock } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { durationOf, type RoomId, type SfuTask } from './domain/index.js';
import type { GridDirectory } from './directory.js';
import type { GatewayRoomHost, HostedRoomRef } from './room-host.js';
import type { SfuStreams } from './sfu-streams.js';

export type RoomTaskName = SfuTask['task'];

/** A room API call on a room, as the JSON-RPC params give it (durations in seconds). */
export type RoomTaskParams =
  | { task: 'RoomClose'; room_id: string; ban_time?: number | undefined }
  | { task: 'RoomUpdate'; room_id: string; user_data: number[] }
  | { task: 'RoomBanClient'; room_id: string; user_id: string; ban_time?: number | undefined }
  | { task: 'RoomSendMessage'; room_id: string; user_id: string; message: number[] };

/**
 * RoomClose / RoomUpdate / RoomBanClient / RoomSendMessage: acted on at once when the gateway
 * hosts the room itself, otherwise queued on the stream of the SFU server hosting it, which
 * picks the task up with its next report.
 */
export class RoomTasks {
  constructor(
    private readonly directory: GridDirectory,
    private readonly streams: SfuStreams,
    private readonly clock: Clock,
    /** Replaceable: the rooms module's host is known only once the modules are wired. */
    public roomHost: GatewayRoomHost,
  ) {}

  async run(token: VerifiedOdinToken, params: RoomTaskParams): Promise<Record<string, never>> {
    const name = params.room_id;
    // ODIN checks only the first rid; any of the token's rooms is as good a grant.
    if (!token.rooms.some((rid) => name.startsWith(rid))) {
      throw new AppError('FORBIDDEN', "room_id is not covered by the token's rid");
    }
    const ref: HostedRoomRef = { customerId: token.key.customerId, namespace: token.key.namespace, name };
    if (await this.actOnGatewayRoom(ref, params)) return {};
    const id: RoomId = [token.key.namespace, name];
    const host = this.directory.host(id, this.clock.now());
    if (!host) throw new AppError('NOT_FOUND', 'room not found');
    await this.streams.execute(host.server, { type: 'QueueTask', task: taskOf(id, params), now: this.clock.now() });
    return {};
  }

  private actOnGatewayRoom(ref: HostedRoomRef, params: RoomTaskParams): boolean | Promise<boolean> {
    switch (params.task) {
      case 'RoomClose':
        return this.roomHost.close(ref, params.ban_time ?? 0);
      case 'RoomUpdate':
        return this.roomHost.update(ref, Uint8Array.from(params.user_data));
      case 'RoomBanClient':
        return this.roomHost.ban(ref, params.user_id, params.ban_time ?? 0);
      case 'RoomSendMessage':
        return this.roomHost.sendMessage(ref, params.user_id, Uint8Array.from(params.message));
    }
  }
}

/** The task as the SFU server receives it: ODIN's wire names, durations as `{secs, nanos}`. */
function taskOf(id: RoomId, params: RoomTaskParams): SfuTask {
  switch (params.task) {
    case 'RoomClose':
      return { task: 'RoomClose', id, ban_time: durationOf(params.ban_time ?? 0) };
    case 'RoomUpdate':
      return { task: 'RoomUpdate', id, user_data: params.user_data };
    case 'RoomBanClient':
      return { task: 'RoomBanClient', id, user_id: params.user_id, ban_time: durationOf(params.ban_time ?? 0) };
    case 'RoomSendMessage':
      return { task: 'RoomSendMessage', id, user_id: params.user_id, message: params.message };
  }
}
