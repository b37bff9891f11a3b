/** Events of the identity area: organisations, groups, users, OAuth2 clients, apps. */

export interface OrganisationCreated {
  type: 'OrganisationCreated';
  data: { organisationId: string; name: string; createdAt: number };
}

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
} as const;
