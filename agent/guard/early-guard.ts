/**
 * The guard an agent starts first, before it builds anything else: a guard's load (a node process of its own)
 * takes about as long as the agent's own start, and the engine starts no resource before it is ready. A guard is
 * told its configuration once, as it starts, so one started before the agent's configuration catch-up is
 * replaced if the catch-up brings a newer configuration.
 */
import type { ClusterConfig } from '../../common/config/schema.js';
import type { GuardLink } from './guard-link.js';

export class EarlyGuard {
  private current: GuardLink;
  private readyNow: Promise<unknown>;
  /** The engine runs and reports to the guard. */
  private engaged = false;

  constructor(private readonly make: (config: ClusterConfig) => GuardLink, config: ClusterConfig) {
    this.current = make(config);
    this.readyNow = this.start();
  }

  /** The guard to report to and stop. */
  get link(): GuardLink {
    return this.current;
  }

  /** Settles once the current guard is ready: with undefined, or with why it could not start. */
  get ready(): Promise<unknown> {
    return this.readyNow;
  }

  /**
   * A guard for `config` takes over at once. The one before is told goodbye and exits on its own: it was never
   * told of anything running (the engine reports only once it runs, after `ready`), so it has nothing to release.
   */
  replace(config: ClusterConfig): void {
    const before = this.current;
    this.current = this.make(config);
    this.readyNow = this.start();
    void before.stop();
  }

  /** From now on the engine reports to the guard: a failure of the agent's start no longer dismisses it. */
  guarding(): void {
    this.engaged = true;
  }

  /**
   * The agent could not start: a guard told of nothing yet is told goodbye. One the engine has reported to is
   * left alone, to stop what runs when the agent's process ends.
   */
  async dismiss(): Promise<void> {
    if (!this.engaged) await this.current.stop();
  }

  private async start(): Promise<unknown> {
    try {
      await this.current.start();
      return undefined;
    } catch (e) {
      return e;
    }
  }
}
