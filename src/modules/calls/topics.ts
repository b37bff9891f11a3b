import type { ClientConnection } from '../../edge/index.js';
import {
  CALL_TOPICS,
  callInstanceData,
  callItemData,
  clientWebrtcAssign,
  clientWebrtcCallback,
  consumerWebrtcStart,
  type CallView,
} from '../../protocol/topics/calls.js';
import { SERVICE_TOPICS } from '../../protocol/topics/extream.js';
import { commandMetadata, defineCommandTopic, type AnyTopic, type CommandOutcome, type GuestPrincipal, type TopicRequest, type TopicSchema } from '../../runtime/index.js';
import type { JoinExtension, JoinedItem } from '../itineraries/index.js';
import type { CallsConfig } from './config.js';
import type { OfferDispatcher } from './dispatch.js';
import { modeOf, partyOf, requireParty, type CallOperators } from './parties.js';
import type { CallPresence } from './presence.js';
import type { CallDirectory, CallRecord } from './projection.js';
import type { CallContext, CallOutcome, Calls } from './service.js';
import { callView, queuePositions } from './views.js';

export interface CallTopicDependencies {
  calls: Calls;
  directory: CallDirectory;
  presence: CallPresence;
  operators: CallOperators;
  dispatcher: OfferDispatcher;
  config: Pick<CallsConfig, 'callEndedListed'>;
}

interface Viewer {
  party?: string | undefined;
  operator?: boolean;
}

/** A call as `viewer` sees it: its place in the queue, its own part (consumers) or the offer (operators). */
function viewOf(calls: Calls, directory: CallDirectory, call: CallRecord, viewer: Viewer): CallView {
  return callView(call, {
    nameOf: (party) => calls.nameOf(party),
    queuePosition: call.status === 'queued' ? (queuePositions(directory.queue(call.itemId)).get(call.instanceId) ?? null) : null,
    ...(viewer.party === undefined ? {} : { viewer: viewer.party }),
    ...(viewer.operator ? { operatorView: true } : {}),
  });
}

/**
 * What `consumer_webrtc_get` (the item join, itineraries' topic) adds for a webrtc item:
 * `call`, the caller's current call on the item (its instance, status, queue position, its
 * own part), or the item's running group call, or null; `waiting`, whether the caller now
 * waits on the item for a group call's host; `operator`, whether it operates the item's
 * calls. The join also puts the connection on the item, so rings and offers reach it.
 */
export function callJoinExtension({ calls, directory, operators, dispatcher }: Pick<CallTopicDependencies, 'calls' | 'directory' | 'operators' | 'dispatcher'>): JoinExtension {
  return ({ client, item }) => {
    const party = partyOf(client.principal);
    const operator = operators.isOperator(client.principal, item);
    if (party !== undefined) calls.enter(client, item, party);
    if (party !== undefined && operator) void dispatcher.dispatch(item.itemId);
    const call = calls.currentCall(item, party);
    // Before a group call's host starts it, a consumer on the item waits to be let in with the others.
    const waiting = party !== undefined && !operator && modeOf(item) === 'group' && call === undefined;
    return { call: call ? viewOf(calls, directory, call, { party, operator }) : null, waiting, operator };
  };
}

/** A guest's token is for one item: its calls, nothing else's. */
const ownItemOfGuest = (principal: GuestPrincipal, data: { id: string }): boolean => data.id === principal.itemId;

/**
 * The call topics of PROTOCOL.md section 8, answered the Extream way (receipt `ex-collab`
 * after the commit, then the result). Consumer topics need a signed-in user or a guest of the
 * item, the item's event admitting them and its criteria met; client topics an operator of the
 * item (`operate_webrtc`, or named in its `operators`). Refusals append nothing.
 */
export function callTopics({ calls, directory, presence, operators, dispatcher, config }: CallTopicDependencies): AnyTopic<ClientConnection>[] {
  const contextOf = (request: TopicRequest<unknown, ClientConnection>): CallContext => ({ ...commandMetadata(request), now: request.now });
  const view = (call: CallRecord, viewer: Viewer): CallView => viewOf(calls, directory, call, viewer);

  const answer = (outcome: CallOutcome, viewer: Viewer): CommandOutcome => ({
    position: outcome.position,
    status: outcome.created ? 201 : 200,
    response: outcome.call ? view(outcome.call, viewer) : null,
  });

  const topic = <Data extends { id: string }>(
    name: string,
    schema: TopicSchema<Data>,
    guests: boolean,
    execute: (request: TopicRequest<Data, ClientConnection>, item: JoinedItem, context: CallContext) => Promise<CommandOutcome>,
  ) =>
    defineCommandTopic<Data, ClientConnection>({
      name,
      schema,
      serviceTopic: SERVICE_TOPICS.collab,
      requiresLogin: true,
      ...(guests ? { admitGuest: ownItemOfGuest } : {}),
      execute: (request) => execute(request, calls.requireItem(request.data.id), contextOf(request)),
    });

  /** An operator's command: the caller operates the item's calls, and is on the item from now on (offers reach it). */
  const operatorTopic = <Data extends { id: string }>(
    name: string,
    schema: TopicSchema<Data>,
    execute: (request: TopicRequest<Data, ClientConnection>, item: JoinedItem, operator: string, context: CallContext) => Promise<CommandOutcome>,
  ) =>
    topic(name, schema, false, async (request, item, context) => {
      const operator = operators.require(request.client.principal, item);
      presence.enter(item.itemId, request.client, operator, true);
      const outcome = await execute(request, item, operator, context);
      // A present operator is one more to offer the item's waiting calls to.
      void dispatcher.dispatch(item.itemId);
      return outcome;
    });

  const consumerTopics = [
    topic(CALL_TOPICS.consumerRead, callItemData, true, async ({ client }, item) => {
      const party = calls.admitConsumer(client.principal, item);
      calls.enter(client, item, party);
      const list = directory.ofParty(item.itemId, party, config.callEndedListed).map((call) => view(call, { party }));
      return { response: list, meta: { items: list.length } };
    }),
    topic(CALL_TOPICS.consumerStart, consumerWebrtcStart, true, async ({ client, data }, item, context) => {
      const outcome = await calls.start(client, item, { participants: data.participants, memorable: data.generator === 'memorable' }, context);
      const party = requireParty(client.principal);
      // Group, before its host starts: the caller waits on the item and is let in with the others.
      if (!outcome.call) return { response: { item: item.itemId, instance: null, mode: 'group', status: 'waiting' } };
      return answer(outcome, { party });
    }),
    topic(CALL_TOPICS.consumerCallback, callItemData, true, async ({ client }, item, context) =>
      answer(await calls.requestCallback(client, item, context), { party: requireParty(client.principal) }),
    ),
    topic(CALL_TOPICS.consumerAccept, callInstanceData, true, async ({ client, data }, item, context) =>
      answer(await calls.accept(client, item, data.instance, context), { party: requireParty(client.principal) }),
    ),
    topic(CALL_TOPICS.consumerLeave, callInstanceData, true, async ({ client, data }, item, context) =>
      answer(await calls.leave(client, item, data.instance, context), { party: requireParty(client.principal) }),
    ),
    topic(CALL_TOPICS.consumerEnd, callInstanceData, true, async ({ client, data }, item, context) =>
      answer(await calls.end(client, item, data.instance, context), { party: requireParty(client.principal) }),
    ),
  ];

  const operator = { operator: true };
  const clientTopics = [
    operatorTopic(CALL_TOPICS.clientGet, callItemData, async (_request, item) => {
      const see = (call: CallRecord) => view(call, operator);
      const live = directory.live(item.itemId);
      return {
        response: {
          item: item.itemId,
          queue: directory.queue(item.itemId).map(see),
          active: live.filter((call) => call.status !== 'queued').map(see),
          ended: directory.ended(item.itemId, config.callEndedListed).map(see),
          waiting: presence.waiting(item.itemId).length,
          operators: presence.operators(item.itemId),
        },
      };
    }),
    operatorTopic(CALL_TOPICS.clientStart, callItemData, async ({ client }, item, host, context) => answer(await calls.startGroup(client, item, host, context), operator)),
    operatorTopic(CALL_TOPICS.clientActivate, callInstanceData, async ({ client, data }, item, self, context) => {
      if (client.closed) return answer(await calls.assign(item, data.instance, calls.presentOperator(item, self), self, context), operator);
      return answer(await calls.assign(item, data.instance, { party: self, peerId: client.id }, self, context), operator);
    }),
    operatorTopic(CALL_TOPICS.clientAssign, clientWebrtcAssign, async ({ data }, item, self, context) =>
      answer(await calls.assign(item, data.instance, calls.presentOperator(item, data.operator), self, context), operator),
    ),
    operatorTopic(CALL_TOPICS.clientRecall, callInstanceData, async ({ data }, item, self, context) => answer(await calls.recall(item, data.instance, self, context), operator)),
    operatorTopic(CALL_TOPICS.clientCallback, clientWebrtcCallback, async ({ client, data }, item, self, context) =>
      answer(await calls.callBack(client, item, { instance: data.instance, user: data.user }, self, context), operator),
    ),
    operatorTopic(CALL_TOPICS.clientEnd, callInstanceData, async ({ client, data }, item, _self, context) => answer(await calls.end(client, item, data.instance, context), operator)),
  ];

  return [...consumerTopics, ...clientTopics];
}
