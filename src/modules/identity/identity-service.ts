import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../core/index.js';
import { newId, streamId } from '../../core/index.js';
import { RateLimiter } from '../../core/index.js';
import type { Clock } from '../../core/index.js';
import {
  IDENTITY_CATEGORIES,
  MAX_ORGANISATION_SLUG_LENGTH,
  organisationNameSlug,
  type organisationNameMachine,
  type organisationMachine,
  type OrganisationProfile,
  type OrganisationNameCommand,
  type UserContext,
  type userMachine,
  type AppCommand,
  type ClientCommand,
  type GroupCommand,
  type OrganisationCommand,
  type UserCommand,
} from './domain/index.js';
import { IdentityDirectory } from './projection.js';
import { RefusalAudit, SignInLimits } from './sign-in-limits.js';
import type { ActorRuntime } from '../../runtime/index.js';
import type { EventMetadata, EventStore } from '../../store/index.js';
import type { SnapshotFrom } from 'xstate';
import { PasswordHasher } from '../../auth/index.js';
import type { SecretBox } from '../../auth/index.js';
import type { TokenService } from '../../auth/index.js';
import { matchTotp, newTotpSecret, totpUri } from '../../auth/index.js';
import { MAX_PASSWORD_LENGTH } from '../../protocol/topics/identity.js';
import type { IdentityConfig } from './config.js';

export const USERNAME = /^[A-Za-z0-9._@+-]{1,64}$/;

export interface RequestOrigin {
  connectionId: string | null;
  remoteAddress: string;
  now: number;
}

export interface VerifiedUser {
  userId: string;
  username: string;
  mfaRequired: boolean;
}

type UserSnapshot = SnapshotFrom<typeof userMachine>;

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * Users, organisations, groups, OAuth2 clients and app tokens: the identity operations the
 * socket handlers, the OAuth2 server and the CLI share. Secrets are checked here (scrypt,
 * TOTP, client secrets); what follows is decided by the domain and lands in the log.
 */
export class IdentityService {
  readonly directory: IdentityDirectory;
  readonly passwords: PasswordHasher;
  private readonly perUser: RateLimiter;
  private readonly perAddress: RateLimiter;
  /** Sign-in work in flight per connection and address (the topics' guard). */
  readonly signIns: SignInLimits;
  /** Refused tokens and logins: logged one by one up to a budget, then summarised per window. */
  readonly refusals: RefusalAudit;

  constructor(
    private readonly runtime: ActorRuntime,
    store: EventStore,
    readonly tokens: TokenService,
    private readonly secrets: SecretBox,
    private readonly config: IdentityConfig,
    private readonly clock: Clock,
  ) {
    this.directory = new IdentityDirectory(store.readModels);
    this.passwords = new PasswordHasher(config.maxConcurrentPasswordHashes);
    this.perUser = new RateLimiter(config.loginAttemptsPerMinutePerUser, config.loginAttemptsPerMinutePerUser / 60);
    this.perAddress = new RateLimiter(config.loginAttemptsPerMinutePerAddress, config.loginAttemptsPerMinutePerAddress / 60);
    this.signIns = new SignInLimits(config);
    this.refusals = new RefusalAudit(runtime, config);
  }

  // ---- administration (CLI, later the admin API) ----

  /**
   * A new organisation under a name no other organisation has (organisationNameSlug: case and
   * spacing aside). The name is claimed first, on its own stream appended at expected version
   * 0, so the log itself refuses a second claim even from another process at the same moment;
   * the refusal is CONFLICT naming the organisation that holds the name.
   */
  async createOrganisation(name: string, by: string): Promise<string> {
    return (await this.createOrganisationRecord(name, { actor: by })).organisationId;
  }

  /**
   * `createOrganisation` with Extream's profile and the command's metadata; returns the log
   * position of the OrganisationCreated event (the receipt's `messageId`).
   */
  async createOrganisationRecord(name: string, metadata: EventMetadata & { actor: string }, profile?: OrganisationProfile): Promise<{ organisationId: string; position: number }> {
    const by = metadata.actor;
    if (!name.trim()) throw new AppError('BAD_REQUEST', 'organisation name must not be empty');
    const slug = organisationNameSlug(name);
    if (slug.length > MAX_ORGANISATION_SLUG_LENGTH) throw new AppError('BAD_REQUEST', `organisation name must be at most ${MAX_ORGANISATION_SLUG_LENGTH} characters`);
    // Organisations made before names were claimed have no claim stream: the read model knows them.
    const legacy = this.directory.organisationByIdOrName(name);
    if (legacy) throw new AppError('CONFLICT', `organisation name "${name}" is taken by organisation ${legacy.organisation_id}`);
    // UUIDs, as Extream's commands require of every id (PROTOCOL.md section 8).
    const organisationId = randomUUID();
    const claimStream = streamId(IDENTITY_CATEGORIES.organisationName, slug);
    const claim: OrganisationNameCommand = { type: 'ClaimOrganisationName', name, organisationId, now: this.clock.now() };
    try {
      await this.runtime.execute(claimStream, claim, metadata);
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'CONFLICT')) throw error;
      const held = this.runtime.read<typeof organisationNameMachine>(claimStream).context.data;
      // A claim whose organisation never committed (its process died in between) is finished
      // here, so a name is never left taken by an organisation that does not exist.
      if (held && !this.directory.organisation(held.organisationId)) await this.ensureOrganisation(held.organisationId, held.name, { actor: by });
      throw error;
    }
    const position = await this.ensureOrganisation(organisationId, name, metadata, profile);
    return { organisationId, position };
  }

  /** Creates the organisation a claim names; one created meanwhile by another caller will do (position 0 then). */
  private async ensureOrganisation(organisationId: string, name: string, metadata: EventMetadata, profile?: OrganisationProfile): Promise<number> {
    const command: OrganisationCommand = { type: 'CreateOrganisation', organisationId, name, now: this.clock.now(), ...(profile ? { profile } : {}) };
    const stream = streamId(IDENTITY_CATEGORIES.organisation, organisationId);
    try {
      const result = await this.runtime.execute(stream, command, metadata);
      return result.events.at(-1)?.position ?? 0;
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'CONFLICT' && this.directory.organisation(organisationId))) throw error;
      return 0;
    }
  }

  /**
   * Changes an organisation's name or profile. A new name is claimed first, as at creation;
   * the old name stays taken (claims are for ever), so a rename cannot be raced into a clash.
   */
  async updateOrganisation(organisationId: string, changes: Partial<OrganisationProfile> & { name?: string }, metadata: EventMetadata & { actor: string }): Promise<number> {
    const stream = streamId(IDENTITY_CATEGORIES.organisation, organisationId);
    const current = this.runtime.read<typeof organisationMachine>(stream);
    if (!current.matches('present')) throw new AppError('NOT_FOUND', current.matches('deleted') ? `organisation ${organisationId} was deleted` : 'unknown organisation');
    const renamed = changes.name !== undefined && organisationNameSlug(changes.name) !== organisationNameSlug(current.context.data!.name);
    if (renamed) {
      const slug = organisationNameSlug(changes.name!);
      if (slug.length > MAX_ORGANISATION_SLUG_LENGTH) throw new AppError('BAD_REQUEST', `organisation name must be at most ${MAX_ORGANISATION_SLUG_LENGTH} characters`);
      const claim: OrganisationNameCommand = { type: 'ClaimOrganisationName', name: changes.name!, organisationId, now: this.clock.now() };
      await this.runtime.execute(streamId(IDENTITY_CATEGORIES.organisationName, slug), claim, metadata);
    }
    const command: OrganisationCommand = { type: 'UpdateOrganisation', changes, by: metadata.actor, now: this.clock.now() };
    const result = await this.runtime.execute(stream, command, metadata);
    return result.events.at(-1)!.position;
  }

  /** Soft: the organisation's events, users and groups stay in the log; the organisations read model hides it. */
  async deleteOrganisation(organisationId: string, metadata: EventMetadata & { actor: string }): Promise<number> {
    const command: OrganisationCommand = { type: 'DeleteOrganisation', by: metadata.actor, now: this.clock.now() };
    const result = await this.runtime.execute(streamId(IDENTITY_CATEGORIES.organisation, organisationId), command, metadata);
    return result.events.at(-1)!.position;
  }

  /** The organisation as its stream holds it (name, profile, deleted or not), or undefined. */
  organisationState(organisationId: string): { name: string; profile: OrganisationProfile | undefined; deleted: boolean } | undefined {
    const snapshot = this.runtime.read<typeof organisationMachine>(streamId(IDENTITY_CATEGORIES.organisation, organisationId));
    if (snapshot.matches('absent')) return undefined;
    return { name: snapshot.context.data!.name, profile: snapshot.context.data!.profile, deleted: snapshot.matches('deleted') };
  }

  /** Puts an existing user into a group of an organisation (made if missing); already there is fine. */
  async addToGroup(userId: string, organisationId: string, group: string, by: string): Promise<string> {
    const groupId = await this.createGroup(organisationId, group, by);
    if (this.directory.groupIdsOf(userId, organisationId).includes(groupId)) return groupId;
    const join: UserCommand = { type: 'AddUserToGroup', groupId, organisationId };
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.user, userId), join, { actor: by });
    return groupId;
  }

  async createGroup(organisation: string, name: string, by: string): Promise<string> {
    const org = this.requireOrganisation(organisation);
    const existing = this.directory.groupByName(org.organisation_id, name);
    if (existing) return existing.group_id;
    const groupId = newId(9);
    const command: GroupCommand = { type: 'CreateGroup', groupId, organisationId: org.organisation_id, name, now: this.clock.now() };
    const stream = streamId(IDENTITY_CATEGORIES.group, groupId);
    try {
      await this.runtime.execute(stream, command, { actor: by });
    } catch (error) {
      // Another caller created the same group meanwhile (two users added to an organisation at
      // once both create its `members` group; the projection's UNIQUE check refuses the second).
      // Theirs is the group: without this the second user was registered but in no group.
      const winner = error instanceof AppError && error.code === 'CONFLICT' ? this.directory.groupByName(org.organisation_id, name) : undefined;
      if (!winner) throw error;
      this.runtime.release(stream);
      return winner.group_id;
    }
    return groupId;
  }

  async addUser(input: { organisation: string; username: string; password: string; groups: string[]; by: string }): Promise<string> {
    if (!USERNAME.test(input.username)) throw new AppError('BAD_REQUEST', 'username must be 1-64 characters of [A-Za-z0-9._@+-]');
    if (input.password.length < 8 || input.password.length > MAX_PASSWORD_LENGTH) {
      throw new AppError('BAD_REQUEST', `password must be 8-${MAX_PASSWORD_LENGTH} characters`);
    }
    const org = this.requireOrganisation(input.organisation);
    if (this.directory.userByUsername(input.username)) throw new AppError('CONFLICT', `username "${input.username}" is taken`);
    const userId = newId(9);
    const passwordHash = await this.passwords.hash(input.password);
    const stream = streamId(IDENTITY_CATEGORIES.user, userId);
    const register: UserCommand = { type: 'RegisterUser', userId, username: input.username, passwordHash, now: this.clock.now() };
    await this.runtime.execute(stream, register, { actor: input.by });
    // Every user belongs to its organisation's `members` group, plus the groups named.
    for (const group of ['members', ...input.groups]) {
      const groupId = await this.createGroup(org.organisation_id, group, input.by);
      const join: UserCommand = { type: 'AddUserToGroup', groupId, organisationId: org.organisation_id };
      await this.runtime.execute(stream, join, { actor: input.by });
    }
    return userId;
  }

  async enrollMfa(username: string, by: string): Promise<{ secret: string; uri: string }> {
    const user = this.requireUser(username);
    const secret = newTotpSecret();
    const command: UserCommand = { type: 'EnrollMfa', sealedSecret: this.secrets.seal(secret), now: this.clock.now() };
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.user, user.user_id), command, { actor: by });
    return { secret, uri: totpUri(secret, username, this.config.issuer) };
  }

  async unlockMfa(username: string, by: string): Promise<void> {
    const user = this.requireUser(username);
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.user, user.user_id), { type: 'UnlockMfa', by } satisfies UserCommand, { actor: by });
  }

  async disableUser(username: string, by: string, reason: string): Promise<string> {
    const user = this.requireUser(username);
    const command: UserCommand = { type: 'DisableUser', by, reason, now: this.clock.now() };
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.user, user.user_id), command, { actor: by });
    return user.user_id;
  }

  async enableUser(username: string, by: string): Promise<void> {
    const user = this.requireUser(username);
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.user, user.user_id), { type: 'EnableUser', by } satisfies UserCommand, { actor: by });
  }

  async registerClient(input: {
    organisation: string;
    name: string;
    redirectUris: string[];
    public: boolean;
    by: string;
    /** Fixed id and secret (clients from the config file); generated when absent. */
    clientId?: string;
    clientSecret?: string;
  }): Promise<{ clientId: string; clientSecret: string | null }> {
    const org = this.requireOrganisation(input.organisation);
    for (const uri of input.redirectUris) {
      let parsed: URL;
      try {
        parsed = new URL(uri);
      } catch {
        throw new AppError('BAD_REQUEST', `redirect URI ${uri} is not an absolute URL`);
      }
      if (parsed.hash) throw new AppError('BAD_REQUEST', 'redirect URIs must not have a fragment');
    }
    const clientId = input.clientId ?? newId(12);
    const clientSecret = input.public ? null : (input.clientSecret ?? randomBytes(32).toString('base64url'));
    const command: ClientCommand = {
      type: 'RegisterClient',
      clientId,
      organisationId: org.organisation_id,
      name: input.name,
      secretHash: clientSecret === null ? null : sha256(clientSecret),
      redirectUris: input.redirectUris,
      public: input.public,
      now: this.clock.now(),
    };
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.client, clientId), command, { actor: input.by });
    return { clientId, clientSecret };
  }

  /** The registered client when its secret matches (constant time), else UNAUTHORIZED. */
  authenticateClient(clientId: string, secret: string | undefined): { clientId: string; organisationId: string; public: boolean; redirectUris: string[] } {
    // The read model first: an unknown id must not load (and keep) an actor per guess.
    if (!this.directory.client(clientId)) throw new AppError('UNAUTHORIZED', 'unknown client');
    const snapshot = this.runtime.read(streamId(IDENTITY_CATEGORIES.client, clientId));
    const data = (snapshot.context as { data: ClientCommand | null }).data as
      | { organisationId: string; secretHash: string | null; redirectUris: string[]; public: boolean }
      | null;
    if (!data) throw new AppError('UNAUTHORIZED', 'unknown client');
    if (!data.public) {
      const expected = Buffer.from(data.secretHash ?? '');
      const actual = Buffer.from(secret === undefined ? '' : sha256(secret));
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new AppError('UNAUTHORIZED', 'client authentication failed');
    }
    return { clientId, organisationId: data.organisationId, public: data.public, redirectUris: data.redirectUris };
  }

  async issueAppToken(app: string): Promise<string> {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(app)) throw new AppError('BAD_REQUEST', 'app must be 1-64 characters of [A-Za-z0-9._-]');
    const now = this.clock.now();
    const issued = await this.tokens.issue('app', { subject: app, ttlSeconds: null, now });
    const command: AppCommand = { type: 'IssueAppToken', app, jti: issued.jti, now };
    // The token is handed out only once its issue is in the log: a revocation can always find it.
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.app, app), command, { actor: `app:${app}` });
    return issued.token;
  }

  async revokeAppToken(app: string, jti: string, by: string): Promise<void> {
    await this.runtime.execute(streamId(IDENTITY_CATEGORIES.app, app), { type: 'RevokeAppToken', jti, by } satisfies AppCommand, { actor: by });
  }

  /** An app token that verifies and has not been revoked. */
  async verifyAppToken(token: unknown, now: number): Promise<{ app: string; jti: string }> {
    const claims = await this.tokens.verify('app', token, now);
    const live = (this.runtime.read(streamId(IDENTITY_CATEGORIES.app, claims.sub)).context as { live: string[] }).live;
    if (!live.includes(claims.jti)) throw new AppError('UNAUTHORIZED', 'Token is not valid');
    return { app: claims.sub, jti: claims.jti };
  }

  // ---- authentication ----

  /**
   * Checks a username and password. Rate limits apply per username and per address before
   * any hashing; unknown users are hashed against a decoy so they take as long as known ones.
   */
  async verifyPassword(username: unknown, password: unknown, origin: RequestOrigin): Promise<VerifiedUser> {
    if (typeof username !== 'string' || typeof password !== 'string' || username.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
      throw new AppError('BAD_REQUEST', 'login needs {username, password} strings');
    }
    if (!this.perAddress.take(origin.remoteAddress, origin.now) || !this.perUser.take(username.toLowerCase(), origin.now)) {
      throw new AppError('RATE_LIMITED', 'too many login attempts; wait a minute');
    }
    const row = USERNAME.test(username) ? this.directory.userByUsername(username) : undefined;
    const user = row ? this.userState(row.user_id) : undefined;
    const matches = await this.passwords.verify(password, user?.context.passwordHash);
    if (!row || !user || !matches) throw new AppError('UNAUTHORIZED', 'unknown user or wrong password');
    if (user.matches('disabled')) throw new AppError('FORBIDDEN', 'user is disabled');
    return { userId: row.user_id, username: row.username, mfaRequired: user.context.sealedMfaSecret !== null };
  }

  /**
   * Checks a TOTP code for a user through the user's mailbox, so parallel submissions of
   * one code are decided one after another and only the first can use its time step.
   */
  async checkMfa(userId: string, code: unknown, origin: RequestOrigin): Promise<{ passed: boolean; reason: 'invalid' | 'locked' | null }> {
    const stream = streamId(IDENTITY_CATEGORIES.user, userId);
    const before = this.userState(userId);
    if (before.context.sealedMfaSecret === null) throw new AppError('BAD_REQUEST', 'user has no MFA enrolled');
    const secret = this.secrets.open(before.context.sealedMfaSecret);
    const result = await this.runtime.executeWith<UserSnapshot>(stream, async (snapshot) => {
      const context = snapshot.context as UserContext;
      // Matched even while locked (decide refuses it then): the operator may have lifted the
      // lock from the CLI in an event this snapshot has not seen yet, and the runtime decides
      // this same command again after catching up. Skipping the match here turned the first
      // right code after `users mfa unlock` into a counted failure.
      const matched = typeof code === 'string' ? await matchTotp(secret, code, origin.now, context.lastTotpStep) : null;
      return {
        type: 'CheckMfaCode',
        matchedTimeStep: matched,
        now: origin.now,
        maxFailures: this.config.mfaMaxFailures,
        lockSeconds: this.config.mfaLockSeconds,
        connectionId: origin.connectionId,
        remoteAddress: origin.remoteAddress,
      } satisfies UserCommand;
    }, { actor: `user:${userId}` });
    const accepted = result.events.find((event) => event.type === 'MfaCodeAccepted');
    if (accepted) return { passed: true, reason: null };
    const rejected = result.events.find((event) => event.type === 'MfaCodeRejected');
    return { passed: false, reason: (rejected?.data as { reason?: 'invalid' | 'locked' } | undefined)?.reason ?? 'invalid' };
  }

  userState(userId: string): UserSnapshot {
    return this.runtime.read<typeof userMachine>(streamId(IDENTITY_CATEGORIES.user, userId));
  }

  /** True when the user exists and is not disabled (tokens of disabled users stop working). */
  userActive(userId: string): boolean {
    const state = this.userState(userId);
    return state.matches('active');
  }

  /** The organisation a user acts for: the one asked for if the user is in it, else the first. */
  organisationFor(userId: string, preferred: string | null): string | null {
    const organisations = this.directory.organisationsOf(userId);
    if (preferred && organisations.includes(preferred)) return preferred;
    return organisations[0] ?? null;
  }

  private requireOrganisation(key: string): { organisation_id: string; name: string } {
    const org = this.directory.organisationByIdOrName(key);
    if (!org) throw new AppError('NOT_FOUND', `no organisation "${key}"`);
    return org;
  }

  private requireUser(username: string): { user_id: string } {
    const row = this.directory.userByUsername(username);
    if (!row) throw new AppError('NOT_FOUND', `no user "${username}"`);
    return row;
  }
}
