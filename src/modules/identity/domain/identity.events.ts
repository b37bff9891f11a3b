/** Events of the identity area: organisations, groups, users, OAuth2 clients, apps. */

/**
 * What Extream keeps of an organisation beside its name (PROTOCOL.md section 8). Identity
 * does not read it; the organisations module projects it into its read model.
 */
export interface OrganisationProfile {
  website: string | null;
  description: string | null;
  data: Record<string, unknown> | null;
}

export interface OrganisationCreated {
  type: 'OrganisationCreated';
  /** `profile` is absent on organisations created before Extream's admin commands (and by `orgs add`). */
  data: { organisationId: string; name: string; createdAt: number; profile?: OrganisationProfile };
}

export interface OrganisationUpdated {
  type: 'OrganisationUpdated';
  /** A new name was claimed first (OrganisationNameClaimed); the old one stays taken. */
  data: { organisationId: string; changes: Partial<OrganisationProfile> & { name?: string }; updatedAt: number; by: string };
}

/** Soft: the read models hide the organisation, the log keeps it and its users and groups. */
export interface OrganisationDeleted {
  type: 'OrganisationDeleted';
  data: { organisationId: string; deletedAt: number; by: string };
}

export type OrganisationEvent = OrganisationCreated | OrganisationUpdated | OrganisationDeleted;

/**
 * An organisation name taken, on stream `organisation_name-<slug>` (see organisationNameSlug).
 * It is the first and only event of that stream, appended to an empty stream: two
 * `orgs add acme` racing from two processes cannot both commit, because the log refuses the
 * second append at expected version 0. It precedes the organisation's OrganisationCreated.
 */
export interface OrganisationNameClaimed {
  type: 'OrganisationNameClaimed';
  data: { slug: string; name: string; organisationId: string; claimedAt: number };
}

/**
 * What makes two organisation names the same: Unicode compatibility form, case and runs of
 * white space are ignored ("ACME  Corp" and "acme corp" are one name). Pure, so the domain
 * and the service agree on it.
 */
export function organisationNameSlug(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, '-');
}

/** Longest slug accepted: the claim's stream id stays well under the log's 200 characters. */
export const MAX_ORGANISATION_SLUG_LENGTH = 128;

export interface GroupCreated {
  type: 'GroupCreated';
  data: { groupId: string; organisationId: string; name: string; createdAt: number };
}

export type UserEvent =
  | { type: 'UserRegistered'; data: { userId: string; username: string; passwordHash: string; registeredAt: number } }
  | { type: 'UserAddedToGroup'; data: { userId: string; groupId: string; organisationId: string } }
  /** The TOTP secret is sealed (AES-GCM, key in data/keys): the log alone does not reveal it. */
  | { type: 'MfaEnrolled'; data: { userId: string; sealedSecret: string; enrolledAt: number } }
  | { type: 'MfaCodeAccepted'; data: { userId: string; timeStep: number; connectionId: string | null; remoteAddress: string | null } }
  | {
      type: 'MfaCodeRejected';
      data: { userId: string; reason: 'invalid' | 'locked'; consecutiveFailures: number; connectionId: string | null; remoteAddress: string | null };
    }
  | { type: 'MfaLocked'; data: { userId: string; until: number; consecutiveFailures: number } }
  | { type: 'MfaUnlocked'; data: { userId: string; by: string } }
  | { type: 'UserDisabled'; data: { userId: string; by: string; reason: string; disabledAt: number } }
  | { type: 'UserEnabled'; data: { userId: string; by: string } };

export interface ClientRegistered {
  type: 'ClientRegistered';
  data: {
    clientId: string;
    organisationId: string;
    name: string;
    /** SHA-256 of the secret (a 256-bit random value, so a fast hash is enough); null for public clients. */
    secretHash: string | null;
    redirectUris: string[];
    public: boolean;
    registeredAt: number;
  };
}

export type AppEvent =
  | { type: 'AppTokenIssued'; data: { app: string; jti: string; issuedAt: number } }
  | { type: 'AppTokenRevoked'; data: { app: string; jti: string; by: string } };

export const IDENTITY_CATEGORIES = {
  organisation: 'organisation',
  group: 'group',
  user: 'user',
  client: 'client',
  app: 'app',
  /** Not `organisation-name-…`: that stream would fall in the `organisation` category. */
  organisationName: 'organisation_name',
} as const;

/**
 * Every identity event type by the category of stream it is written to (the operator's event
 * catalogue, `switchyard events --types`); `satisfies` fails to compile when a union gains a
 * type not listed here.
 */
export const USER_EVENT_TYPES = Object.keys({
  UserRegistered: true,
  UserAddedToGroup: true,
  MfaEnrolled: true,
  MfaCodeAccepted: true,
  MfaCodeRejected: true,
  MfaLocked: true,
  MfaUnlocked: true,
  UserDisabled: true,
  UserEnabled: true,
} satisfies Record<UserEvent['type'], true>) as readonly UserEvent['type'][];
export const APP_EVENT_TYPES = Object.keys({
  AppTokenIssued: true,
  AppTokenRevoked: true,
} satisfies Record<AppEvent['type'], true>) as readonly AppEvent['type'][];
export const ORGANISATION_EVENT_TYPES = Object.keys({
  OrganisationCreated: true,
  OrganisationUpdated: true,
  OrganisationDeleted: true,
} satisfies Record<OrganisationEvent['type'], true>) as readonly OrganisationEvent['type'][];
export const ORGANISATION_NAME_EVENT_TYPES: readonly OrganisationNameClaimed['type'][] = ['OrganisationNameClaimed'];
export const GROUP_EVENT_TYPES: readonly GroupCreated['type'][] = ['GroupCreated'];
export const CLIENT_EVENT_TYPES: readonly ClientRegistered['type'][] = ['ClientRegistered'];
