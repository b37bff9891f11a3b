import type { ReportedRoom, RoomId, SfuTask } from './sfu.events.js';

/** `sfu.GridConfig`: the server announces itself before it reports. */
export interface RegisterServer {
  type: 'RegisterServer';
  address: string;
  version: string;
  keyId: string;
  now: number;
}

/** A room the reporting server listed although another (active) server owns it. */
export interface RoomCollision {
  room: RoomId;
  customer: string;
  owner: string;
}

/** `sfu.Report`: load, clients and rooms; answered with the server's queued tasks. */
export interface ReportLoad {
  type: 'ReportLoad';
  address: string;
  version: string;
  keyId: string;
  load: number;
  clients: number;
  rooms: ReportedRoom[];
  /** Computed by the grid from every server's rooms (outside this aggregate's boundary). */
  collisions: RoomCollision[];
  /** Ban of a collided room on the reporting server: until its next report, at least. */
  collisionBanSeconds: number;
  now: number;
}

/** `Connect` chose this server for a room not placed yet. */
export interface PlaceRoom {
  type: 'PlaceRoom';
  room: RoomId;
  customer: string;
  expiresAt: number;
  now: number;
}

/** A room API call on a room this server hosts. */
export interface QueueTask {
  type: 'QueueTask';
  task: SfuTask;
  now: number;
}

/**
 * Timer commands from the grid scheduler (machines have no timers). `since` is the gateway's
 * start: a server cannot have reported while the gateway was down, so silence counts from
 * the later of its last report and the start.
 */
export interface DisableServer {
  type: 'DisableServer';
  since: number;
  disableAfterMs: number;
  now: number;
}

export interface RemoveServer {
  type: 'RemoveServer';
  since: number;
  removeAfterMs: number;
  now: number;
}

export type SfuCommand = RegisterServer | ReportLoad | PlaceRoom | QueueTask | DisableServer | RemoveServer;
