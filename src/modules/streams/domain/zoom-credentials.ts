import type { SnapshotFrom } from 'xstate';
import { assign, setup } from 'xstate';
import { ZOOM_CREDENTIALS_CATEGORY, type ZoomCredentialsEvent } from './zoom-credentials.events.js';

export * from './zoom-credentials.events.js';

/**
 * An organisation's Zoom Meeting SDK credentials, set by the operator (`switchyard zoom set`):
 * one stream per organisation, `zoom_credentials-<organisationId>`; the latest set counts. The
 * secret is sealed with the gateway's secrets key before it is recorded: the log never holds
 * it in clear, and the events view redacts the sealed field by its name.
 */

export type ZoomCredentialsCommand = { type: 'SetZoomCredentials'; organisationId: string; sdkKey: string; sealedSecret: string; now: number };

export const zoomCredentialsMachine = setup({
  types: { context: {} as { sdkKey: string | null; setAt: number | null }, events: {} as ZoomCredentialsEvent },
}).createMachine({
  id: 'zoom_credentials',
  context: { sdkKey: null, setAt: null },
  on: { ZoomCredentialsSet: { actions: assign(({ event }) => ({ sdkKey: event.data.sdkKey, setAt: event.data.setAt })) } },
});

/**
 * Every set is recorded, even one repeating the last: the secret cannot be compared without
 * opening it, and the audit view should show each time an operator set credentials.
 */
export function decideZoomCredentials(command: ZoomCredentialsCommand, _snapshot: SnapshotFrom<typeof zoomCredentialsMachine>): ZoomCredentialsEvent[] {
  const { organisationId, sdkKey, sealedSecret, now } = command;
  return [{ type: 'ZoomCredentialsSet', data: { organisationId, sdkKey, sealedSecret, setAt: now } }];
}
