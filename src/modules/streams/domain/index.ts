import type { AggregateDefinition } from '../../../core/index.js';
import type { StreamCommand } from './stream.commands.js';
import { decideStream } from './stream.decide.js';
import { STREAM_CATEGORY } from './stream.events.js';
import { streamMachine } from './stream.machine.js';
import { ZOOM_CREDENTIALS_CATEGORY, decideZoomCredentials, zoomCredentialsMachine, type ZoomCredentialsCommand } from './zoom-credentials.js';

export * from './stream.events.js';
export * from './stream.commands.js';
export { streamMachine, type StreamContext } from './stream.machine.js';
export { decideStream, streamKeyNotValid, type StreamSnapshot } from './stream.decide.js';
export { streamStatus } from './stream.status.js';
export {
  ZOOM_CREDENTIALS_CATEGORY,
  ZOOM_CREDENTIALS_EVENT_TYPES,
  isZoomCredentialsEvent,
  zoomCredentialsMachine,
  decideZoomCredentials,
  type ZoomCredentialsCommand,
  type ZoomCredentialsEvent,
  type ZoomCredentialsSetData,
} from './zoom-credentials.js';

export const streamAggregate: AggregateDefinition<typeof streamMachine, StreamCommand> = {
  category: STREAM_CATEGORY,
  machine: streamMachine,
  decide: decideStream,
  // A stream takes a handful of commands in its life (a key, an activation, a few status
  // changes, a completion): loaded from its stream when one comes; reads go to the read model.
  rebuildAtStart: false,
  keepInMemory: false,
};

export const zoomCredentialsAggregate: AggregateDefinition<typeof zoomCredentialsMachine, ZoomCredentialsCommand> = {
  category: ZOOM_CREDENTIALS_CATEGORY,
  machine: zoomCredentialsMachine,
  decide: decideZoomCredentials,
  // Set by an operator now and then; signatures read the read model.
  rebuildAtStart: false,
  keepInMemory: false,
};
