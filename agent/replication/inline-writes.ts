/**
 * Where the target writes a record's bytes: on the thread that received and decrypted them (a synchronous
 * write), or through libuv's thread pool. Written on the receiving thread, the full mirror of bench:mirror's
 * large files took 3.5-4.1 s after the agents started instead of 4.8 (docs/replication.md, "Eighth round"):
 * likely because no promise or pool trip is paid per 256 KiB piece and the kernel copies from a buffer still in
 * this core's cache (not measured apart).
 *
 * The price is that a write blocks the agent's event loop for as long as the kernel makes it wait, and the same
 * loop answers heartbeats (a dead time is 600 ms by default). Three rules keep that short:
 * - only on a local file system (by its statfs magic): a network file system may hold a write for seconds;
 * - only while the machine's dirty pages are below the kernel's background writeback threshold
 *   (/proc/vmstat, read at most every 100 ms or 16 MiB): the kernel makes writers sleep (up to 200 ms a call)
 *   only well above it, halfway to the hard limit;
 * - a piece that took longer than `slowMs` anyway (a memory cgroup's own limit, a slow device) sends the writes
 *   of the next `backoffMs` to the pool, where a wait costs the loop nothing.
 * Once the page cache no longer takes bytes at memory speed, the pool loses nothing. The root's file system is
 * the one judged: the Applier writes inline only files whose folder lies on the root's device, so a network file
 * system mounted inside a mirrored folder always goes through the pool.
 */
import { statfs } from 'node:fs/promises';
import { readFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { writePiece } from '../util/write-pieces.js';

/** statfs f_type of file systems on local block devices or memory (linux/magic.h). */
const LOCAL_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0xf2f52010, 'f2fs'],
  [0x2fc12fc1, 'zfs'],
  [0xca451a4e, 'bcachefs'],
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
  [0x794c7630, 'overlayfs'],
]);

/** Whether writes to a file system of this statfs type may block the event loop (see the module comment). */
export function isLocalFileSystem(type: number | bigint): boolean {
  return LOCAL_FILE_SYSTEMS.has(Number(type));
}

/** The machine's dirty page cache, in pages. */
export interface DirtyPages {
  /** Dirty and under writeback. */
  readonly dirty: number;
  /** Where the kernel starts writing back in the background. */
  readonly backgroundThreshold: number;
}

/** Parses /proc/vmstat; undefined when a counter is missing (then nothing goes inline). */
export function parseDirtyPages(vmstat: string): DirtyPages | undefined {
  const counter = (name: string): number | undefined => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(vmstat);
    return m === null ? undefined : Number(m[1]);
  };
  const dirty = counter('nr_dirty');
  const writeback = counter('nr_writeback');
  const backgroundThreshold = counter('nr_dirty_background_threshold');
  if (dirty === undefined || writeback === undefined || backgroundThreshold === undefined) return undefined;
  return { dirty: dirty + writeback, backgroundThreshold };
}

function readDirtyPages(): DirtyPages | undefined {
  try {
    return parseDirtyPages(readFileSync('/proc/vmstat', 'latin1'));
  } catch {
    return undefined;
  }
}

export interface InlineWriteOptions {
  /** Whether inline writes are allowed at all (the file system's kind; see forFolder). */
  readonly allowed: boolean;
  /** A piece that took longer than this (ms) sends the next writes to the pool. */
  readonly slowMs?: number;
  /** For how long (ms). */
  readonly backoffMs?: number;
  /** Milliseconds from a monotonic clock. */
  readonly now?: () => number;
  /** The machine's dirty pages (default: /proc/vmstat). */
  readonly dirtyPages?: () => DirtyPages | undefined;
}

export interface InlineWriteStats {
  /** Pieces written on the receiving thread. */
  inlinePieces: number;
  /** Pieces among them that took longer than slowMs, each starting a backoff. */
  slowPieces: number;
  /** Readings of the dirty pages that found them at or above the background threshold. */
  readingsAboveThreshold: number;
}

/** Pieces this slow mean the kernel is making writers wait: 1 GiB in 256 KiB pieces takes 0.05-0.25 ms each here. */
const DEFAULT_SLOW_MS = 20;
const DEFAULT_BACKOFF_MS = 1000;
/** The dirty pages are read again after this long or this many bytes written inline. */
const DIRTY_READ_EVERY_MS = 100;
const DIRTY_READ_EVERY_BYTES = 16 * 1024 * 1024;

export class InlineWrites {
  readonly stats: InlineWriteStats = { inlinePieces: 0, slowPieces: 0, readingsAboveThreshold: 0 };
  private readonly slowMs: number;
  private readonly backoffMs: number;
  private readonly now: () => number;
  private readonly dirtyPages: () => DirtyPages | undefined;
  private pausedUntil = Number.NEGATIVE_INFINITY;
  private dirtyReadAt = Number.NEGATIVE_INFINITY;
  private bytesSinceDirtyRead = 0;
  private fewDirtyPages = false;

  constructor(private readonly options: InlineWriteOptions) {
    this.slowMs = options.slowMs ?? DEFAULT_SLOW_MS;
    this.backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.now = options.now ?? (() => performance.now());
    this.dirtyPages = options.dirtyPages ?? readDirtyPages;
  }

  /**
   * Inline writes for `folder`, allowed when it lies on a local file system (and not on Windows, untested there).
   * A folder whose file system cannot be read is not allowed: the writes then go through the pool, as before.
   */
  static async forFolder(folder: string, options: Omit<InlineWriteOptions, 'allowed'> = {}): Promise<InlineWrites> {
    const type = process.platform === 'linux' ? await statfs(folder).then((s) => s.type, () => undefined) : undefined;
    return new InlineWrites({ ...options, allowed: type !== undefined && isLocalFileSystem(type) });
  }

  get allowed(): boolean {
    return this.options.allowed;
  }

  /** Whether the next write should go inline now. */
  get active(): boolean {
    if (!this.options.allowed) return false;
    const now = this.now();
    if (now < this.pausedUntil) return false;
    if (now - this.dirtyReadAt >= DIRTY_READ_EVERY_MS || this.bytesSinceDirtyRead >= DIRTY_READ_EVERY_BYTES) {
      const pages = this.dirtyPages();
      this.fewDirtyPages = pages !== undefined && pages.dirty < pages.backgroundThreshold;
      if (pages !== undefined && !this.fewDirtyPages) this.stats.readingsAboveThreshold++;
      this.dirtyReadAt = now;
      this.bytesSinceDirtyRead = 0;
    }
    return this.fewDirtyPages;
  }

  /**
   * Writes `data` at `position` of `fd` inline, piece by piece, while that stays fast; returns how many bytes it
   * wrote (all of them, or fewer when a piece was slow: the caller writes the rest through the pool).
   */
  write(fd: number, data: Uint8Array, position: number): number {
    let written = 0;
    while (written < data.length && this.active) {
      const started = this.now();
      const bytes = writeSync(fd, data, written, writePiece(data.length - written), position + written);
      written += bytes;
      this.bytesSinceDirtyRead += bytes;
      this.stats.inlinePieces++;
      const finished = this.now();
      if (finished - started > this.slowMs) {
        this.stats.slowPieces++;
        this.pausedUntil = finished + this.backoffMs;
      }
    }
    return written;
  }
}
