/**
 * The part of the WebSocket API the SDK uses: the browser's global `WebSocket` and the `ws`
 * package's class (Node 20 has no global one) both fit it, so the SDK imports neither.
 * Methods, not function-typed properties: TypeScript then accepts both classes' listener
 * signatures (their event types differ in detail).
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server chose. */
  readonly protocol: string;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'error', listener: (event: unknown) => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export const OPEN = 1;

/** The constructor given, else the environment's global one (browsers, Node 22 and later). */
export function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  if (given) return given;
  const ambient: unknown = Reflect.get(globalThis, 'WebSocket');
  if (typeof ambient === 'function') return ambient as WebSocketConstructor;
  throw new TypeError('no global WebSocket here (Node 20): pass one, e.g. new SwitchyardClient({ url, WebSocket }) with `import WebSocket from "ws"`');
}
