import type { SecretBox } from '../../auth/index.js';
import { signZoomMeetingSignature } from '../../auth/zoom-signature.js';
import { AppError, streamId, type EventMetadata } from '../../core/index.js';
import type { ActorRuntime } from '../../runtime/index.js';
import type { StreamsConfig } from './config.js';
import { ZOOM_CREDENTIALS_CATEGORY, type ZoomCredentialsCommand } from './domain/index.js';
import type { StreamDirectory } from './projection.js';

export interface ZoomCredentials {
  sdkKey: string;
  sdkSecret: string;
  /** `log`: set with `switchyard zoom set` (wins); `config`: zoomSdkCredentials. */
  source: 'log' | 'config';
}

/** What `consumer_zoom_sign` answers; never the secret. */
export interface ZoomSignatureAnswer {
  signature: string;
  sdkKey: string;
  meeting_number: string;
  role: 0 | 1;
  expires_at: string;
}

export interface ZoomSignaturesDependencies {
  runtime: ActorRuntime;
  directory: StreamDirectory;
  secrets: Pick<SecretBox, 'seal' | 'open'>;
  config: Pick<StreamsConfig, 'zoomSdkCredentials' | 'zoomSignatureSeconds'>;
}

/**
 * Zoom Meeting SDK credentials per organisation and the signatures made with them.
 *
 * Credentials are read on every signature, from the read model (`switchyard zoom set`, which
 * a running server sees at its next signature: the CLI writes the row in its append's
 * transaction) and else from the config. The secret is opened for the signature and dropped:
 * it is in no answer, push, event or log line, only sealed in the log.
 */
export class ZoomSignatures {
  constructor(private readonly deps: ZoomSignaturesDependencies) {}

  credentialsOf(organisationId: string): ZoomCredentials | undefined {
    const recorded = this.deps.directory.zoomCredentials(organisationId);
    if (recorded) {
      let sdkSecret: string;
      try {
        sdkSecret = this.deps.secrets.open(recorded.sealedSecret);
      } catch {
        throw new AppError('UNAVAILABLE', "this organisation's Zoom credentials cannot be read: an operator must set them again");
      }
      return { sdkKey: recorded.sdkKey, sdkSecret, source: 'log' };
    }
    const configured = Object.hasOwn(this.deps.config.zoomSdkCredentials, organisationId) ? this.deps.config.zoomSdkCredentials[organisationId] : undefined;
    return configured && { sdkKey: configured.key, sdkSecret: configured.secret, source: 'config' };
  }

  /** A signature for the meeting; UNAVAILABLE when the organisation has no credentials. */
  sign(organisationId: string, meetingNumber: string, role: 0 | 1, now: number): ZoomSignatureAnswer {
    const credentials = this.credentialsOf(organisationId);
    if (!credentials) throw new AppError('UNAVAILABLE', 'Zoom is not set up for this organisation: an operator must set its Meeting SDK credentials');
    const signed = signZoomMeetingSignature({ sdkKey: credentials.sdkKey, sdkSecret: credentials.sdkSecret, meetingNumber, role, now, ttlSeconds: this.deps.config.zoomSignatureSeconds });
    return { signature: signed.signature, sdkKey: credentials.sdkKey, meeting_number: meetingNumber, role, expires_at: new Date(signed.expiresAt).toISOString() };
  }

  /** `switchyard zoom set`: records the key and the secret, sealed. Returns the event's position. */
  async set(organisationId: string, sdkKey: string, sdkSecret: string, metadata: EventMetadata & { now: number }): Promise<number | undefined> {
    const { now, ...rest } = metadata;
    const command: ZoomCredentialsCommand = { type: 'SetZoomCredentials', organisationId, sdkKey, sealedSecret: this.deps.secrets.seal(sdkSecret), now };
    const result = await this.deps.runtime.execute(streamId(ZOOM_CREDENTIALS_CATEGORY, organisationId), command, rest);
    return result.events.at(-1)?.position;
  }
}
