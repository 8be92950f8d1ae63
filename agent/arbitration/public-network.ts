/**
 * Does this node still reach the public network? Pings the configured targets (the gateway, a router) each
 * interval, in its own child processes, never on the heartbeat's path. The state changes only after
 * `rounds` consecutive rounds agree, so one lost ping does not move a group.
 */
import type { ClusterConfig } from '../../common/config/schema.js';
import type { ProcessRunner } from '../platform/types.js';
import { SANE_PATH } from '../platform/environment.js';
import type { Clock, Disposable } from '../util/clock.js';

export type PublicNetworkState = 'ok' | 'lost';

export class PublicNetworkMonitor {
  private state: PublicNetworkState | undefined;
  private streak = 0;
  private streakOf: PublicNetworkState | undefined;
  private timer: Disposable | undefined;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly settings: ClusterConfig['arbitration'],
    private readonly runner: ProcessRunner,
    private readonly clock: Clock,
    private readonly onChange: (state: PublicNetworkState) => void,
  ) {}

  /** Undefined until the first verdict, and always when no ping target is configured. */
  current(): PublicNetworkState | undefined {
    return this.state;
  }

  start(): void {
    if (this.settings.pingTargets.length === 0) return;
    void this.round();
  }

  /** One round: the public network is there if ANY target answers. Rounds keep a fixed cadence (one starts every
   * interval), so the time to notice a loss is bounded: rounds x interval + timeout. */
  private async round(): Promise<void> {
    const started = this.clock.now();
    const answers = await Promise.all(this.settings.pingTargets.map((target) => this.ping(target)));
    if (this.stopped) return;
    this.observe(answers.some(Boolean) ? 'ok' : 'lost');
    const wait = Math.max(0, started + this.settings.interval - this.clock.now());
    this.timer = this.clock.setTimer(wait, () => void this.round());
  }

  /** Exposed for tests of the hysteresis; the rounds call it with each verdict. */
  observe(verdict: PublicNetworkState): void {
    this.streak = verdict === this.streakOf ? this.streak + 1 : 1;
    this.streakOf = verdict;
    // The first verdict counts at once: until then the node knows nothing and must not be held back.
    if (verdict !== this.state && (this.state === undefined || this.streak >= this.settings.rounds)) {
      this.state = verdict;
      this.onChange(verdict);
    }
  }

  private async ping(target: string): Promise<boolean> {
    // iputils ping takes fractions of a second in -W; a reply later than the timeout counts as none, as does a
    // ping that the runner had to kill.
    const seconds = (this.settings.timeout / 1000).toFixed(3);
    const result = await this.runner.run({
      file: 'ping', args: ['-n', '-q', '-c', '1', '-W', seconds, target], env: { PATH: SANE_PATH },
      timeoutMs: this.settings.timeout + 200, signal: this.abort.signal,
    });
    return result.rc === 0;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.dispose();
    this.abort.abort();
  }
}
