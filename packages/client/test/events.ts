import type { ClientEvents, SwitchyardClient } from '../src/index.js';

/**
 * The next `name` event of a client (matching `where`), as a promise: tests wait on what the
 * client reports, never on time. The bound is a hang guard for a loaded machine.
 */
export function nextEvent<Name extends keyof ClientEvents & string>(
  client: SwitchyardClient,
  name: Name,
  where: (data: ClientEvents[Name]) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<ClientEvents[Name]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for the client's ${name} event`));
    }, timeoutMs);
    const off = client.on(name, (data) => {
      if (!where(data)) return;
      clearTimeout(timer);
      off();
      resolve(data);
    });
  });
}

/** Every lifecycle event of a client, in order, for assertions on the sequence. */
export function recordLifecycle(client: SwitchyardClient): { name: string; data: unknown }[] {
  const events: { name: string; data: unknown }[] = [];
  for (const name of ['connecting', 'open', 'reconnecting', 'closed', 'resumed', 'restarted', 'auth-failed'] as const) {
    client.on(name, (data) => events.push({ name, data }));
  }
  return events;
}

/** A promise's outcome as a value, so a rejection can be asserted next to other results. */
export const settle = <T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> =>
  promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
