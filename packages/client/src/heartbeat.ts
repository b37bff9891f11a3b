import { isSwitchyardError } from './errors.js';

/**
 * Notices a socket that died without a close (a cut network delivers none for minutes): after
 * `intervalMs` without any frame it sends `ping` (answered `pong`), and when that gets no
 * answer within `timeoutMs` it calls `dead`. Browsers hide WebSocket pings, hence a frame.
 */
export class Heartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = 0;
  private pinging = false;

  constructor(private readonly options: { intervalMs: number; timeoutMs: number }) {}

  /** Any frame received: the socket is alive. */
  beat(): void {
    this.lastFrameAt = Date.now();
  }

  start(ping: (timeoutMs: number) => Promise<unknown>, dead: () => void): void {
    this.stop();
    const { intervalMs, timeoutMs } = this.options;
    this.beat();
    this.timer = setInterval(() => {
      if (this.pinging || Date.now() - this.lastFrameAt < intervalMs) return;
      this.pinging = true;
      ping(timeoutMs).then(
        () => (this.pinging = false),
        (error: unknown) => {
          this.pinging = false;
          if (isSwitchyardError(error) && error.code === 'TIMEOUT') dead();
        },
      );
    }, Math.max(intervalMs / 2, 10));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.pinging = false;
  }
}
