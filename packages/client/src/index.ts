/**
 * @switchyard/client: the typed SDK of the Switchyard gateway (browsers and Node), over the
 * native socket `/ws` with JSON or MessagePack frames, with reconnect and resume.
 */
export { SwitchyardClient, type ClientState, type CommandOptions, type RequestOptions } from './client.js';
export { SwitchyardError, isSwitchyardError, type ClientErrorCode, type Receipt, type SwitchyardErrorCode } from './errors.js';
export type { AuthOptions, ClientEvents, ClientOptions, LifecycleEvents, PushMeta, ReconnectOptions, RestartInfo, RestartReason } from './options.js';
export type { Answer, AnswerOf, CommandData, CommandEvent, CommandMap, CommandResponse, CommandResult, PushEvent, PushMap, RequestData, RequestEvent, RequestMap } from './topics.js';
export type * from './views.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { SUBPROTOCOLS, type CodecName } from './wire.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
