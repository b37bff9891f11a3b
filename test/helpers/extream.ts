import type { Frame, TestClient } from './ws-client.js';

let nextId = 10_000;

export interface CommandAnswers {
  /** `{status:202, topic, messageId}`, once the change is in the log; undefined for reads and refusals. */
  receipt: Frame | undefined;
  /** The result `{status, domain, action, command, meta, response}`, or the error/refusal. */
  result: Frame;
}

/**
 * Sends an Extream command on a native socket with a fresh `id` and waits for its answers
 * (PROTOCOL.md section 8): the receipt when it changed something, then the result. The
 * bound is a hang guard for a loaded machine, not a timing claim.
 */
export async function command(client: TestClient, event: string, data: unknown, timeoutMs = 60_000): Promise<CommandAnswers> {
  const id = nextId++;
  client.sendJson({ event, data, id });
  const result = await client.next((frame) => frame.id === id && (frame.data as { status?: number } | undefined)?.status !== 202, timeoutMs);
  const at = client.frames.findIndex((frame) => frame.id === id && (frame.data as { status?: number }).status === 202);
  const receipt = at === -1 ? undefined : client.frames.splice(at, 1)[0];
  return { receipt, result };
}

/** The result's `response`, typed for the test. */
export const responseOf = <T = Record<string, unknown>>(answers: CommandAnswers): T => (answers.result.data as { response: T }).response;
