import type { RecordedEvent } from '../../../core/index.js';

/**
 * The events of an organisation's Zoom Meeting SDK credentials (`zoom_credentials-<orgId>`,
 * zoom-credentials.ts): the secret is sealed with the gateway's secrets key before it is
 * recorded, and the events view redacts the sealed field by its name.
 */

export const ZOOM_CREDENTIALS_CATEGORY = 'zoom_credentials';

export interface ZoomCredentialsSetData {
  organisationId: string;
  sdkKey: string;
  sealedSecret: string;
  setAt: number;
}

export type ZoomCredentialsEvent = { type: 'ZoomCredentialsSet'; data: ZoomCredentialsSetData };

export const ZOOM_CREDENTIALS_EVENT_TYPES = Object.keys({ ZoomCredentialsSet: true } satisfies Record<ZoomCredentialsEvent['type'], true>) as readonly ZoomCredentialsEvent['type'][];

export function isZoomCredentialsEvent(event: RecordedEvent): event is RecordedEvent & ZoomCredentialsEvent {
  return event.type === 'ZoomCredentialsSet' && event.streamId.startsWith(`${ZOOM_CREDENTIALS_CATEGORY}-`);
}
