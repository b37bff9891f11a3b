import { rpcErrorOf } from '../../edge/index.js';
import type { VerifiedOdinToken } from '../../auth/index.js';
import { AppError } from '../../core/index.js';
import { RpcDispatcher, rpcMethod, type RpcMethod } from '../../protocol/index.js';
import {
  connectParams,
  gridConfigParams,
  infoParams,
  reportParams,
  roomBanClientParams,
  roomCloseParams,
  roomSendMessageParams,
  roomUpdateParams,
} from '../../protocol/topics/grid.js';
import type { GridService } from './grid-service.js';

/** What a room API call runs with: the verified token of its request. */
export interface PublicRpcContext {
  token: VerifiedOdinToken;
}

/** What an SFU server's call runs with: where it came from (its address if it names none). */
export interface InternalRpcContext {
  remoteAddress: string;
}

/** `POST /` and `/rpc`: the methods a customer token may call, each only if its `sub` lists it. */
export function publicDispatcher(grid: GridService): RpcDispatcher<PublicRpcContext> {
  // Each method has its own params type; the dispatcher validates before it calls.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const methods: RpcMethod<PublicRpcContext, any>[] = [
    rpcMethod('Connect', connectParams, (params, { token }: PublicRpcContext) => grid.connect(token, params)),
    rpcMethod('RoomClose', roomCloseParams, (params, { token }: PublicRpcContext) => grid.roomTask(token, { task: 'RoomClose', ...params })),
    rpcMethod('RoomUpdate', roomUpdateParams, (params, { token }: PublicRpcContext) => grid.roomTask(token, { task: 'RoomUpdate', ...params })),
    rpcMethod('RoomBanClient', roomBanClientParams, (params, { token }: PublicRpcContext) =>
      grid.roomTask(token, { task: 'RoomBanClient', ...params }),
    ),
    rpcMethod('RoomSendMessage', roomSendMessageParams, (params, { token }: PublicRpcContext) =>
      grid.roomTask(token, { task: 'RoomSendMessage', ...params }),
    ),
  ];
  // `sub` lists callable methods, case-insensitively (ODIN tokens say "connect"): each
  // method's lower-case name once, not per call.
  const subjectOf = new Map(methods.map((method) => [method.name, method.name.toLowerCase()]));
  return new RpcDispatcher<PublicRpcContext>(methods, rpcErrorOf, {
    authorize(method, { token }) {
      if (!token.methods.has(subjectOf.get(method.name)!)) throw new AppError('FORBIDDEN', `the token's sub does not allow ${method.name}`);
    },
    observe: (call) => grid.recordCall('public', call),
  });
}

/** `POST /internal`: SFU servers and operators, behind the internal credentials. */
export function internalDispatcher(grid: GridService): RpcDispatcher<InternalRpcContext> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const methods: RpcMethod<InternalRpcContext, any>[] = [
    rpcMethod('sfu.GridConfig', gridConfigParams, (params, { remoteAddress }: InternalRpcContext) => grid.gridConfig(params, remoteAddress)),
    rpcMethod('sfu.Report', reportParams, (params, { remoteAddress }: InternalRpcContext) => grid.report(params, remoteAddress)),
    rpcMethod('Info', infoParams, () => grid.info()),
  ];
  return new RpcDispatcher<InternalRpcContext>(methods, rpcErrorOf, { observe: (call) => grid.recordCall('internal', call) });
}
