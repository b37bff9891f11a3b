/**
 * The maps are open: a module's new topics (chat, polls, ...) are typed by augmenting them,
 * in this repo in src/topics.ts, in an app with `declare module '@switchyard/client'`.
 */
import type { SwitchyardClient } from '../src/index.js';

declare module '../src/topics.js' {
  interface CommandMap {
    example_thing_send: { data: { id: string; text: string }; response: { delivered: boolean } };
  }
  interface PushMap {
    example_thing_receive: { id: string; text: string };
  }
}

declare const client: SwitchyardClient;

export async function augmented(): Promise<void> {
  const sent = await client.command('example_thing_send', { id: 'x', text: 'hi' });
  const delivered: boolean = sent.response.delivered;
  void delivered;
  // @ts-expect-error the augmented command's data is typed too
  await client.command('example_thing_send', { id: 'x', body: 'hi' });
  client.on('example_thing_receive', (data) => void data.text);
}
