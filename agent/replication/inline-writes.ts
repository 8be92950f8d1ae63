/**
 * Where the target writes a record's bytes: on the thread that received and decrypted them (a synchronous
 * write), or through libuv's thread pool. Written on the receiving thread, 1 GiB of large files went into the
 * page cache for a fraction of the CPU (the kernel copies from a buffer that is still in this core's cache, and
 * no promise or pool trip is paid per piece): the full mirror of bench:mirror's large files took 3.5-4.1 s
 * instead of 4.8 (docs/replication.md, "Eighth round").
 *
 * The price is that a write blocks the agent's event loop for as long as the kernel makes it wait, and the same
 * loop answers heartbeats. Two rules keep that short:
 * - only on a local file system (by its statfs magic): a network file system may hold a write for seconds;
 * - a piece that took longer than `slowMs` (the kernel throttling writers when dirty pages pile up, which
 *   sleeps up to 200 ms a call, or a slow disk) sends the writes of the next `backoffMs` to the pool, where a
 *   wait costs the loop nothing. By then the page cache no longer takes bytes at memory speed, so the pool
 *   loses nothing.
 */
import { statfs } from 'node:fs/promises';
import { writeSync } from 'node:fs';
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

export interface InlineWriteOptions {
  /** Whether inline writes are allowed at all (the file system's kind; see forFolder). */
  readonly allowed: boolean;
  /** A piece that took longer than this (ms) sends the next writes to the pool. */
  readonly slowMs?: number;
  /** For how long (ms). */
  readonly backoffMs?: number;
  /** Milliseconds from a monotonic clock. */
  readonly now?: () => number;
}

export interface InlineWriteStats {
  /** Pieces written on the receiving thread. */
  inlinePieces: number;
  /** Pieces among them that took longer than slowMs, each starting a backoff. */
  slowPieces: number;
}

/** Pieces this slow mean the kernel is making writers wait: 1 GiB in 256 KiB pieces takes 0.05-0.25 ms each here. */
const DEFAULT_SLOW_MS = 20;
const DEFAULT_BACKOFF_MS = 1000;

export class InlineWrites {
  readonly stats: InlineWriteStats = { inlinePieces: 0, slowPieces: 0 };
  private readonly slowMs: number;
  private readonly backoffMs: number;
  private readonly now: () => number;
  private pausedUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: InlineWriteOptions) {
    this.slowMs = options.slowMs ?? DEFAULT_SLOW_MS;
    this.backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** Inline writes for `folder`, allowed when it lies on a local file system (and not on Windows, untested there). */
  static async forFolder(folder: string, options: Omit<InlineWriteOptions, 'allowed'> = {}): Promise<InlineWrites> {
    const allowed = process.platform === 'linux' && isLocalFileSystem((await statfs(folder)).type);
    return new InlineWrites({ ...options, allowed });
  }

  get allowed(): boolean {
    return this.options.allowed;
  }

  /** Whether the next write should go inline now. */
  get active(): boolean {
    return this.options.allowed && this.now() >= this.pausedUntil;
  }

  /**
   * Writes `data` at `position` of `fd` inline, piece by piece, while that stays fast; returns how many bytes it
   * wrote (all of them, or fewer when a piece was slow: the caller writes the rest through the pool).
   */
  write(fd: number, data: Uint8Array, position: number): number {
    let written = 0;
    while (written < data.length && this.active) {
      const started = this.now();
      written += writeSync(fd, data, written, writePiece(data.length - written), position + written);
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
