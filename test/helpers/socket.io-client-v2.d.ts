/**
 * The little of socket.io-client 2.x (installed as `socket.io-client-v2`, no types of its
 * own) that the tests use, including the internals needed to send events the 2.x client
 * reserves for itself (`ping`, `pong`, `error`, ...).
 */
declare module 'socket.io-client-v2' {
  export interface V2Packet {
    type: number;
    nsp?: string;
    id?: number;
    data?: unknown[];
  }

  export interface V2Manager {
    on(event: string, listener: (...args: any[]) => void): V2Manager;
    engine: { id: string; close(): void; transport: { name: string } };
  }

  export interface V2Socket {
    id: string;
    connected: boolean;
    nsp: string;
    io: V2Manager;
    ids: number;
    acks: Record<number, (...args: unknown[]) => void>;
    on(event: string, listener: (...args: any[]) => void): V2Socket;
    once(event: string, listener: (...args: any[]) => void): V2Socket;
    off(event: string, listener?: (...args: any[]) => void): V2Socket;
    emit(event: string, ...args: unknown[]): V2Socket;
    packet(packet: V2Packet): void;
    onevent(packet: V2Packet): void;
    close(): V2Socket;
    disconnect(): V2Socket;
  }

  function lookup(url: string, options?: Record<string, unknown>): V2Socket;
  export default lookup;
}
