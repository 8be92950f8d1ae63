/**
 * A token bucket per session: `burst` requests at once, refilled at `perSecond`. A client that keeps pushing
 * past it gets RATE_LIMITED answers; one that ignores those too many times is disconnected, so a flood costs the
 * agent a parse and a counter per frame, never a handler.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly perSecond: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
