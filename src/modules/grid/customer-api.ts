import type { Logger } from 'pino';
import type { Scheduler } from '../../runtime/index.js';
import { definitionsFromConfig, type CustomerDirectory } from './customers.js';
import { customerListSchema } from './grid-config.js';
import type { GridMetrics } from './metrics.js';

export interface CustomerApiOptions {
  url: string;
  intervalSeconds: number;
  token?: string | undefined;
  /** Per fetch; a hanging API must not stall the next round. */
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Fetches the customer list from an HTTP API (GET, JSON in the ODIN customer format) every
 * interval. A failed or invalid answer changes nothing: the last good list stays in force,
 * the failure is logged and counted in `switchyard_customer_api_failures_total`.
 */
export class CustomerApiPoller {
  private running: Promise<boolean> | undefined;
  private stopped = false;
  lastSuccessAt: number | null = null;
  lastFailure: string | null = null;

  constructor(
    private readonly options: CustomerApiOptions,
    private readonly directory: CustomerDirectory,
    private readonly logger: Logger,
    private readonly metrics: GridMetrics,
    private readonly now: () => number,
  ) {}

  /** Fetches now, then every interval by the platform scheduler (which stops it at shutdown). */
  start(scheduler: Scheduler): void {
    void this.poll();
    scheduler.every('grid.customer-api', this.options.intervalSeconds * 1000, () => this.poll());
  }

  /** After this, scheduled rounds are no-ops; waits for a fetch under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** One fetch; resolves true when the list was replaced. Overlapping calls share one fetch. */
  poll(): Promise<boolean> {
    this.running ??= this.fetchOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async fetchOnce(): Promise<boolean> {
    if (this.stopped) return false;
    const { url, token, timeoutMs = 10_000, maxBytes = 16 * 1024 * 1024 } = this.options;
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      if (text.length > maxBytes) throw new Error(`answer larger than ${maxBytes} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error('answer is not JSON');
      }
      const parsed = customerListSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`answer is not a customer list: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
      }
      if (this.stopped) return false;
      this.directory.setSource('api', definitionsFromConfig(parsed.data));
      this.lastSuccessAt = this.now();
      this.lastFailure = null;
      this.metrics.customerApiUpdates.inc();
      this.logger.info({ customers: parsed.data.length }, 'customer list updated from the customer API');
      return true;
    } catch (error) {
      const reason = describeFailure(error, timeoutMs);
      this.lastFailure = reason;
      this.metrics.customerApiFailures.inc();
      this.logger.warn({ reason }, 'customer API fetch failed; keeping the last good customer list');
      return false;
    }
  }
}

/** A loggable reason; fetch hides the network cause (refused, DNS, TLS) in `cause`. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${error.message}: ${cause.code ?? cause.message ?? 'unknown cause'}` : error.message;
}
