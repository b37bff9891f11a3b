import type { OrganisationProfile } from './identity.events.js';

export type UserCommand =
  | { type: 'RegisterUser'; userId: string; username: string; passwordHash: string; now: number }
  | { type: 'AddUserToGroup'; groupId: string; organisationId: string }
  | { type: 'EnrollMfa'; sealedSecret: string; now: number }
  /**
   * The edge checks the code against the secret (otplib) and passes the matched time step
   * (or null): the domain stays free of crypto, and decides replay, failure count and lock.
   */
  | {
      type: 'CheckMfaCode';
      matchedTimeStep: number | null;
      now: number;
      maxFailures: number;
      lockSeconds: number;
      connectionId: string | null;
      remoteAddress: string | null;
    }
  | { type: 'UnlockMfa'; by: string }
  | { type: 'DisableUser'; by: string; reason: string; now: number }
  | { type: 'EnableUser'; by: string };

export type OrganisationCommand =
  | { type: 'CreateOrganisation'; organisationId: string; name: string; profile?: OrganisationProfile; now: number }
  | { type: 'UpdateOrganisation'; changes: Partial<OrganisationProfile> & { name?: string }; by: string; now: number }
  | { type: 'DeleteOrganisation'; by: string; now: number };
/** Takes a name for an organisation (stream `organisation_name-<slug>`); refused once taken. */
export type OrganisationNameCommand = { type: 'ClaimOrganisationName'; name: string; organisationId: string; now: number };
export type GroupCommand = { type: 'CreateGroup'; groupId: string; organisationId: string; name: string; now: number };
export type ClientCommand = {
  type: 'RegisterClient';
  clientId: string;
  organisationId: string;
  name: string;
  secretHash: string | null;
  redirectUris: string[];
  public: boolean;
  now: number;
};
export type AppCommand =
  | { type: 'IssueAppToken'; app: string; jti: string; now: number }
  | { type: 'RevokeAppToken'; jti: string; by: string };
