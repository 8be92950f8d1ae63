/**
 * Appends to a file that keeps growing (a log, a capture): the kernel says the file changed, not where, and
 * hashing it whole at every change costs more the longer it grows. When it only grew, the bytes from its old
 * last block on are all that need reading: that block is hashed again and, when it still matches, the old bytes
 * before it are taken as unchanged and the new ones are sent. The change detector has the older bytes re-hashed
 * off its queue later (changes.ts, `suspectAppends`), so a rewrite that came with the growth still travels.
 */
import { constants, type Stats } from 'node:fs';
import type { BufferPool } from '../util/buffer-pool.js';
import { blockHash, type BlockHashName } from './block-hash.js';
import { BLOCK_HASH_BYTES, blockAt, blockCount, closeFd, fstatFd, openFd, readFd, type FileIndex } from './block-index.js';

// Never follow a symlink, never block opening a FIFO (as block-index.ts reads files).
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

export interface AppendedRead {
  /** The file's index: `previous`'s blocks before tailStart, then the blocks of `tail`. */
  readonly index: FileIndex;
  /** The bytes from tailStart to the end (the new bytes start at the previous size), lent by the reader's pool:
   * the caller gives them back. */
  readonly tail: Buffer;
  readonly tailStart: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** Open descriptors of the files being appended to, at most this many (least recently used closed first). */
const MAX_OPEN = 32;

/**
 * Reads what was appended to files, keeping each growing file open between its appends: a log written every few
 * milliseconds then costs a stat and a read per change, not an open and a close besides (each a trip through
 * libuv's thread pool, which on a busy machine is most of the lag).
 */
export class AppendReader {
  /** Open files by path, least recently used first (a Map keeps insertion order). */
  private readonly open = new Map<string, number>();
  /** Closing files that left the cache, so close() can wait for them. */
  private closing: Promise<unknown> = Promise.resolve();

  /** `pool`: what tails are read into (see BufferPool.lend). */
  constructor(private readonly pool?: BufferPool) {}

  /**
   * The file at `path` read from `previous`'s last block on, if it is the same file (inode), grew, and that block
   * still holds what `previous` hashed; undefined when it does not look like an append (the caller then hashes
   * the whole file). The stat is taken before the read, so a write landing meanwhile leaves a newer mtime than
   * the index. `hash`: the one `previous` was made with.
   */
  async read(path: string, previous: FileIndex, hash: BlockHashName): Promise<AppendedRead | undefined> {
    let fd = this.take(path);
    let stats = fd === undefined ? undefined : await fstatFd(fd).catch(() => undefined);
    if (fd !== undefined && (stats === undefined || stats.ino !== previous.ino)) {
      // Replaced under the same name since it was opened: this descriptor holds the old file.
      this.release(fd);
      fd = undefined;
    }
    if (fd === undefined) {
      fd = await openFd(path, OPEN_FLAGS);
      try {
        stats = await fstatFd(fd);
      } catch (e) {
        this.release(fd);
        throw e;
      }
    }
    try {
      if (!stats!.isFile() || stats!.ino !== previous.ino || stats!.size <= previous.size) {
        this.release(fd);
        return undefined;
      }
      const read = await readFrom(fd, previous, hash, stats!, this.pool);
      this.keep(path, fd);
      return read;
    } catch (e) {
      this.release(fd);
      throw e;
    }
  }

  /** The path was deleted, renamed or replaced: its descriptor goes. */
  forget(path: string): void {
    const fd = this.take(path);
    if (fd !== undefined) this.release(fd);
  }

  async close(): Promise<void> {
    for (const fd of this.open.values()) this.release(fd);
    this.open.clear();
    await this.closing;
  }

  private take(path: string): number | undefined {
    const fd = this.open.get(path);
    this.open.delete(path);
    return fd;
  }

  private keep(path: string, fd: number): void {
    this.open.set(path, fd);
    for (const [p, old] of this.open) {
      if (this.open.size <= MAX_OPEN) break;
      this.open.delete(p);
      this.release(old);
    }
  }

  private release(fd: number): void {
    this.closing = Promise.all([this.closing, closeFd(fd).catch(() => undefined)]);
  }
}

async function readFrom(fd: number, previous: FileIndex, hash: BlockHashName, stats: Stats, pool: BufferPool | undefined): Promise<AppendedRead | undefined> {
  const bs = previous.blockSize;
  const tailStart = previous.size - (previous.size % bs);
  const length = stats.size - tailStart;
  const tail = pool?.lend(length) ?? Buffer.allocUnsafe(length);
  let filled = 0;
  try {
    while (filled < tail.length) {
      const n = await readFd(fd, tail, filled, tail.length - filled, tailStart + filled);
      if (n === 0) break;
      filled += n;
    }
  } catch (e) {
    pool?.give(tail);
    throw e;
  }
  const oldTail = previous.size - tailStart;
  // It shrank meanwhile, or the old last block changed: not an append after all.
  if (tailStart + filled <= previous.size || (oldTail > 0 && !blockHash(tail.subarray(0, oldTail), hash).equals(blockAt(previous, blockCount(previous) - 1)))) {
    pool?.give(tail);
    return undefined;
  }
  // The old blocks before the tail, then the tail's, in one buffer.
  const kept = tailStart / bs;
  const hashes = Buffer.allocUnsafe((kept + Math.ceil(filled / bs)) * BLOCK_HASH_BYTES);
  previous.hashes.copy(hashes, 0, 0, kept * BLOCK_HASH_BYTES);
  for (let at = 0, i = kept; at < filled; at += bs, i++) blockHash(tail.subarray(at, Math.min(at + bs, filled)), hash).copy(hashes, i * BLOCK_HASH_BYTES);
  return {
    index: { size: tailStart + filled, blockSize: bs, hashes, mtimeMs: stats.mtimeMs, ino: stats.ino },
    tail: tail.subarray(0, filled), tailStart, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid,
  };
}
