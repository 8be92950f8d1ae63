/**
 * The seam between Capture (coalescing, new-folder scans, recovery) and one platform's recursive watcher of one
 * root: inotifywait on Linux (capture-inotifywait.ts); on Windows an adapter over fs.watch recursive
 * (ReadDirectoryChangesW) would implement the same interface.
 */

export type CaptureHint = 'changed' | 'removed' | 'created' | 'renamed-from' | 'renamed-to' | 'unknown';

/** One raw event of a watcher, relative to its root ('' is the root itself: its mode, owner or attributes changed). */
export interface WatcherEvent {
  readonly path: string;
  readonly hint: CaptureHint;
  readonly isDir: boolean;
  /**
   * The folder appeared after the watcher may have looked at its parent (created, or moved in from outside):
   * things made inside it before its watch existed produced no event, so Capture scans it.
   */
  readonly scan: boolean;
}

export interface WatcherSink {
  event(e: WatcherEvent): void;
  /** Events were lost but the watches are intact (the kernel queue overflowed): a rescan suffices. */
  lost(reason: string): void;
  /** The watcher can no longer watch the whole tree (root gone, watch limit, process died): restart it. */
  broken(reason: string): void;
}

export interface TreeWatcher {
  /** Resolves once every folder of the tree is watched; rejects with CaptureError when that cannot be done. */
  start(): Promise<void>;
  /** Stops watching and releases everything; no sink call follows. */
  close(): Promise<void>;
}

export type TreeWatcherFactory = (root: string, sink: WatcherSink) => TreeWatcher;

export type CaptureErrorCode = 'VIGIL_CAPTURE_UNAVAILABLE' | 'VIGIL_CAPTURE_ROOT' | 'VIGIL_CAPTURE_WATCH_LIMIT' | 'VIGIL_CAPTURE_FAILED';

export class CaptureError extends Error {
  constructor(readonly code: CaptureErrorCode, message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}
