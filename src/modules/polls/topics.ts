import { AppError, type Principal } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { formatExtreamDateTime, SERVICE_TOPICS } from '../../protocol/topics/extream.js';
import { clientPollAdd, clientPollGet, consumerPollAnswer, POLL_TOPICS } from '../../protocol/topics/polls.js';
import { commandMetadata, defineCommandTopic, type AnyTopic, type TopicRequest } from '../../runtime/index.js';
import type { ItemModulePorts, JoinExtension } from '../itineraries/index.js';
import { loginRequired } from '../organisations/index.js';
import type { PollChoice } from './domain/index.js';
import type { PollReads } from './reads.js';
import type { PollCommandContext, PollItem, Polls } from './service.js';
import { operatorQuestion } from './views.js';

/** Who joins a poll's audience or its operators: `join(itemId, connection)`, bounded per connection, left on close. */
export interface PollMembership {
  join(itemId: string, connection: ClientConnection): unknown;
}

export interface PollTopicDependencies {
  polls: Polls;
  reads: PollReads;
  access: ItemModulePorts['access'];
  events: ItemModulePorts['events'];
  consumers: PollMembership;
  operators: PollMembership;
  maxTextLength: number;
}

/** The key a person's answers are kept under: a user, or a guest of the item. Undefined for anyone else. */
export function answererKeyOf(principal: Principal): string | undefined {
  if (principal.kind === 'user') return `user:${principal.userId}`;
  if (principal.kind === 'guest') return `guest:${principal.invitationId}`;
  return undefined;
}

/** Commands need someone signed in before anything is looked up: an anonymous socket learns nothing of what exists. */
function requireSignedIn(principal: Principal): void {
  if (principal.kind === 'anonymous' || principal.kind === 'mfa-pending' || principal.kind === 'app') throw loginRequired(principal);
}

const contextOf = (request: TopicRequest<unknown, ClientConnection>): PollCommandContext => ({ ...commandMetadata(request), now: request.now });

const forbidden = (message: string): AppError => new AppError('FORBIDDEN', message, { reason: 'unauthorized' });

/**
 * The poll topics of PROTOCOL.md section 8 (`ex-poll`), answered the Extream way: operators
 * (`manage_poll` in the item's organisation; crew and chief of its event may read) run the
 * poll with client_poll_get / client_poll_add; people answer with consumer_poll_answer.
 */
export function pollTopics({ polls, reads, access, events, consumers, operators, maxTextLength }: PollTopicDependencies): AnyTopic<ClientConnection>[] {
  /** Reading a poll's live state and every answer: its managers, and the event's crew and chief. */
  const requireReader = (principal: Principal, poll: PollItem): void => {
    const { item } = poll;
    if (access.can(principal, item.organisationId, 'manage_poll')) return;
    if (principal.kind === 'user') {
      const role = events.userTypeOf(item.eventId, principal.userId);
      if (role === 'crew' || role === 'chief') return;
    }
    throw forbidden('this needs the manage_poll permission in the organisation, or crew or chief in the event');
  };

  /** Whoever may answer: a user the event admits (public, or a member of its organisation), or a guest of this item. */
  const requireAnswerer = (principal: Principal, poll: PollItem): string => {
    const key = answererKeyOf(principal);
    if (key === undefined) throw forbidden('answers are given by people: sign in as a user');
    if (principal.kind === 'guest') return key;
    const event = events.get(poll.item.eventId);
    if (!event) throw new AppError('NOT_FOUND', 'unknown item', { errors: [{ path: 'id', message: 'unknown item' }] });
    if (!event.public && !access.isMember(principal, event.organisationId)) throw forbidden("this event is for its organisation's members");
    return key;
  };

  return [
    defineCommandTopic({
      name: POLL_TOPICS.clientGet,
      schema: clientPollGet,
      serviceTopic: SERVICE_TOPICS.poll,
      requiresLogin: true,
      authorize: (client) => requireSignedIn(client.principal),
      execute: async ({ client, data }) => {
        const poll = polls.pollItem(data.id);
        requireReader(client.principal, poll);
        // From now on this connection hears each answer (client_poll_answer).
        operators.join(poll.item.itemId, client);
        return { response: reads.operatorView(poll) };
      },
    }),
    defineCommandTopic({
      name: POLL_TOPICS.clientAdd,
      schema: clientPollAdd,
      serviceTopic: SERVICE_TOPICS.poll,
      requiresLogin: true,
      authorize: (client) => requireSignedIn(client.principal),
      execute: async (request) => {
        const { id, question, close } = request.data;
        const poll = polls.pollItem(id);
        access.require(request.client.principal, poll.item.organisationId, 'manage_poll');
        const closing = close === undefined ? undefined : close === true ? 'all' : typeof close === 'string' ? [close] : close;
        const outcome = await polls.add(poll, { question, close: closing }, contextOf(request));
        return {
          position: outcome.position,
          status: outcome.opened ? 201 : 200,
          response: { item: id, opened: outcome.opened ? operatorQuestion(outcome.opened) : null, closed: outcome.closed },
        };
      },
    }),
    defineCommandTopic({
      name: POLL_TOPICS.consumerAnswer,
      schema: consumerPollAnswer(maxTextLength),
      serviceTopic: SERVICE_TOPICS.poll,
      requiresLogin: true,
      authorize: (client) => requireSignedIn(client.principal),
      // A guest token names one item: a guest of this poll item may answer it, nothing else.
      admitGuest: (principal, data) => principal.itemId === data.id,
      execute: async (request) => {
        const { id, question, answer, answers, text } = request.data;
        const poll = polls.pollItem(id);
        const key = requireAnswerer(request.client.principal, poll);
        const choice: PollChoice = text !== undefined ? { text } : { answers: answers ?? [answer!] };
        const { position, answer: recorded } = await polls.answer(id, key, question, choice, contextOf(request));
        return {
          position,
          status: 201,
          response: { item: id, question, ...(recorded.answers === null ? { text: recorded.text } : { answers: recorded.answers }), answered_at: formatExtreamDateTime(recorded.answeredAt) },
        };
      },
    }),
  ];
}

/**
 * What the poll adds to its item's join (`consumer_poll_get {id}`, answered by itineraries
 * after the event admitted the caller): the poll's live state as the caller may see it; the
 * caller joins the poll's audience (consumer_poll_question / consumer_poll_answer pushes).
 */
export function pollJoinExtension({ polls, reads, consumers }: Pick<PollTopicDependencies, 'polls' | 'reads' | 'consumers'>): JoinExtension {
  return ({ client, item }) => {
    const poll = polls.pollOf(item);
    consumers.join(item.itemId, client);
    return reads.joinView(poll, answererKeyOf(client.principal));
  };
}
