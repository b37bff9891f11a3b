import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; `silent` in tests. */
export function createLogger(level: string, name = 'switchyard'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
