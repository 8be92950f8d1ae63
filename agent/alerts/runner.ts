/**
 * One channel's deliveries: at most `concurrency` at once, the rest waiting in a bounded queue (overflow is
 * dropped, counted and logged: a flood of events must not pile up unbounded memory behind a dead server),
 * each retried with doubling backoff while the failure is worth retrying.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AlertErrorCode } from '../../common/model/index.js';
import type { AlertChannel, AlertMessage } from './channel.js';

export interface RunnerOptions {
  readonly attempts: number;
  readonly retryDelay: number;
  readonly concurrency: number;
  readonly queueLimit: number;
}

export type DeliveryOutcome =
  | { readonly ok: true; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly code: AlertErrorCode; readonly message: string };

const MAX_BACKOFF_MS = 60_000;

export class ChannelRunner {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private droppedCount = 0;

  constructor(
    readonly channel: AlertChannel,
    private readonly options: RunnerOptions,
    private readonly log: (line: string) => void,
    private readonly signal: AbortSignal,
  ) {}

  get dropped(): number {
    return this.droppedCount;
  }

  /** Never rejects. */
  async deliver(message: AlertMessage): Promise<DeliveryOutcome> {
    if (this.active >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queueLimit) {
        this.droppedCount++;
        const text = `channel "${this.channel.name}" has ${this.active} deliveries running and ${this.waiting.length} waiting`;
        this.log(`alerts: ${text}: alert ${message.alertId} dropped (${this.droppedCount} dropped so far)`);
        return { ok: false, attempts: 0, code: 'VIGIL_ALERT_QUEUE_FULL', message: text };
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await this.withRetries(message);
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes to the next waiter, so `active` is unchanged
      else if (--this.active === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }

  /** Resolves when nothing runs or waits (after a reconfigure, the old channel finishes what it started). */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async withRetries(message: AlertMessage): Promise<DeliveryOutcome> {
    for (let attempt = 1; ; attempt++) {
      if (this.signal.aborted) return { ok: false, attempts: attempt - 1, code: 'VIGIL_ALERT_CLOSED', message: 'alert dispatcher closed before the delivery' };
      const result = await this.channel.attempt(message, this.signal);
      if (result.ok) return { ok: true, attempts: attempt };
      if (!result.retryable || attempt >= this.options.attempts || this.signal.aborted) {
        return { ok: false, attempts: attempt, code: result.code, message: result.message };
      }
      const delay = Math.min(this.options.retryDelay * 2 ** (attempt - 1), MAX_BACKOFF_MS);
      try {
        await sleep(delay, undefined, { signal: this.signal });
      } catch {
        return { ok: false, attempts: attempt, code: result.code, message: `${result.message} (no retry: alert dispatcher closed)` };
      }
    }
  }
}
