import { AppError } from '../core/index.js';
import { newId } from '../core/index.js';
import type { Principal } from '../core/index.js';
import { isPlainObject, type InboundFrame, type OutboundFrame } from '../protocol/index.js';

/**
 * The topic pipeline (DESIGN.md "runtime/"): every wire topic, whichever transport brought
 * it, goes validate -> authorize -> build the request (now, actor, correlation id) -> handle
 * (decide/append through the actor runtime) -> answers. Handlers receive typed, validated
 * data and never parse a frame themselves; errors are thrown and mapped to the client's
 * reply in one place (edge/replies.ts).
 */

/** An invited participant (PROTOCOL.md section 9): what a topic's `admitGuest` decides on. */
export type GuestPrincipal = Extract<Principal, { kind: 'guest' }>;

/** What the pipeline needs of a connection: who it speaks for and a way to answer it. */
export interface TopicClient {
  readonly id: string;
  principal: Principal;
  send(frame: OutboundFrame): void;
}

export interface TopicRequest<Data, Client extends TopicClient = TopicClient> {
  client: Client;
  /** `frame.data` after the topic's schema: typed and trusted from here on. */
  data: Data;
  frame: InboundFrame;
  /** The client's `id`, echoed on the direct answer. */
  id: number | undefined;
  /** The command's clock time: domain code never reads the clock. */
  now: number;
  /** Who issues the command, as the log's metadata names it (`connection:<id>`). */
  actor: string;
  /** Ties the command's events and answers together (the client's, or a fresh one). */
  correlationId: string;
}

/**
 * How a topic's refusal reaches the client (PROTOCOL.md section 2): the generic `error`
 * frame, a named reject event (`room-create-reject {room, message, code}`), or Extream's
 * result shape (section 8).
 */
export type RejectStyle =
  | { kind: 'error' }
  | { kind: 'event'; event: string; fields?(data: unknown, client: TopicClient): Record<string, unknown> }
  | { kind: 'extream' };

/**
 * A wire schema: a zod type, or a hand-written validator of the same `safeParse` shape where
 * a zod parse would cost too much (the relays).
 */
export interface TopicSchema<Data> {
  safeParse(value: unknown): { success: true; data: Data } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

export interface Topic<Data = unknown, Client extends TopicClient = TopicClient> {
  readonly name: string;
  /** The wire schema (from protocol/topics/<area>.ts); without one, `data` is the raw frame data. */
  readonly schema?: TopicSchema<Data>;
  /** Throws UNAUTHORIZED / FORBIDDEN when the client may not send this topic (before `handle`). */
  authorize?(client: Client, data: Data): void;
  /**
   * Whether a guest may send this topic with this data. A guest token is scoped to one item
   * and its call's room, so a topic without this refuses guests (see `runTopic`): a new topic
   * is closed to them until it says otherwise.
   */
  admitGuest?(principal: GuestPrincipal, data: Data): boolean;
  readonly reject?: RejectStyle;
  /**
   * What this topic leaves on a connection is in the log (its session, its room memberships),
   * so another cluster node can rebuild it after a node loss (PROTOCOL.md section 12). Any other
   * topic pins the connection to its node first (the connections module's `pin`).
   */
  readonly portable?: true;
  handle(request: TopicRequest<Data, Client>): void | Promise<void>;
}

export function defineTopic<Data = unknown, Client extends TopicClient = TopicClient>(topic: Topic<Data, Client>): Topic<Data, Client> {
  return topic;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTopic<Client extends TopicClient = any> = Topic<any, Client>;

/** The topics, marked `portable` (see Topic.portable). */
export function portableTopics<Client extends TopicClient>(topics: readonly AnyTopic<Client>[]): AnyTopic<Client>[] {
  return topics.map((topic) => ({ ...topic, portable: true }));
}

/** `connection:<id>`: the actor a socket's commands are recorded under. */
export const actorOf = (client: TopicClient): string => `connection:${client.id}`;

/**
 * Who a command's events name (the audit view's "who"): the signed-in user or the
 * organisation the socket speaks for, else the connection, always with the connection beside it.
 */
export function commandMetadata(request: Pick<TopicRequest<unknown>, 'client' | 'correlationId'>): { actor: string; connection: string; correlationId: string } {
  const { principal } = request.client;
  const actor =
    principal.kind === 'user' ? `user:${principal.userId}` : principal.kind === 'organisation' ? `organisation:${principal.organisationId}` : actorOf(request.client);
  return { actor, connection: request.client.id, correlationId: request.correlationId };
}

/** Extream's `payload.correlationId`, when the client set one (PROTOCOL.md section 8). */
function clientCorrelationId(data: unknown): string | undefined {
  if (!isPlainObject(data)) return undefined;
  const payload = data.payload;
  if (isPlainObject(payload) && typeof payload.correlationId === 'string' && payload.correlationId.length <= 128) return payload.correlationId;
  return undefined;
}

/** Validates the frame's data with the topic's schema; failures are BAD_REQUEST naming the fields. */
export function validate<Data>(topic: Topic<Data, never>, data: unknown): Data {
  if (!topic.schema) return data as Data;
  const parsed = topic.schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
  const first = errors[0];
  const message = first ? `${topic.name}: ${first.path === '' ? '' : `${first.path}: `}${first.message}` : `${topic.name}: invalid data`;
  throw new AppError('BAD_REQUEST', message, { errors });
}

/** The refusal of a topic a guest may not send; Extream clients read `reason: unauthorized`. */
const guestRefused = (): AppError => new AppError('FORBIDDEN', 'a guest may only join the item it was invited to', { reason: 'unauthorized' });

/**
 * Runs one frame through the pipeline. Synchronous topics stay synchronous (the relay
 * answers without a promise); the result is whatever `handle` returned.
 */
export function runTopic<Data, Client extends TopicClient>(topic: Topic<Data, Client>, client: Client, frame: InboundFrame, now: number): void | Promise<void> {
  const data = validate(topic as Topic<Data, never>, frame.data);
  // The guest gate: one property check for everyone else, so the relays' hot path pays nothing more.
  const principal = client.principal;
  if (principal.kind === 'guest' && topic.admitGuest?.(principal, data) !== true) throw guestRefused();
  topic.authorize?.(client, data);
  return topic.handle(new Request(client, data, frame, now));
}

/**
 * The request a handler gets. `actor` and `correlationId` are computed on first use: most
 * frames (pings, relays) never read them, and a fresh id per frame was an allocation on the
 * hottest path.
 */
class Request<Data, Client extends TopicClient> implements TopicRequest<Data, Client> {
  private correlation: string | undefined;

  constructor(
    readonly client: Client,
    readonly data: Data,
    readonly frame: InboundFrame,
    readonly now: number,
  ) {}

  get id(): number | undefined {
    return this.frame.id;
  }

  get actor(): string {
    return actorOf(this.client);
  }

  get correlationId(): string {
    this.correlation ??= clientCorrelationId(this.frame.data) ?? (this.frame.id === undefined ? newId() : `${this.client.id}:${this.frame.id}`);
    return this.correlation;
  }
}

// ---- Extream's two answers (PROTOCOL.md section 8), written once for every command topic ----

/** `${domain}_${action}_${command}`, e.g. `admin_event_create`. */
export interface CommandTopicName {
  domain: string;
  action: string;
  command: string;
}

export function splitCommandTopic(name: string): CommandTopicName {
  const [domain = '', action = '', ...rest] = name.split('_');
  return { domain, action, command: rest.join('_') };
}

export interface CommandOutcome {
  /** Log position of the command's last event: the receipt's `messageId`. Undefined for reads. */
  position?: number | undefined;
  /** 201 for creations, 200 otherwise. */
  status?: 200 | 201;
  response: unknown;
  meta?: Record<string, unknown>;
}

export interface CommandTopicDefinition<Data, Client extends TopicClient> {
  readonly name: string;
  readonly schema?: TopicSchema<Data>;
  /** Extream's service topic the receipt names (`ex-manage`, `ex-discussion`, ...). */
  readonly serviceTopic: string;
  /** Whether the command needs a signed-in user (`meta.requiresLogin`). */
  readonly requiresLogin: boolean;
  authorize?(client: Client, data: Data): void;
  /** As `Topic.admitGuest`: without it, guests are refused. */
  admitGuest?(principal: GuestPrincipal, data: Data): boolean;
  /** Runs the command (or the read) and returns what the result carries. */
  execute(request: TopicRequest<Data, Client>): Promise<CommandOutcome>;
}

/**
 * A topic answered the Extream way: first the receipt `{status:202, topic, messageId}` once
 * the change is in the log (reads skip it), then the result `{status, domain, action,
 * command, meta, response}`; both on the command's event name, or on the client's
 * `payload.correlationId`, and with the native `id` when the client sent one.
 */
export function defineCommandTopic<Data, Client extends TopicClient = TopicClient>(definition: CommandTopicDefinition<Data, Client>): Topic<Data, Client> {
  const parts = splitCommandTopic(definition.name);
  const topic: Topic<Data, Client> = {
    name: definition.name,
    reject: { kind: 'extream' },
    handle: async (request) => {
      const outcome = await definition.execute(request);
      const event = answerEventOf(definition.name, request.frame.data);
      if (outcome.position !== undefined) {
        request.client.send({ event, data: { status: 202, topic: definition.serviceTopic, messageId: outcome.position }, id: request.id, interim: true });
      }
      request.client.send({
        event,
        id: request.id,
        data: {
          status: outcome.status ?? 200,
          ...parts,
          meta: { permitted: true, message: 'success', requiresLogin: definition.requiresLogin, ...outcome.meta },
          response: outcome.response,
        },
      });
    },
  };
  return {
    ...topic,
    ...(definition.schema ? { schema: definition.schema } : {}),
    ...(definition.authorize ? { authorize: definition.authorize } : {}),
    ...(definition.admitGuest ? { admitGuest: definition.admitGuest } : {}),
  };
}

/** The event name an Extream answer goes out on: the client's correlation id when it set one. */
export function answerEventOf(topicName: string, data: unknown): string {
  return clientCorrelationId(data) ?? topicName;
}
