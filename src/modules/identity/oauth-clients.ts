import { toPublicError } from '../../core/index.js';
import type { RegisteredClient } from './oauth-protocol.js';
import type { ConfiguredOAuthClient } from './config.js';
import type { IdentityService } from './identity-service.js';

export interface OAuthClientsLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

/** The OAuth2 clients: lookups from the read model, and the ones the config file names. */
export class OAuthClients {
  constructor(
    private readonly identity: IdentityService,
    /** The `oauthClients` config key. */
    private readonly configured: readonly ConfiguredOAuthClient[],
    private readonly logger?: OAuthClientsLogger,
  ) {}

  /** A registered client, from the read model (an unknown id creates no actor). */
  client(clientId: string): RegisteredClient | undefined {
    const row = this.identity.directory.client(clientId);
    if (!row) return undefined;
    return {
      clientId: row.client_id,
      organisationId: row.organisation_id,
      name: row.name,
      public: row.public === 1,
      redirectUris: JSON.parse(row.redirect_uris) as string[],
    };
  }

  /**
   * Registers the clients of the `oauthClients` config key that are not registered yet. A
   * registered client is never changed: a config entry that differs from it is reported.
   */
  async registerConfiguredClients(): Promise<{ registered: string[]; differing: string[] }> {
    const registered: string[] = [];
    const differing: string[] = [];
    for (const entry of this.configured) {
      const existing = this.client(entry.id);
      const organisation = this.identity.directory.organisationByIdOrName(entry.organisation);
      if (!existing) {
        if (!organisation) {
          throw new Error(`oauthClients: client ${entry.id} names organisation "${entry.organisation}", which does not exist (switchyard orgs add)`);
        }
        try {
          await this.identity.registerClient({
            organisation: organisation.organisation_id,
            name: entry.name,
            redirectUris: [...entry.redirectUris],
            public: entry.public,
            by: 'config',
            clientId: entry.id,
            ...(entry.secret === undefined ? {} : { clientSecret: entry.secret }),
          });
        } catch (error) {
          throw new Error(`oauthClients: cannot register client ${entry.id}: ${toPublicError(error).message}`);
        }
        registered.push(entry.id);
        continue;
      }
      let sameSecret = existing.public;
      if (!existing.public && entry.secret !== undefined) {
        try {
          this.identity.authenticateClient(entry.id, entry.secret);
          sameSecret = true;
        } catch {
          sameSecret = false;
        }
      }
      const same =
        existing.organisationId === organisation?.organisation_id &&
        existing.public === entry.public &&
        sameSecret &&
        JSON.stringify(existing.redirectUris) === JSON.stringify(entry.redirectUris);
      if (!same) {
        differing.push(entry.id);
        this.logger?.warn({ clientId: entry.id }, 'oauthClients: this client is registered with other settings; the registered ones stay in force');
      }
    }
    return { registered, differing };
  }
}
