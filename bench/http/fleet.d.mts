// Types of fleet.mjs for the TypeScript tests that drive it.
import type { KeyObject } from 'node:crypto';

export type RoomId = [namespace: string, name: string];

export interface Duration {
  secs: number;
  nanos: number;
}

export type SfuTask =
  | { task: 'RoomClose'; id: RoomId; ban_time: Duration }
  | { task: 'RoomUpdate'; id: RoomId; user_data: number[] }
  | { task: 'RoomBanClient'; id: RoomId; user_id: string; ban_time: Duration }
  | { task: 'RoomSendMessage'; id: RoomId; user_id: string; message: number[] };

export interface FakeRoom {
  id: RoomId;
  customer: string;
  peers: Map<string, number>;
  createdAt: number;
  userData: number[] | undefined;
  messages: { user_id: string; message: number[] }[];
}

export interface ReportParams {
  public_endpoint: string;
  version: string;
  load: number;
  clients: number;
  rooms: { id: RoomId; customer: string; age: Duration; peers: number }[];
}

export class RpcCallError extends Error {
  status: number;
  rpc: { code: number; message: string; data?: Record<string, unknown> } | undefined;
}

export function internalCall(url: string, authorization: string, method: string, params: unknown): Promise<any>;

export class FakeSfu {
  constructor(options: { url: string; authorization: string; address: string; version?: string; loadPerClient?: number });
  /** The gateway it talks to; tests point it at a restarted gateway. */
  url: string;
  readonly address: string;
  authorization: string;
  rooms: Map<string, FakeRoom>;
  roomBans: Map<string, number>;
  userBans: Map<string, number>;
  tasks: SfuTask[];
  ignoredTasks: SfuTask[];
  reports: number;
  publicKey: KeyObject | undefined;
  keyId: string | undefined;
  config: Record<string, any> | undefined;
  /** While true, report() sends nothing (a server gone quiet). */
  silent: boolean;
  readonly clients: number;
  readonly load: number;
  gridConfig(configToml?: string): Promise<string>;
  reportParams(now?: number): ReportParams;
  report(): Promise<SfuTask[]>;
  obey(task: SfuTask, now?: number): void;
  join(roomToken: string, now?: number): { id: RoomId; claims: Record<string, unknown> };
  host(id: RoomId, customer: string, peers?: number, now?: number): FakeRoom;
  room(id: RoomId): FakeRoom | undefined;
}

export class Fleet {
  servers: FakeSfu[];
  errors: unknown[];
  server(address: string): FakeSfu | undefined;
  reportAll(): Promise<Map<string, SfuTask[]>>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

export function startFleet(options: {
  url: string;
  token: string;
  count: number;
  host?: string;
  basePort?: number;
  prefix?: string;
  version?: string;
  auth?: 'bearer' | 'basic';
  user?: string;
  loadPerClient?: number;
}): Promise<Fleet>;
