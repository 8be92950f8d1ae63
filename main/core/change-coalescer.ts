/**
 * Coalesces the center's pushes to a page. A node's view carries its whole snapshot, and a busy node changes many
 * times a second (round trips, lag, log entries): forwarding each change would send megabytes a second to a page
 * watching a hundred clusters. Within a short window only a node's latest view is sent. Nothing is lost: the view is
 * cumulative (its snapshot holds the newest log entries, from which the console takes the ones it has not seen), and
 * the merged change says `snapshot` or `event` when any change in the window did, so the page still reads the log.
 * Cluster additions and removals are sent at once, in order: a removal first drops its nodes' pending changes.
 */
import type { CenterChange } from '../../common/ipc/contract.js';

type NodeChange = Extract<CenterChange, { kind: 'node' }>;

export interface CoalescerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const WEIGHT: Readonly<Record<NodeChange['what'], number>> = { state: 0, event: 1, snapshot: 2 };

export class ChangeCoalescer {
  private readonly pending = new Map<string, NodeChange>();
  private timer: unknown;
  private disposed = false;

  constructor(
    private readonly send: (change: CenterChange) => void,
    /** 0 sends every change at once. */
    private readonly windowMs = 50,
    private readonly timers: CoalescerTimers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) },
  ) {
    if (!(windowMs >= 0)) throw new RangeError(`windowMs must be 0 or more, got ${windowMs}`);
  }

  push(change: CenterChange): void {
    if (this.disposed) return;
    if (change.kind !== 'node' || this.windowMs === 0) {
      if (change.kind === 'cluster-removed') {
        for (const [key, c] of this.pending) if (c.cluster === change.cluster) this.pending.delete(key);
      }
      this.send(change);
      return;
    }
    const key = `${change.cluster}\0${change.node}`;
    const before = this.pending.get(key);
    // Map order is first insertion: a node keeps its place in the flush while its view is replaced.
    this.pending.set(key, before === undefined || WEIGHT[change.what] >= WEIGHT[before.what] ? change : { ...change, what: before.what });
    this.timer ??= this.timers.setTimeout(() => this.flush(), this.windowMs);
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    const out = [...this.pending.values()];
    this.pending.clear();
    for (const c of out) this.send(c);
  }

  /** Drops what is pending and stops; later pushes are ignored. */
  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}
