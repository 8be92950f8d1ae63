/**
 * Capture: which paths under the mirrored roots changed. The engine re-reads each reported path (hints are only
 * hints) and rescans a root on onOverflow, so the one rule here is that no change goes unreported: a lost event
 * (queue overflow, a folder the watcher could not watch, the root deleted or moved, the watcher dying) always
 * ends in onOverflow for its root, and a watcher that can no longer see the whole tree is restarted (with
 * backoff), with one more onOverflow once it watches again so the rescan covers the blind interval.
 */
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { inotifywaitFactory } from './capture-inotifywait.js';
import { scanSubtree } from './capture-scan.js';
import { CaptureError, type CaptureHint, type TreeWatcher, type TreeWatcherFactory, type WatcherEvent, type WatcherSink } from './capture-watcher.js';

export { CaptureError, type CaptureErrorCode, type CaptureHint, type TreeWatcherFactory } from './capture-watcher.js';
export { inotifywaitFactory } from './capture-inotifywait.js';

export interface CaptureEvent {
  readonly root: string;
  /** Relative to root, posix separators. */
  readonly path: string;
  readonly hint: CaptureHint;
}

export interface CaptureOptions {
  /** Absolute folders (relative ones are resolved against the working directory); none may contain another. */
  readonly roots: readonly string[];
  /** False drops the path; for a folder found by a scan, also what is under it. */
  readonly filter?: (relPath: string, isDir: boolean) => boolean;
  /**
   * Given a promise, the next batch waits until it settles (up to maxBatch paths): while the consumer is busy,
   * events pile up into one batch instead of many small ones; while it is idle, each one goes at once.
   */
  onEvents(events: readonly CaptureEvent[]): Promise<unknown> | undefined;
  onOverflow(root: string, reason: string): void;
  /**
   * How long events of one path are merged before delivery (default 1 ms: a write's modify and close events
   * arrive together; any longer is only lag, and a busy consumer batches anyway).
   */
  readonly coalesceMs?: number;
  /** Deliver early once this many paths are pending; bounds memory in a burst (default 4096). */
  readonly maxBatch?: number;
  /** First restart delay of a broken watcher, doubled per failure up to maxRetryMs (defaults 1 s, 30 s). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** The platform watcher (default: inotifywait). */
  readonly watcher?: TreeWatcherFactory;
}

const DEFAULTS = { coalesceMs: 1, maxBatch: 4096, retryMs: 1000, maxRetryMs: 30_000 };

export class Capture {
  private readonly roots: readonly RootWatch[];
  private readonly pending = new Map<string, CaptureEvent>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** The consumer is still working on the last batch. */
  private delivering = false;
  private readonly coalesceMs: number;
  private readonly maxBatch: number;
  private started = false;
  private closed = false;

  constructor(private readonly o: CaptureOptions) {
    this.coalesceMs = o.coalesceMs ?? DEFAULTS.coalesceMs;
    this.maxBatch = Math.max(1, o.maxBatch ?? DEFAULTS.maxBatch);
    const roots = o.roots.map((r) => resolve(r));
    for (const a of roots) {
      for (const b of roots) {
        if (a !== b && (b.startsWith(a + sep) || a === sep)) throw new CaptureError('VIGIL_CAPTURE_ROOT', `roots: ${b} is inside ${a}`);
      }
      if (roots.indexOf(a) !== roots.lastIndexOf(a)) throw new CaptureError('VIGIL_CAPTURE_ROOT', `roots: ${a} is listed twice`);
    }
    const factory = o.watcher ?? inotifywaitFactory();
    this.roots = roots.map((root) => new RootWatch(root, factory, this, {
      retryMs: o.retryMs ?? DEFAULTS.retryMs, maxRetryMs: o.maxRetryMs ?? DEFAULTS.maxRetryMs,
    }));
  }

  /**
   * Resolves once every root is watched. Rejects (closing what it started) when a root is not a folder or the
   * watcher is not installed; a root that cannot be watched for lack of resources is reported by onOverflow
   * and retried instead, so the mirror keeps working by rescans.
   */
  async start(): Promise<void> {
    if (this.started) throw new CaptureError('VIGIL_CAPTURE_FAILED', 'start() was already called');
    this.started = true;
    for (const root of this.roots) {
      const s = await stat(root.root).catch(() => undefined);
      if (!s?.isDirectory()) throw new CaptureError('VIGIL_CAPTURE_ROOT', `roots: ${root.root} is not a folder`);
    }
    const results = await Promise.allSettled(this.roots.map((r) => r.start()));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      await this.close();
      throw failure.reason;
    }
  }

  /** Delivers what is pending, then stops every watcher, timer and scan; no callback follows. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await Promise.all(this.roots.map((r) => r.close()));
  }

  /** @internal RootWatch reports here. */
  add(root: string, path: string, hint: CaptureHint, isDir: boolean): void {
    if (this.closed) return;
    if (path !== '' && this.o.filter !== undefined && !this.o.filter(path, isDir)) {
      // An excluded entry made, removed or renamed still moves its folder's time, which is mirrored: the folder
      // is reported instead (its own path passed the filter when its watch was set).
      if (hint !== 'changed') this.add(root, parentOf(path), 'changed', true);
      return;
    }
    const key = `${root}\0${path}`;
    const before = this.pending.get(key);
    this.pending.set(key, { root, path, hint: before === undefined ? hint : merge(before.hint, hint) });
    if (this.pending.size >= this.maxBatch) this.flush();
    else if (!this.delivering) this.flushTimer ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  /** @internal */
  overflow(root: string, reason: string): void {
    if (this.closed) return;
    this.flush();
    this.o.onOverflow(root, reason);
  }

  /** @internal */
  scanFilter(path: string, isDir: boolean): boolean {
    return this.o.filter !== undefined && !this.o.filter(path, isDir);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0 || this.closed) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    const delivered = this.o.onEvents(batch);
    if (delivered === undefined) return;
    this.delivering = true;
    const next = (): void => {
      this.delivering = false;
      if (this.pending.size > 0) this.flush();
    };
    delivered.then(next, next);
  }
}

/** The folder holding `path` ('' for the root's entries). */
function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** A path seen created (or moved in) stays so through later changes in the same window; otherwise the last wins. */
function merge(before: CaptureHint, after: CaptureHint): CaptureHint {
  if (after === 'changed' && (before === 'created' || before === 'renamed-to')) return before;
  return after;
}

/** One root's watcher, its restarts and the scans of folders that appeared under it. */
class RootWatch {
  private watcher: TreeWatcher | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private readonly scans = new Set<Promise<void>>();
  private closed = false;

  constructor(
    readonly root: string,
    private readonly factory: TreeWatcherFactory,
    private readonly capture: Capture,
    private readonly retry: { retryMs: number; maxRetryMs: number },
  ) {
    this.retryDelay = retry.retryMs;
  }

  /** The first start: resource failures become onOverflow and a retry; the rest reject. */
  async start(): Promise<void> {
    const failure = await this.watch();
    if (failure === undefined) return;
    if (failure.code === 'VIGIL_CAPTURE_UNAVAILABLE' || failure.code === 'VIGIL_CAPTURE_ROOT') throw failure;
    this.degraded(failure.message);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.close();
    await Promise.allSettled([...this.scans]);
  }

  /** Start a watcher; undefined once it watches the whole tree, else why not. */
  private async watch(): Promise<CaptureError | undefined> {
    const watcher: TreeWatcher = this.factory(this.root, this.sinkFor(() => this.watcher === watcher));
    this.watcher = watcher;
    try {
      await watcher.start();
      return undefined;
    } catch (e) {
      if (this.watcher === watcher) this.watcher = undefined;
      await watcher.close();
      return e instanceof CaptureError ? e : new CaptureError('VIGIL_CAPTURE_FAILED', `${this.root}: ${String(e)}`);
    }
  }

  private sinkFor(current: () => boolean): WatcherSink {
    return {
      event: (e) => { if (current() && !this.closed) this.onEvent(e); },
      lost: (reason) => { if (current() && !this.closed) this.capture.overflow(this.root, reason); },
      broken: (reason) => { if (current() && !this.closed) this.onBroken(reason); },
    };
  }

  private onEvent(e: WatcherEvent): void {
    this.capture.add(this.root, e.path, e.hint, e.isDir);
    if (e.scan && !this.capture.scanFilter(e.path, e.isDir)) this.scan(e.path);
  }

  private scan(relDir: string): void {
    const done = scanSubtree(this.root, relDir, {
      exclude: (p, isDir) => this.capture.scanFilter(p, isDir),
      found: (p, isDir) => this.capture.add(this.root, p, 'created', isDir),
      cancelled: () => this.closed,
    }).catch((e: unknown) => {
      if (!this.closed) this.capture.overflow(this.root, `scan of new folder ${relDir} failed: ${(e as Error).message}`);
    }).finally(() => this.scans.delete(done));
    this.scans.add(done);
  }

  private onBroken(reason: string): void {
    const watcher = this.watcher;
    this.watcher = undefined;
    void watcher?.close();
    this.degraded(reason);
  }

  /** Not (fully) watching: the engine must rescan now, and we try again later. */
  private degraded(reason: string): void {
    this.capture.overflow(this.root, reason);
    if (this.closed) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.retry.maxRetryMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.rewatch(reason);
    }, delay);
  }

  private async rewatch(previous: string): Promise<void> {
    if (this.closed) return;
    const failure = await this.watch();
    if (this.closed) return;
    if (failure !== undefined) {
      this.degraded(failure.message);
      return;
    }
    this.retryDelay = this.retry.retryMs;
    // Everything between the break and now went unseen.
    this.capture.overflow(this.root, `watching again after: ${previous}`);
  }
}
