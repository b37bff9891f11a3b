import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, type Config } from '../app/config.js';
import { AppError } from '../core/errors.js';
import { slugOf } from '../modules/event-listings/index.js';
import { extreamName, parseExtreamDateTime, PERMISSIONS, type Permission, type UserType } from '../protocol/topics/extream.js';
import type { ItemType } from '../protocol/topics/itineraries.js';
import { connectLiveEventsContext, operatorFailure, type LiveEventsContext } from './context.js';
import { table, type Output } from './output.js';

/**
 * `switchyard demo-data` (issue 9): one realistic organisation a newcomer can try everything
 * on at once. Every change goes through the services the topics call, so each is an event in
 * the log with actor `operator`, and a running gateway picks them up within a second. The
 * passwords are generated here, printed once, and reach the log only as scrypt hashes.
 */

const DEFAULT_NAME = 'Switchyard Demo';

export const DEMO_DATA_USAGE = `  demo-data [--name NAME] [--start YYYY-MM-DD] [--json]   -> a demo organisation: groups, users (passwords shown once), a two-day event, an item of every type`;

export const DEMO_DATA_DETAILS = `

  --name NAME         the organisation's name (default "${DEFAULT_NAME}"); names are unique, so a second run needs another
  --start YYYY-MM-DD  the event's first day (default tomorrow); it runs 09:00-18:00 UTC on that day and the next
  --json              one JSON object: ids, and every user with its password (shown this once only)`;

const ACTOR = 'operator';
/** The event is named `${name} Days`: the organisation's name leaves room for that within Extream's 250 characters. */
const MAX_DEMO_NAME_LENGTH = 240;
const DAY_MS = 86_400_000;

const CREW_PERMISSIONS: Permission[] = [
  ...PERMISSIONS.filter((permission) => permission.startsWith('view_')),
  'operate_webrtc',
  'stream_rtmp',
  'moderate_chat',
  'manage_poll',
  'send_notice',
];

/** The groups and what they may do (PROTOCOL.md section 8's permissions). */
const GROUPS: readonly { name: string; permissions: Permission[] }[] = [
  { name: 'organisers', permissions: [...PERMISSIONS] },
  { name: 'crew', permissions: CREW_PERMISSIONS },
  { name: 'speakers', permissions: ['view_event', 'view_itinerary', 'view_item'] },
];

type Role = 'chief' | 'crew1' | 'crew2' | 'actor1' | 'actor2' | 'audience1' | 'audience2' | 'audience3';

const PEOPLE: readonly { role: Role; first: string; label: string; userType: UserType; groups: string[] }[] = [
  { role: 'chief', first: 'ada', label: 'organiser', userType: 'chief', groups: ['organisers'] },
  { role: 'crew1', first: 'grace', label: 'crew', userType: 'crew', groups: ['crew'] },
  { role: 'crew2', first: 'linus', label: 'crew', userType: 'crew', groups: ['crew'] },
  { role: 'actor1', first: 'margaret', label: 'speaker', userType: 'actor', groups: ['speakers'] },
  { role: 'actor2', first: 'alan', label: 'speaker', userType: 'actor', groups: ['speakers'] },
  { role: 'audience1', first: 'joan', label: 'audience', userType: 'audience', groups: [] },
  { role: 'audience2', first: 'ken', label: 'audience', userType: 'audience', groups: [] },
  { role: 'audience3', first: 'barbara', label: 'audience', userType: 'audience', groups: [] },
];

interface SeededUser {
  username: string;
  password: string;
  userId: string;
  role: string;
  user_type: UserType;
  groups: string[];
}

interface ItemSpec {
  type: ItemType;
  name: string;
  description: string;
  /** Hours and minutes (UTC) on the itinerary's day; none for on-demand items. */
  from?: [number, number];
  to?: [number, number];
  configuration: Record<string, unknown>;
}

/** 144 random bits, URL-safe: strong, and easy to paste into a login form. */
const newPassword = (): string => randomBytes(18).toString('base64url');

/** Midnight UTC of the event's first day: --start, or tomorrow. */
function firstDay(start: string | undefined, now: number): number {
  if (start === undefined) return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(start) ? parseExtreamDateTime(start) : undefined;
  if (parsed === undefined) throw new ConfigError(`--start must be a date YYYY-MM-DD, got "${start}"`);
  return parsed;
}

function demoName(name: string | undefined): string {
  const parsed = extreamName.max(MAX_DEMO_NAME_LENGTH).safeParse(name ?? DEFAULT_NAME);
  if (!parsed.success) throw new ConfigError(`--name ${parsed.error.issues[0]?.message ?? 'is not a name'} (2-${MAX_DEMO_NAME_LENGTH} characters)`);
  return parsed.data;
}

/** Usernames are unique across the gateway: each demo organisation's users carry its slug. */
const usernameOf = (first: string, name: string): string => `${first}.${slugOf(name).slice(0, 48).replace(/-+$/, '')}`;

function dayOne(ids: Record<Role, string>): ItemSpec[] {
  return [
    {
      type: 'html',
      name: 'Welcome and house rules',
      description: 'What to expect today; read before the keynote.',
      from: [9, 0],
      to: [9, 15],
      // The script, the handler and the javascript: link are removed when the item is stored (sanitised).
      configuration: {
        html:
          '<h2>Welcome to the demo days</h2><p>Be kind, ask questions in the <strong>main stage chat</strong>, and vote in the polls.</p>' +
          '<img src="https://media.example.org/switchyard-demo/banner.png" alt="Banner" onerror="alert(1)">' +
          '<script>alert("never stored")</script><p><a href="javascript:alert(1)">not a link</a> <a href="https://example.org/code-of-conduct">Code of conduct</a></p>',
      },
    },
    {
      type: 'rtmp',
      name: 'Opening keynote',
      description: 'Streamed live from the main stage.',
      from: [9, 30],
      to: [10, 30],
      configuration: { mode: 'live', broadcast: 'rtmp://localhost:1935/live', actor: ids.actor1 },
    },
    {
      type: 'chat',
      name: 'Main stage chat',
      description: 'Open all day; the crew moderates after posting.',
      from: [9, 0],
      to: [18, 0],
      configuration: { moderation: 'post-moderate', moderators: [ids.crew1, ids.crew2], threads: true, private: false, mode: 'group' },
    },
    {
      type: 'poll',
      name: 'Audience pulse',
      description: 'Two questions after the keynote.',
      from: [10, 30],
      to: [10, 45],
      configuration: {
        mode: 'poll',
        show_responses: true,
        questions: [
          {
            question: 'Which track are you most looking forward to?',
            order: 0,
            answers: [
              { text: 'Real-time media', order: 0 },
              { text: 'Event sourcing', order: 1 },
              { text: 'Developer tooling', order: 2 },
            ],
          },
          {
            question: 'How many live events do you run a year?',
            order: 1,
            answers: [
              { text: 'One or two', order: 0 },
              { text: 'Up to ten', order: 1 },
              { text: 'More than ten', order: 2 },
            ],
          },
        ],
      },
    },
    {
      type: 'webrtc',
      name: 'Speaker panel',
      description: 'Both speakers and the host on a call; the audience watches.',
      from: [11, 0],
      to: [12, 0],
      configuration: { mode: 'group', operators: [ids.crew1], participants: [ids.actor1, ids.actor2, ids.chief], max_participants: 12 },
    },
    {
      type: 'presentation',
      name: 'Event sourcing in practice',
      description: 'Slides and speaker notes.',
      from: [14, 0],
      to: [15, 0],
      configuration: { slides_url: 'https://media.example.org/switchyard-demo/event-sourcing.pdf', pages: 32, speaker: ids.actor2 },
    },
    {
      type: 'video',
      name: 'Welcome trailer',
      description: 'On demand, any time.',
      configuration: { mode: 'on-demand', url: 'https://media.example.org/switchyard-demo/trailer.mp4', crew: [ids.crew1] },
    },
  ];
}

function dayTwo(ids: Record<Role, string>): ItemSpec[] {
  return [
    {
      type: 'forum',
      name: 'Ask the speakers',
      description: 'Questions are published once a moderator approves them.',
      from: [9, 0],
      to: [18, 0],
      configuration: { moderation: 'pre-moderate', moderators: [ids.chief, ids.crew1], threads: true, private: false, mode: 'group' },
    },
    {
      type: 'zoom',
      name: 'Remote fireside chat',
      description: 'A guest joins over Zoom.',
      from: [9, 30],
      to: [10, 30],
      configuration: {
        mode: 'instant',
        meeting_number: '84512349876',
        join_url: 'https://zoom.us/j/84512349876',
        operators: [ids.crew2],
        participants: [ids.actor2],
        max_participants: 300,
      },
    },
    {
      type: 'vod',
      name: 'Opening keynote (recording)',
      description: "Yesterday's keynote, on demand.",
      configuration: { mode: 'vod', url: 'https://media.example.org/switchyard-demo/keynote.m3u8' },
    },
    {
      type: 'rtmp',
      name: 'Closing keynote',
      description: 'Recorded on stage, published afterwards.',
      from: [16, 0],
      to: [17, 0],
      configuration: { mode: 'record', broadcast: 'rtmp://localhost:1935/live', actor: ids.actor1 },
    },
    {
      type: 'poll',
      name: 'Closing quiz',
      description: 'A timed quiz; the right answers stay with the crew.',
      from: [17, 0],
      to: [17, 15],
      configuration: {
        mode: 'quiz',
        show_responses: false,
        questions: [
          {
            question: 'Where does Switchyard keep every change?',
            order: 0,
            time: 30,
            answers: [
              { text: 'In an SQLite event log', order: 0, correct: true },
              { text: 'In memory only', order: 1 },
            ],
          },
        ],
      },
    },
  ];
}

interface Seeded {
  organisation: { id: string; name: string; slug: string };
  groups: { name: string; permissions: Permission[] }[];
  event: { id: string; name: string; slug: string; start_date: string; end_date: string };
  workshop: { id: string; name: string; slug: string; parent: string };
  itineraries: { id: string; name: string; items: { id: string; type: ItemType; name: string }[] }[];
  users: SeededUser[];
}

async function seed(context: LiveEventsContext, name: string, day0: number, config: Config): Promise<Seeded> {
  const { identity, organisations, listings, itineraries } = context;
  const correlationId = `demo-data:${randomUUID()}`;
  const metadata = { actor: ACTOR, correlationId };
  const people = PEOPLE.map((person) => ({ ...person, username: usernameOf(person.first, name) }));
  // A taken name is the name claim's CONFLICT (below); otherwise a taken username is found
  // before anything is appended, so a refused run leaves no half-made organisation.
  if (!identity.directory.organisationByIdOrName(name)) {
    const taken = people.filter((person) => identity.directory.userByUsername(person.username)).map((person) => person.username);
    if (taken.length > 0) throw new AppError('CONFLICT', `username ${taken.join(', ')} is taken`);
  }
  const { view: organisation } = await organisations.create(
    name,
    {
      website: 'https://demo.switchyard.example',
      description: 'A demo organisation made by `switchyard demo-data`: groups, users, a two-day event and one item of every type.',
      data: { demo: true },
    },
    metadata,
  );
  const groups = [];
  for (const group of GROUPS) groups.push((await organisations.grant(organisation.id, group.name, group.permissions, metadata)).view);
  // Made before the users are added side by side, so they do not race to create it.
  await identity.createGroup(organisation.id, 'members', ACTOR);

  const users: SeededUser[] = [];
  const batch = Math.max(1, Math.min(4, config.maxConcurrentPasswordHashes));
  for (let index = 0; index < people.length; index += batch) {
    const added = await Promise.all(
      people.slice(index, index + batch).map(async (person) => {
        const password = newPassword();
        const userId = await identity.addUser({ organisation: organisation.id, username: person.username, password, groups: person.groups, by: ACTOR });
        return { username: person.username, password, userId, role: person.label, user_type: person.userType, groups: ['members', ...person.groups] };
      }),
    );
    users.push(...added);
  }
  const ids = Object.fromEntries(people.map((person, index) => [person.role, users[index]!.userId])) as Record<Role, string>;

  const at = (day: number, [hours, minutes]: [number, number]) => day0 + day * DAY_MS + hours * 3_600_000 + minutes * 60_000;
  const { view: event } = await listings.schedule(
    {
      organisationId: organisation.id,
      name: `${name} Days`,
      description: 'Two days of talks, panels, polls and chat: every item type Switchyard serves.',
      website: 'https://demo.switchyard.example/days',
      timezone: 'UTC',
      startDate: at(0, [9, 0]),
      endDate: at(1, [18, 0]),
      public: true,
      data: { demo: true },
    },
    metadata,
  );
  const { view: workshop } = await listings.schedule(
    {
      organisationId: organisation.id,
      parentId: event.id,
      name: 'Side workshop: build a live Q&A',
      description: 'A hands-on afternoon beside the main stage.',
      timezone: 'UTC',
      startDate: at(1, [13, 0]),
      endDate: at(1, [16, 0]),
      public: true,
    },
    metadata,
  );
  await listings.setUserTypes(event.id, users.map((user) => ({ userId: user.userId, userType: user.user_type })), metadata);
  await listings.setUserTypes(
    workshop.id,
    [
      { userId: ids.chief, userType: 'chief' },
      { userId: ids.crew2, userType: 'crew' },
      { userId: ids.actor2, userType: 'actor' },
    ],
    metadata,
  );

  const seededItineraries: Seeded['itineraries'] = [];
  const days = [
    { name: 'Day 1: main stage', items: dayOne(ids) },
    { name: 'Day 2: deep dives', items: dayTwo(ids) },
  ];
  for (const [day, plan] of days.entries()) {
    const { view: itinerary } = await itineraries.createItinerary(
      { eventId: event.id, name: plan.name, description: `Day ${day + 1} of ${event.name}.`, startDate: at(day, [9, 0]), endDate: at(day, [18, 0]) },
      metadata,
    );
    const items = [];
    for (const item of plan.items) {
      const { view } = await itineraries.addItem(
        {
          itineraryId: itinerary.id,
          type: item.type,
          name: item.name,
          description: item.description,
          startDate: item.from && at(day, item.from),
          endDate: item.to && at(day, item.to),
          configuration: item.configuration,
        },
        metadata,
      );
      items.push({ id: view.id, type: view.type, name: view.name });
    }
    seededItineraries.push({ id: itinerary.id, name: itinerary.name, items });
  }
  return {
    organisation: { id: organisation.id, name: organisation.name, slug: organisation.slug },
    groups: groups.map((group) => ({ name: group.name, permissions: group.permissions })),
    event: { id: event.id, name: event.name, slug: event.slug, start_date: event.start_date, end_date: event.end_date },
    workshop: { id: workshop.id, name: workshop.name, slug: workshop.slug, parent: event.id },
    itineraries: seededItineraries,
    users,
  };
}

function printHuman(seeded: Seeded, output: Output): void {
  const { organisation, event, workshop } = seeded;
  output.out(`organisation  ${organisation.name}  ${organisation.id}`);
  for (const group of seeded.groups) output.out(`  group       ${group.name}: ${group.permissions.join(' ')}`);
  output.out(`event         ${event.name}  ${event.id}  (public, ${event.start_date} - ${event.end_date})`);
  output.out(`  nested      ${workshop.name}  ${workshop.id}`);
  for (const itinerary of seeded.itineraries) {
    output.out(`itinerary     ${itinerary.name}  ${itinerary.id}`);
    for (const item of itinerary.items) output.out(`  ${item.type.padEnd(14)}${item.name}  ${item.id}`);
  }
  output.out('');
  output.out('users (the passwords are shown this once; the log keeps only their hashes):');
  const rows = seeded.users.map((user) => [user.username, user.password, user.role, user.user_type, user.groups.join(','), user.userId]);
  for (const line of table(['USERNAME', 'PASSWORD', 'ROLE', 'USER_TYPE', 'GROUPS', 'USER ID'], rows)) output.out(line);
  output.out('');
  output.out(`try it: sign in on ws://HOST:PORT/ws with {"event":"login","data":{"username":"${seeded.users[0]!.username}","password":"..."},"id":1},`);
  output.out(`then send {"event":"consumer_itinerary_get","data":{"event":"${event.id}"},"id":2}`);
}

/** `switchyard demo-data [--name NAME] [--start YYYY-MM-DD] [--json]`. */
export async function demoDataCommand(argv: string[], config: Config, output: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { data: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, name: { type: 'string' }, start: { type: 'string' } },
  });
  if (positionals.length > 0) {
    output.err(`demo-data takes no arguments, got "${positionals.join(' ')}"\n${DEMO_DATA_USAGE}`);
    return 2;
  }
  // Usage errors (exit 2) before the log is opened.
  const name = demoName(values.name);
  const day0 = firstDay(values.start, Date.now());
  const context = await connectLiveEventsContext(config);
  try {
    const seeded = await seed(context, name, day0, config);
    if (values.json) output.out(JSON.stringify(seeded));
    else printHuman(seeded, output);
    return 0;
  } catch (error) {
    const code = operatorFailure(error, output);
    if (error instanceof AppError && error.code === 'CONFLICT') output.err('demo-data makes a new organisation each run: pass --name NAME to make another');
    return code;
  } finally {
    await context.close();
  }
}
