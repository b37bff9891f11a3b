/**
 * Events of an SFU server stream (`sfu-<address>`). Field names inside rooms and tasks are
 * the ODIN grid's wire names (`ban_time`, `user_data`, `{secs, nanos}`), so a task is handed
 * to a server exactly as it was recorded.
 */
export const SFU_CATEGORY = 'sfu';

/** [namespace, name]: the namespace is the customer's (or its key's), the name the client's. */
export type RoomId = [namespace: string, name: string];

export interface Duration {
  secs: number;
  nanos: number;
}

export interface ReportedRoom {
  id: RoomId;
  customer: string;
  age: Duration;
  peers: number;
}

export type SfuTask =
  | { task: 'RoomClose'; id: RoomId; ban_time: Duration }
  | { task: 'RoomUpdate'; id: RoomId; user_data: number[] }
  | { task: 'RoomBanClient'; id: RoomId; user_id: string; ban_time: Duration }
  | { task: 'RoomSendMessage'; id: RoomId; user_id: string; message: number[] };

export type SfuTaskName = SfuTask['task'];

export interface QueuedTask {
  /** Unique within the server's stream (`t<sequence>`). */
  taskId: string;
  task: SfuTask;
  queuedAt: number;
}

export interface SfuServerRegisteredData {
  address: string;
  version: string;
  /** Key id of the server's derived key (room tokens for it carry this `kid`). */
  keyId: string;
  registeredAt: number;
}

export interface SfuServerReportedData {
  address: string;
  version: string;
  load: number;
  clients: number;
  /** The rooms the server hosts and owns; rooms it reported but another server owns are not here. */
  rooms: ReportedRoom[];
  reportedAt: number;
}

export interface SfuRoomPlacedData {
  room: RoomId;
  customer: string;
  placedAt: number;
  /** Until then the placement holds even if the server does not report the room (the room token's lifetime). */
  expiresAt: number;
}

export interface SfuRoomCollidedData {
  room: RoomId;
  customer: string;
  /** The server that owns the room; the reporting server gets a RoomClose task. */
  owner: string;
  collidedAt: number;
}

export interface SfuTaskQueuedData extends QueuedTask {
  /** `api`: a room API call; `collision`: the gateway closing a room another server owns. */
  reason: 'api' | 'collision';
}

export interface SfuTasksHandedOutData {
  tasks: QueuedTask[];
  handedOutAt: number;
}

export interface SfuServerDisabledData {
  /** When the server was last heard from (or the gateway started, if later). */
  silentSince: number;
  disabledAt: number;
}

export interface SfuServerRemovedData {
  silentSince: number;
  /** Tasks never handed out: the server is gone, so are its rooms. */
  droppedTaskIds: string[];
  removedAt: number;
}

export type SfuEvent =
  | { type: 'SfuServerRegistered'; data: SfuServerRegisteredData }
  | { type: 'SfuServerReported'; data: SfuServerReportedData }
  | { type: 'SfuRoomPlaced'; data: SfuRoomPlacedData }
  | { type: 'SfuRoomCollided'; data: SfuRoomCollidedData }
  | { type: 'SfuTaskQueued'; data: SfuTaskQueuedData }
  | { type: 'SfuTasksHandedOut'; data: SfuTasksHandedOutData }
  | { type: 'SfuServerDisabled'; data: SfuServerDisabledData }
  | { type: 'SfuServerRemoved'; data: SfuServerRemovedData };

export const SFU_EVENT_TYPES: ReadonlySet<string> = new Set<SfuEvent['type']>([
  'SfuServerRegistered',
  'SfuServerReported',
  'SfuRoomPlaced',
  'SfuRoomCollided',
  'SfuTaskQueued',
  'SfuTasksHandedOut',
  'SfuServerDisabled',
  'SfuServerRemoved',
]);

/**
 * Narrows a stored event to an SFU event by its type. The type is enough: only decideSfu
 * writes these types, so their data has the shape it wrote (validated at the edge before).
 */
export function isSfuEvent<Event extends { type: string; data: unknown }>(event: Event): event is Event & SfuEvent {
  return SFU_EVENT_TYPES.has(event.type);
}
