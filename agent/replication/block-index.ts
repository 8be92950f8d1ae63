/**
 * Block-hash indexes: what lets a mirror send only the bytes that changed. A file is cut into fixed, aligned
 * blocks (64 KiB by default), each with a 16-byte hash (block-hash.ts: XXH3-128 by default, or SHA-256 cut to 16
 * bytes). Comparing a file's index with the previous one, or with the target's in a differential mirror, gives the
 * ranges to send; both must be made with the same block size and the same hash.
 */
import { createHash } from 'node:crypto';
import { close as fsClose, constants, fstat as fsFstat, open as fsOpen, read as fsRead, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BufferPool } from '../util/buffer-pool.js';
import { TimeSlicer } from '../util/time-slice.js';
import { BLOCK_HASH_BYTES, DEFAULT_BLOCK_HASH, blockHash, blockHashCode, blockHashOfCode, type BlockHashName } from './block-hash.js';
import { checkRelativePath, TreeError } from './tree.js';

export const DEFAULT_BLOCK_SIZE = 64 * 1024;
export { BLOCK_HASH_BYTES };
/** Version 1 of the store kept a whole-file SHA-256 per file (never used: verify hashes files itself). */
const V1_FILE_HASH_BYTES = 32;

export interface FileIndex {
  readonly size: number;
  readonly blockSize: number;
  /**
   * The blocks' hashes, BLOCK_HASH_BYTES each, one after the other (the last block may be shorter than
   * blockSize; none for an empty file). One buffer, not one per block: a file of 100 GiB has 1.6 million blocks,
   * and a buffer each cost 0.8 s and 173 MB on the main thread at every change of it. Never written once the
   * index is made: indexes and the block index store share it.
   */
  readonly hashes: Buffer;
  readonly mtimeMs: number;
  readonly ino: number;
  /**
   * Set only when the index was made against a previous one whose last block was partial (see indexFile): the
   * hash of this file's bytes over that partial block, so changedRanges can tell a pure append from a rewrite.
   */
  readonly priorTail?: { readonly size: number; readonly hash: Buffer };
}

/**
 * A file's mtime comes from a coarse clock (a tick of up to 10 ms): a write landing just after we read the file
 * may leave the very mtime we indexed, and size and mtime would then say "unchanged" at its event. An index made
 * within this long of the file's mtime is kept as racy (git's "racily clean"): it matches no mtime, so the next
 * look reads the file again.
 */
export const RACY_MS = 20;
/** The mtime a racy or distrusted index is kept with: no file has it, so size, mtime and inode never match. */
export const NO_MTIME = -1;

/** Whether an index made now of a file with this mtime is racy (see RACY_MS). */
export function isRacy(mtimeMs: number): boolean {
  return Date.now() - mtimeMs < RACY_MS;
}

/** The mtime an index of a file with this mtime is kept with, made now: NO_MTIME when racy. */
export function keptMtime(mtimeMs: number): number {
  return isRacy(mtimeMs) ? NO_MTIME : mtimeMs;
}

export interface ByteRange { readonly offset: number; readonly length: number }

/** How many blocks an index holds hashes for. */
export function blockCount(index: Pick<FileIndex, 'hashes'>): number {
  return index.hashes.length / BLOCK_HASH_BYTES;
}

/** Block i's hash (a view into the index's hashes). */
export function blockAt(index: Pick<FileIndex, 'hashes'>, i: number): Buffer {
  return index.hashes.subarray(i * BLOCK_HASH_BYTES, (i + 1) * BLOCK_HASH_BYTES);
}

/** Whether `count` blocks from block i hash alike in both indexes, in one comparison and without a view of either. */
function sameBlocks(a: Pick<FileIndex, 'hashes'>, b: Pick<FileIndex, 'hashes'>, i: number, count = 1): boolean {
  const at = i * BLOCK_HASH_BYTES;
  const end = at + count * BLOCK_HASH_BYTES;
  return a.hashes.compare(b.hashes, at, end, at, end) === 0;
}

/** Blocks compared at once by changedRanges before it looks at them one by one. */
const SKIP_BLOCKS = 256;

export type BlockIndexErrorCode = 'VIGIL_BAD_BLOCK_SIZE' | 'VIGIL_NOT_A_FILE' | 'VIGIL_BAD_INDEX';

export class BlockIndexError extends Error {
  constructor(readonly code: BlockIndexErrorCode, message: string) {
    super(message);
    this.name = 'BlockIndexError';
  }
}

/** Reads are batched into chunks of whole blocks of about this size, to keep system calls few. */
const READ_CHUNK = 1024 * 1024;
// Never follow a symlink (the tree records it as a link) and never block opening a FIFO.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** `path` opened for reading (never through a symlink, never blocking on a FIFO) and its stat; only a regular file. */
async function openRegularFile(path: string): Promise<{ readonly handle: FileHandle; readonly stats: Stats }> {
  const handle = await open(path, OPEN_FLAGS);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new BlockIndexError('VIGIL_NOT_A_FILE', `${path}: not a regular file`);
    return { handle, stats };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Hashes a file's bytes as they arrive, in order from offset 0, in chunks of any size: the block hashes and,
 * given `previous` whose last block was partial, `priorTail` (see FileIndex).
 */
export class FileHasher {
  /** The hashes so far, in a buffer that doubles when full; `blocks` of them are written. */
  private hashes = Buffer.allocUnsafe(64 * BLOCK_HASH_BYTES);
  private blocks = 0;
  private readonly tailProbe: { readonly start: number; readonly size: number } | undefined;
  private priorTail: FileIndex['priorTail'];
  /** Bytes of a block not yet complete (copied: callers reuse their buffers). */
  private partial: Buffer | undefined;
  private size = 0;

  constructor(private readonly blockSize: number, previous: Pick<FileIndex, 'size' | 'blockSize'> | undefined, private readonly hash: BlockHashName) {
    this.tailProbe = previous !== undefined && previous.blockSize === blockSize && previous.size % blockSize !== 0
      ? { start: previous.size - (previous.size % blockSize), size: previous.size }
      : undefined;
  }

  update(bytes: Buffer): void {
    this.size += bytes.length;
    let at = 0;
    if (this.partial !== undefined) {
      at = Math.min(bytes.length, this.blockSize - this.partial.length);
      this.partial = Buffer.concat([this.partial, bytes.subarray(0, at)]);
      if (this.partial.length < this.blockSize) return;
      this.block(this.partial);
      this.partial = undefined;
    }
    for (; bytes.length - at >= this.blockSize; at += this.blockSize) this.block(bytes.subarray(at, at + this.blockSize));
    if (at < bytes.length) this.partial = Buffer.from(bytes.subarray(at));
  }

  private block(block: Buffer): void {
    const start = this.blocks * this.blockSize;
    const probe = this.tailProbe;
    if (probe !== undefined && start === probe.start && start + block.length > probe.size) {
      this.priorTail = { size: probe.size, hash: blockHash(block.subarray(0, probe.size - start), this.hash) };
    }
    if ((this.blocks + 1) * BLOCK_HASH_BYTES > this.hashes.length) {
      const bigger = Buffer.allocUnsafe(this.hashes.length * 2);
      this.hashes.copy(bigger, 0, 0, this.blocks * BLOCK_HASH_BYTES);
      this.hashes = bigger;
    }
    blockHash(block, this.hash).copy(this.hashes, this.blocks * BLOCK_HASH_BYTES);
    this.blocks++;
  }

  /** `stats`: taken before the first read, so a write that lands meanwhile leaves a newer mtime than the index. */
  finish(stats: Pick<Stats, 'mtimeMs' | 'ino'>): FileIndex {
    if (this.partial !== undefined) this.block(this.partial);
    this.partial = undefined;
    // Exactly as long as the hashes: the doubled buffer's spare room is not kept with the index.
    const hashes = Buffer.from(this.hashes.subarray(0, this.blocks * BLOCK_HASH_BYTES));
    const index = { size: this.size, blockSize: this.blockSize, hashes, mtimeMs: stats.mtimeMs, ino: stats.ino };
    return this.priorTail === undefined ? index : { ...index, priorTail: this.priorTail };
  }
}

/**
 * Hashes `path` block by block in one streaming pass (memory stays at one read chunk, whatever the file's size).
 * Given `previous`, whose last block was partial, it also records `priorTail` (see FileIndex).
 */
export async function indexFile(path: string, blockSize = DEFAULT_BLOCK_SIZE, previous?: FileIndex, hash: BlockHashName = DEFAULT_BLOCK_HASH): Promise<FileIndex> {
  checkBlockSize(blockSize);
  const { handle, stats } = await openRegularFile(path);
  try {
    const hasher = new FileHasher(blockSize, previous, hash);
    await forEachChunk(handle, Math.max(blockSize, READ_CHUNK), stats.size, (bytes) => hasher.update(bytes));
    return hasher.finish(stats);
  } finally {
    await handle.close();
  }
}

/** The index of a file's whole content already in memory; `stats` taken before it was read. */
export function indexBytes(content: Buffer, blockSize: number, previous: Pick<FileIndex, 'size' | 'blockSize'> | undefined, stats: Pick<Stats, 'mtimeMs' | 'ino'>, hash: BlockHashName): FileIndex {
  checkBlockSize(blockSize);
  const hasher = new FileHasher(blockSize, previous, hash);
  hasher.update(content);
  return hasher.finish(stats);
}

/**
 * A file of at most `maxBytes` read whole and indexed from memory: one open and one read where indexFile and a
 * second read of the changed ranges would take two. Undefined when the file is larger (it may have grown since
 * the caller looked): then index it with indexFile. With a `pool`, the file is read into what it lends: the
 * caller gives `content` back.
 */
export async function readAndIndexFile(path: string, blockSize: number, hash: BlockHashName, previous: FileIndex | undefined, maxBytes: number, pool?: BufferPool): Promise<{ readonly index: FileIndex; readonly content: Buffer } | undefined> {
  checkBlockSize(blockSize);
  // Plain descriptors, not FileHandle objects: this runs once per small file, thousands of times in a resync,
  // and a FileHandle costs more to make and collect than the read itself.
  const fd = await openFd(path, OPEN_FLAGS);
  try {
    const stats = await fstatFd(fd);
    if (!stats.isFile()) throw new BlockIndexError('VIGIL_NOT_A_FILE', `${path}: not a regular file`);
    if (stats.size > maxBytes) return undefined;
    const content = pool?.lend(stats.size) ?? Buffer.allocUnsafe(stats.size);
    let filled = 0;
    try {
      while (filled < content.length) {
        const bytesRead = await readFd(fd, content, filled, content.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    } catch (e) {
      pool?.give(content);
      throw e;
    }
    const hasher = new FileHasher(blockSize, previous, hash);
    hasher.update(content.subarray(0, filled));
    return { index: hasher.finish(stats), content: content.subarray(0, filled) };
  } finally {
    await closeFd(fd);
  }
}

export function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fsOpen(path, flags, (e, fd) => (e ? reject(e) : resolve(fd))));
}

export function fstatFd(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fsFstat(fd, (e, st) => (e ? reject(e) : resolve(st))));
}

export function readFd(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fsRead(fd, buffer, offset, length, position, (e, n) => (e ? reject(e) : resolve(n))));
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsClose(fd, (e) => (e ? reject(e) : resolve())));
}

/**
 * A file read once, `chunkSize` at a time, each chunk yielded (a buffer of its own: the caller may keep it, or
 * give it back to `pool` once done with it) while the file is indexed; the index is the generator's return value.
 * For a file the target does not have at all, this is one pass where indexFile and a read of every range would be two.
 */
export async function* readIndexing(path: string, blockSize: number, hash: BlockHashName, chunkSize: number, pool?: BufferPool): AsyncGenerator<{ readonly offset: number; readonly data: Buffer }, FileIndex> {
  checkBlockSize(blockSize);
  const { handle, stats } = await openRegularFile(path);
  // The next chunk is read while the consumer handles this one (journal, hashing): reads overlap the rest.
  const readAt = (offset: number): Promise<{ offset: number; data: Buffer }> => {
    const data = pool !== undefined && pool.bufferBytes === chunkSize ? pool.take() : Buffer.allocUnsafe(chunkSize);
    return readFully(handle, data, offset).then((filled) => ({ offset, data: data.subarray(0, filled) }));
  };
  let next: Promise<{ offset: number; data: Buffer }> | undefined = readAt(0);
  try {
    const hasher = new FileHasher(blockSize, undefined, hash);
    while (next !== undefined) {
      const chunk: { offset: number; data: Buffer } = await next;
      next = chunk.data.length === chunkSize ? readAt(chunk.offset + chunkSize) : undefined;
      if (chunk.data.length === 0) break;
      hasher.update(chunk.data);
      yield chunk;
    }
    return hasher.finish(stats);
  } finally {
    // Never close the file under a read still in flight (the consumer may stop early).
    if (next !== undefined) await next.catch(() => undefined);
    await handle.close();
  }
}

/** Whether two indexes describe the same bytes of the same file (both undefined counts). */
export function sameIndex(a: FileIndex | undefined, b: FileIndex | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && a.blockSize === b.blockSize && a.mtimeMs === b.mtimeMs && a.ino === b.ino
    && a.hashes.equals(b.hashes);
}

/**
 * `previous` unchanged when size, mtime and inode still match (as rsync trusts size and mtime); otherwise the file
 * hashed again, with `previous`'s block size.
 */
export async function indexFileIfChanged(path: string, previous: FileIndex | undefined, blockSize = DEFAULT_BLOCK_SIZE): Promise<FileIndex> {
  if (previous !== undefined) {
    const s: Stats = await lstat(path);
    if (s.isFile() && s.size === previous.size && s.mtimeMs === previous.mtimeMs && s.ino === previous.ino) return previous;
  }
  return indexFile(path, previous?.blockSize ?? blockSize, previous);
}

/** The whole file's SHA-256, streamed. */
export async function hashFile(path: string): Promise<Buffer> {
  const { handle, stats } = await openRegularFile(path);
  try {
    const hash = createHash('sha256');
    await forEachChunk(handle, READ_CHUNK, stats.size, (bytes) => hash.update(bytes));
    return hash.digest();
  } finally {
    await handle.close();
  }
}

/**
 * Calls `consume` on the file's bytes, at most `chunkSize` at a time, and returns the bytes read. The next chunk
 * is read while this one is hashed: reading and hashing overlap instead of taking turns. The first buffer is
 * sized for `sizeHint` (the file's size when opened), the second only allocated if the file is longer: a 2 KiB
 * file must not cost two 1 MiB allocations, which for thousands of small files kept V8's collector busy.
 */
async function forEachChunk(handle: FileHandle, chunkSize: number, sizeHint: number, consume: (bytes: Buffer) => void): Promise<number> {
  // One byte more than the hint, so that a file read whole is known to be whole without a second read.
  let current: Buffer = Buffer.allocUnsafe(Math.min(chunkSize, sizeHint + 1));
  let spare: Buffer | undefined;
  let position = 0;
  let filled = await readFully(handle, current, 0);
  while (filled > 0) {
    const full = filled === current.length;
    if (full) spare ??= Buffer.allocUnsafe(chunkSize);
    const next = full && spare !== undefined ? readFully(handle, spare, position + filled) : Promise.resolve(0);
    try {
      consume(current.subarray(0, filled));
    } finally {
      // Never leave a read in flight on a handle about to be closed.
      if (full) await next.catch(() => 0);
    }
    position += filled;
    filled = await next;
    if (full && spare !== undefined) {
      [current, spare] = [spare, current];
      if (spare.length < chunkSize) spare = undefined; // the small first buffer is not reused
    }
  }
  return position;
}

/** Fills `buffer` from `position` unless the file ends first; returns the bytes read. */
async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

export function checkBlockSize(blockSize: number): void {
  if (!Number.isSafeInteger(blockSize) || blockSize < 512 || blockSize > 64 * 1024 * 1024) {
    throw new BlockIndexError('VIGIL_BAD_BLOCK_SIZE', `block size ${blockSize}: must be a whole number of bytes from 512 to 64 MiB`);
  }
}

/** Throws VIGIL_BAD_INDEX, naming `where` and the field, unless the index is whole (it may come from a peer). */
export function checkFileIndex(index: FileIndex, where: string): void {
  const bad = (why: string): never => { throw new BlockIndexError('VIGIL_BAD_INDEX', `${where}: ${why}`); };
  if (!Number.isSafeInteger(index.size) || index.size < 0) bad(`size ${index.size} is not a byte count`);
  try {
    checkBlockSize(index.blockSize);
  } catch {
    bad(`blockSize ${index.blockSize} is not a valid block size`);
  }
  const expected = Math.ceil(index.size / index.blockSize);
  if (!Buffer.isBuffer(index.hashes)) bad('hashes is not a buffer');
  if (index.hashes.length !== expected * BLOCK_HASH_BYTES) {
    bad(`hashes holds ${index.hashes.length} bytes, ${expected * BLOCK_HASH_BYTES} expected for ${index.size} bytes in blocks of ${index.blockSize}`);
  }
}

/**
 * What to send to turn a copy matching `previous` into `current`: the changed blocks, merged into ranges; bytes
 * past the old end (only those, when the old last block is known unchanged: see FileIndex.priorTail); and
 * `truncateTo` when the file shrank. With no previous index, or one with another block size, all of it.
 */
export function changedRanges(previous: FileIndex | undefined, current: FileIndex): { readonly ranges: readonly ByteRange[]; readonly truncateTo?: number } {
  if (previous !== undefined) checkFileIndex(previous, 'previous index');
  checkFileIndex(current, 'current index');
  const shrank = previous !== undefined && current.size < previous.size ? { truncateTo: current.size } : {};
  if (previous === undefined || previous.blockSize !== current.blockSize) {
    return { ranges: current.size > 0 ? [{ offset: 0, length: current.size }] : [], ...shrank };
  }
  const bs = current.blockSize;
  const ranges: ByteRange[] = [];
  const add = (offset: number, end: number): void => {
    if (end <= offset) return;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last.offset + last.length === offset) ranges[ranges.length - 1] = { offset: last.offset, length: end - last.offset };
    else ranges.push({ offset, length: end - offset });
  };
  const common = Math.min(previous.size, current.size);
  const wholeInBoth = Math.floor(common / bs);
  for (let start = 0, i = 0; start < common; start += bs, i++) {
    // A run of whole blocks that hash alike is passed in one comparison: a file of 100 GiB has 1.6 million
    // blocks, and one comparison each held the main thread for a third of a second.
    while (i % SKIP_BLOCKS === 0 && i + SKIP_BLOCKS <= wholeInBoth && sameBlocks(previous, current, i, SKIP_BLOCKS)) {
      i += SKIP_BLOCKS;
      start += SKIP_BLOCKS * bs;
    }
    if (start >= common) break;
    const oldEnd = Math.min(start + bs, previous.size);
    const newEnd = Math.min(start + bs, current.size);
    if (oldEnd === newEnd) {
      if (!sameBlocks(previous, current, i)) add(start, newEnd);
    } else if (oldEnd < newEnd) {
      // The old partial last block grew: its old bytes are unchanged only if the probe says so.
      const tail = current.priorTail;
      const kept = tail !== undefined && tail.size === previous.size && tail.hash.equals(blockAt(previous, i));
      if (!kept) add(start, oldEnd);
    } else {
      // The file now ends inside this block: nothing tells whether its remaining bytes changed.
      add(start, newEnd);
    }
  }
  add(common, current.size);
  return { ranges, ...shrank };
}

/*
 * The store's file, all numbers little-endian:
 *   header  "VGBI", version u8 (4), block-hash bytes u8 (16), block hash u8 (0 SHA-256, 1 XXH3: block-hash.ts;
 *           always 0 before XXH3), 1 byte zero, entry count u32
 *   entry   path length u32, path (UTF-8), size f64, blockSize u32, mtimeMs f64, ino f64,
 *           the metadata last sent: flags u8 (1 sent, 2 with uid, 4 with gid, 8 with extended attributes),
 *           mode u32, mtimeMs f64, uid u32, gid u32 (zero when not sent), the digest of the extended attributes
 *           sent (16 bytes, xattrs.ts: with flag 8, all zeros for a set sent empty; zero without it),
 *           block hashes (16 each; their count follows from size and blockSize)
 *   trailer SHA-256 of everything before it
 * About 71 bytes plus the path per file, plus 16 per block: 100k files of two blocks take 12 MB. Versions 1 (a
 * whole-file hash before the block hashes), 2 (no metadata sent) and 3 (no extended attributes) are still read.
 */
const MAGIC = Buffer.from('VGBI');
const FORMAT_VERSION = 4;
const HEADER_BYTES = 12;
const ENTRY_FIXED_BYTES = 4 + 8 + 4 + 8 + 8;
const V3_SENT_META_BYTES = 1 + 4 + 8 + 4 + 4;
const XATTRS_DIGEST_BYTES = 16;
const SENT_META_BYTES = V3_SENT_META_BYTES + XATTRS_DIGEST_BYTES;
const SENT = 1;
const WITH_UID = 2;
const WITH_GID = 4;
const WITH_XATTRS = 8;
const TRAILER_BYTES = 32;
const WRITE_CHUNK = 1024 * 1024;

/**
 * The metadata a file was last sent with (a meta or put record): what lets a restarted agent skip sending it again
 * for every file it finds unchanged.
 */
export interface SentMeta {
  readonly mode: number;
  readonly mtimeMs: number;
  readonly uid?: number;
  readonly gid?: number;
}

/** What an entry says of its file besides the block hashes. */
export interface IndexedFile {
  readonly size: number;
  readonly blockSize: number;
  readonly mtimeMs: number;
  readonly ino: number;
  /** The metadata the file was last sent with, if known. */
  readonly sent?: SentMeta | undefined;
}

/** In memory, one Buffer per file: the block hashes. */
interface StoredIndex extends IndexedFile {
  readonly hashes: Buffer;
  /**
   * The digest of the extended attributes the file was last sent with (xattrs.ts), undefined when none were:
   * apart from `sent`, which writes to the file forget (they move its mtime there, not its attributes).
   */
  readonly xattrs: string | undefined;
}

/**
 * The last index of every file of one mirror, by path: what lets a restarted agent find what changed while it
 * was down without hashing everything twice. Saved whole and atomically (temporary file, fsync, rename).
 */
export class BlockIndexStore {
  private entries = new Map<string, StoredIndex>();
  /** Inode -> path, or paths for hard links; inode 0 (no inode numbers, e.g. some Windows volumes) is left out. */
  private readonly byInode = new Map<number, string | string[]>();
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();
  private saves = 0;

  private constructor(readonly file: string, private hash: BlockHashName) {}

  /**
   * The store in `file`, empty if there is none yet (its blocks then hashed with `hash`). A damaged file is refused
   * (VIGIL_BAD_INDEX) with its offset.
   */
  static async open(file: string, hash: BlockHashName = DEFAULT_BLOCK_HASH, slicer = new TimeSlicer()): Promise<BlockIndexStore> {
    const store = new BlockIndexStore(file, hash);
    await removeStaleTemps(file);
    const bytes = await readIfThere(file);
    if (bytes !== undefined) await store.load(bytes, slicer);
    return store;
  }

  /**
   * What the store in `file` holds, read for another user than its owner (a node's index as a source, read by its
   * target's listing, and the other way round): its stale temporary files are its owner's to remove, and nothing
   * is saved. Undefined when there is no file.
   */
  static async snapshot(file: string, slicer = new TimeSlicer()): Promise<{ readonly hash: BlockHashName; readonly files: ReadonlyMap<string, FileIndex> } | undefined> {
    const bytes = await readIfThere(file);
    if (bytes === undefined) return undefined;
    const store = new BlockIndexStore(file, DEFAULT_BLOCK_HASH);
    await store.load(bytes, slicer);
    return { hash: store.hash, files: store.entries };
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The hash of every block here: the one the store was saved with, so that a store of an older agent (SHA-256)
   * keeps comparing with what is hashed now. Only an empty store changes it (useBlockHash).
   */
  get blockHash(): BlockHashName {
    return this.hash;
  }

  /** Hash blocks with `hash` from now on: only while the store is empty, since its hashes would no longer compare. */
  useBlockHash(hash: BlockHashName): void {
    if (hash === this.hash) return;
    if (this.entries.size > 0) throw new BlockIndexError('VIGIL_BAD_INDEX', `block index ${this.file}: holds ${this.entries.size} files hashed with ${this.hash}; it must be empty to use ${hash}`);
    this.hash = hash;
    this.dirty = true;
  }

  /** A file's entry, for the many checks of size and mtime. */
  entry(p: string): IndexedFile | undefined {
    return this.entries.get(p);
  }

  get(p: string): FileIndex | undefined {
    const stored = this.entries.get(p);
    if (stored === undefined) return undefined;
    // The store's own buffer, not a copy: nobody writes into an index's hashes.
    return { size: stored.size, blockSize: stored.blockSize, hashes: stored.hashes, mtimeMs: stored.mtimeMs, ino: stored.ino };
  }

  /** A file's index; the metadata it was last sent with stays (a new index says nothing of what was sent). */
  set(p: string, index: FileIndex): void {
    checkRelativePath(p);
    checkFileIndex(index, `index of ${p}`);
    // Kept as given, not copied: an index's hashes are never written once made (FileHasher and the read thread's
    // replies make each its own buffer), and a copy cost 25 MB at every change of a 100 GiB file.
    const known = this.entries.get(p);
    this.put(p, { size: index.size, blockSize: index.blockSize, mtimeMs: index.mtimeMs, ino: index.ino, hashes: index.hashes, sent: known?.sent, xattrs: known?.xattrs });
  }

  /** The metadata file `p` was last sent with, if known. */
  sentMeta(p: string): SentMeta | undefined {
    return this.entries.get(p)?.sent;
  }

  /**
   * Note (or, with undefined, forget) what file `p` was last sent with. False, and nothing kept, for a path not in
   * the store.
   */
  setSentMeta(p: string, sent: SentMeta | undefined): boolean {
    const stored = this.entries.get(p);
    if (stored === undefined) return false;
    if (stored.sent === sent) return true;
    this.resent(p, stored, sent === undefined ? undefined : checkSentMeta(sent, p), stored.xattrs);
    return true;
  }

  /**
   * `stored` kept with what it was sent replaced. Every entry has the same fields (undefined when unknown): one
   * object shape, made without spreading.
   */
  private resent(p: string, stored: StoredIndex, sent: SentMeta | undefined, xattrs: string | undefined): void {
    this.entries.set(p, { size: stored.size, blockSize: stored.blockSize, mtimeMs: stored.mtimeMs, ino: stored.ino, hashes: stored.hashes, sent, xattrs });
    this.dirty = true;
  }

  /** The digest of the extended attributes file `p` was last sent with; undefined when none were (or unknown). */
  sentXattrs(p: string): string | undefined {
    return this.entries.get(p)?.xattrs;
  }

  /** Note the digest file `p` was last sent with (undefined: none). False, and nothing kept, for a path not here. */
  setSentXattrs(p: string, digest: string | undefined): boolean {
    const stored = this.entries.get(p);
    if (stored === undefined) return false;
    if (stored.xattrs === digest) return true;
    if (digest !== undefined && !XATTRS_DIGEST.test(digest)) throw new BlockIndexError('VIGIL_BAD_INDEX', `extended attributes sent for ${p}: digest ${JSON.stringify(digest)} is not ${XATTRS_DIGEST_BYTES} bytes in hex`);
    this.resent(p, stored, stored.sent, digest);
    return true;
  }

  /** Forgets a file, or, when `p` is not a file here, everything below the folder `p`. */
  delete(p: string): void {
    for (const path of this.pathsAt(p)) this.remove(path);
  }

  /**
   * Every file's index dropped at once (a full or differential mirror starts from nothing); returns what the store
   * held (the caller's now), which a differential mirror keeps where the target's listing agrees with it.
   */
  clear(): Map<string, FileIndex> {
    const held = this.entries;
    this.entries = new Map();
    if (held.size === 0) return held;
    this.byInode.clear();
    this.dirty = true;
    return held;
  }

  /**
   * Moves a file's index, or, when `from` is not a file here, everything below the folder `from`; what was at `to`
   * is replaced (as rename(2) does). Returns how many files moved.
   */
  rename(from: string, to: string): number {
    checkRelativePath(from);
    checkRelativePath(to);
    if (from === to) return 0;
    if (to.startsWith(`${from}/`)) throw new TreeError('VIGIL_BAD_PATH', `path ${JSON.stringify(to)}: cannot move ${JSON.stringify(from)} into itself`);
    const moving = this.pathsAt(from).map((path) => [path, this.entries.get(path)!] as const);
    if (moving.length === 0) return 0;
    for (const path of this.pathsAt(to)) this.remove(path);
    for (const [path] of moving) this.remove(path);
    for (const [path, stored] of moving) this.put(to + path.slice(from.length), stored);
    return moving.length;
  }

  paths(): IterableIterator<string> {
    return this.entries.keys();
  }

  /**
   * The paths whose last known inode is `ino`: a new path with the inode of a vanished one is that file renamed,
   * and with that of one still there, another name of its file (a hard link).
   */
  pathsOfInode(ino: number): readonly string[] {
    const found = this.byInode.get(ino);
    return found === undefined ? [] : typeof found === 'string' ? [found] : found;
  }

  /** Writes the store if anything changed since it was opened or last saved. Saves run one at a time. */
  save(slicer = new TimeSlicer()): Promise<void> {
    const next = this.saving.then(() => this.writeIfDirty(slicer));
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async writeIfDirty(slicer: TimeSlicer): Promise<void> {
    if (!this.dirty) return;
    // Taken now, so changes made while the file is written are kept for the next save (an entry changed while
    // the snapshot is encoded, a slice at a time, may go in either way: the change made it dirty again).
    const snapshot = [...this.entries];
    this.dirty = false;
    try {
      await writeAtomically(this.file, `${this.file}.${process.pid}.${++this.saves}.tmp`, await serialise(snapshot, this.hash, slicer));
    } catch (e) {
      this.dirty = true;
      throw e;
    }
  }

  private pathsAt(p: string): string[] {
    if (this.entries.has(p)) return [p];
    const prefix = `${p}/`;
    return [...this.entries.keys()].filter((path) => path.startsWith(prefix));
  }

  private put(p: string, stored: StoredIndex): void {
    if (this.entries.has(p)) this.remove(p);
    this.entries.set(p, stored);
    this.dirty = true;
    if (stored.ino === 0) return;
    const known = this.byInode.get(stored.ino);
    if (known === undefined) this.byInode.set(stored.ino, p);
    else if (typeof known === 'string') this.byInode.set(stored.ino, [known, p]);
    else known.push(p);
  }

  private remove(p: string): void {
    const stored = this.entries.get(p);
    if (stored === undefined) return;
    this.entries.delete(p);
    this.dirty = true;
    const known = this.byInode.get(stored.ino);
    if (known === p) this.byInode.delete(stored.ino);
    else if (Array.isArray(known)) {
      const rest = known.filter((k) => k !== p);
      this.byInode.set(stored.ino, rest.length === 1 ? rest[0]! : rest);
    }
  }

  /** Parses the file's entries, giving way to the event loop between slices (util/time-slice.ts). */
  private async load(bytes: Buffer, slicer: TimeSlicer): Promise<void> {
    const bad = (offset: number, why: string): never => {
      throw new BlockIndexError('VIGIL_BAD_INDEX', `block index ${this.file}: ${why} at byte offset ${offset}`);
    };
    if (bytes.length < HEADER_BYTES + TRAILER_BYTES) bad(0, `only ${bytes.length} bytes, too short for a header`);
    if (!bytes.subarray(0, 4).equals(MAGIC)) bad(0, 'not a block index (wrong magic)');
    const version = bytes[4];
    if (version === undefined || version < 1 || version > FORMAT_VERSION) bad(4, `format version ${version}, this agent reads 1 to ${FORMAT_VERSION}`);
    const skipped = version === 1 ? V1_FILE_HASH_BYTES : 0;
    const metaBytes = version === FORMAT_VERSION ? SENT_META_BYTES : version === 3 ? V3_SENT_META_BYTES : 0;
    if (bytes[5] !== BLOCK_HASH_BYTES) bad(5, `block hashes of ${bytes[5]} bytes, this agent uses ${BLOCK_HASH_BYTES}`);
    const bodyEnd = bytes.length - TRAILER_BYTES;
    const sum = createHash('sha256').update(bytes.subarray(0, bodyEnd)).digest();
    if (!sum.equals(bytes.subarray(bodyEnd))) bad(bodyEnd, 'checksum mismatch (the file is damaged)');
    this.hash = blockHashOfCode(bytes[6]!) ?? bad(6, `block hash ${bytes[6]}, this agent knows ${blockHashCode('sha256-128')} (sha256-128) and ${blockHashCode('xxh3-128')} (xxh3-128)`);
    const count = bytes.readUInt32LE(8);
    let at = HEADER_BYTES;
    for (let n = 0; n < count; n++) {
      const pause = slicer.step();
      if (pause !== undefined) await pause;
      if (at + 4 > bodyEnd) bad(at, `entry ${n} of ${count} is cut short`);
      const pathLength = bytes.readUInt32LE(at);
      if (at + 4 + pathLength + ENTRY_FIXED_BYTES + skipped + metaBytes - 4 > bodyEnd) bad(at, `entry ${n} of ${count} is cut short`);
      const pathStart = at + 4;
      const path = bytes.toString('utf8', pathStart, pathStart + pathLength);
      try {
        checkRelativePath(path);
      } catch (e) {
        bad(pathStart, (e as Error).message);
      }
      at = pathStart + pathLength;
      const size = bytes.readDoubleLE(at);
      const blockSize = bytes.readUInt32LE(at + 8);
      const mtimeMs = bytes.readDoubleLE(at + 12);
      const ino = bytes.readDoubleLE(at + 20);
      if (!Number.isSafeInteger(size) || size < 0) bad(at, `entry ${n} (${path}): size ${size} is not a byte count`);
      if (blockSize < 512) bad(at + 8, `entry ${n} (${path}): block size ${blockSize} is too small`);
      const { sent, xattrs } = metaBytes === 0 ? NOTHING_SENT : readSentMeta(bytes, at + 28, version === FORMAT_VERSION, (offset, why) => bad(offset, `entry ${n} (${path}): ${why}`));
      const hashesLength = Math.ceil(size / blockSize) * BLOCK_HASH_BYTES;
      const hashesStart = at + 28 + skipped + metaBytes;
      if (hashesStart + hashesLength > bodyEnd) bad(hashesStart, `entry ${n} (${path}): block hashes are cut short`);
      // A copy, so the file's buffer is not kept alive by a few surviving entries.
      const hashes = Buffer.from(bytes.subarray(hashesStart, hashesStart + hashesLength));
      this.put(path, { size, blockSize, mtimeMs, ino, hashes, sent, xattrs });
      at = hashesStart + hashesLength;
    }
    if (at !== bodyEnd) bad(at, `${bodyEnd - at} bytes follow the last entry`);
    this.dirty = false;
  }
}

/** The store's bytes as chunks of about WRITE_CHUNK, trailer included; made in slices (util/time-slice.ts). */
async function serialise(entries: readonly (readonly [string, StoredIndex])[], hash: BlockHashName, slicer: TimeSlicer): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const sum = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const emit = (b: Buffer): void => {
    pending.push(b);
    pendingBytes += b.length;
    if (pendingBytes >= WRITE_CHUNK) flushPending();
  };
  const flushPending = (): void => {
    if (pending.length === 0) return;
    const chunk = Buffer.concat(pending);
    sum.update(chunk);
    chunks.push(chunk);
    pending = [];
    pendingBytes = 0;
  };
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[4] = FORMAT_VERSION;
  header[5] = BLOCK_HASH_BYTES;
  header[6] = blockHashCode(hash);
  header.writeUInt32LE(entries.length, 8);
  emit(header);
  for (const [path, stored] of entries) {
    const pause = slicer.step();
    if (pause !== undefined) await pause;
    const name = Buffer.from(path, 'utf8');
    const fixed = Buffer.alloc(4 + name.length + 28 + SENT_META_BYTES);
    fixed.writeUInt32LE(name.length, 0);
    name.copy(fixed, 4);
    const at = 4 + name.length;
    fixed.writeDoubleLE(stored.size, at);
    fixed.writeUInt32LE(stored.blockSize, at + 8);
    fixed.writeDoubleLE(stored.mtimeMs, at + 12);
    fixed.writeDoubleLE(stored.ino, at + 20);
    writeSentMeta(fixed, at + 28, stored.sent, stored.xattrs);
    emit(fixed);
    emit(stored.hashes);
  }
  flushPending();
  chunks.push(sum.digest());
  return chunks;
}

/** Into a zeroed entry: flags, then the fields they say are there. */
function writeSentMeta(into: Buffer, at: number, sent: SentMeta | undefined, xattrs: string | undefined): void {
  const flags = (sent === undefined ? 0 : SENT | (sent.uid === undefined ? 0 : WITH_UID) | (sent.gid === undefined ? 0 : WITH_GID))
    | (xattrs === undefined ? 0 : WITH_XATTRS);
  into.writeUInt8(flags, at);
  if (sent !== undefined) {
    into.writeUInt32LE(sent.mode, at + 1);
    into.writeDoubleLE(sent.mtimeMs, at + 5);
    into.writeUInt32LE(sent.uid ?? 0, at + 13);
    into.writeUInt32LE(sent.gid ?? 0, at + 17);
  }
  if (xattrs !== undefined) into.write(xattrs, at + V3_SENT_META_BYTES, XATTRS_DIGEST_BYTES, 'hex');
}

const NOTHING_SENT = { sent: undefined, xattrs: undefined } as const;
const XATTRS_DIGEST = new RegExp(`^[0-9a-f]{${XATTRS_DIGEST_BYTES * 2}}$`);

/** An entry's metadata sent; `withXattrs`: the format with their digest (4), whose flag 8 says it is there. */
function readSentMeta(bytes: Buffer, at: number, withXattrs: boolean, bad: (offset: number, why: string) => never): { sent: SentMeta | undefined; xattrs: string | undefined } {
  const flags = bytes.readUInt8(at);
  const known = SENT | WITH_UID | WITH_GID | (withXattrs ? WITH_XATTRS : 0);
  if ((flags & ~known) !== 0 || ((flags & (WITH_UID | WITH_GID)) !== 0 && (flags & SENT) === 0)) {
    bad(at, `metadata flags 0x${flags.toString(16)} are not 0 or 1 plus 2 and 4${withXattrs ? ', and 8' : ''}`);
  }
  const xattrs = (flags & WITH_XATTRS) === 0 ? undefined : bytes.toString('hex', at + V3_SENT_META_BYTES, at + V3_SENT_META_BYTES + XATTRS_DIGEST_BYTES);
  if ((flags & SENT) === 0) return { sent: undefined, xattrs };
  const mtimeMs = bytes.readDoubleLE(at + 5);
  if (!Number.isFinite(mtimeMs)) bad(at + 5, `the mtime sent, ${mtimeMs}, is not a time`);
  const sent = {
    mode: bytes.readUInt32LE(at + 1), mtimeMs,
    ...((flags & WITH_UID) !== 0 ? { uid: bytes.readUInt32LE(at + 13) } : {}),
    ...((flags & WITH_GID) !== 0 ? { gid: bytes.readUInt32LE(at + 17) } : {}),
  };
  return { sent, xattrs };
}

/** `sent` as given, or a BlockIndexError naming its field that cannot be stored. */
function checkSentMeta(sent: SentMeta, p: string): SentMeta {
  const u32 = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new BlockIndexError('VIGIL_BAD_INDEX', `metadata sent for ${p}: ${name} ${v} is not a 32-bit whole number`);
  };
  u32('mode', sent.mode);
  u32('uid', sent.uid);
  u32('gid', sent.gid);
  if (!Number.isFinite(sent.mtimeMs)) throw new BlockIndexError('VIGIL_BAD_INDEX', `metadata sent for ${p}: mtimeMs ${sent.mtimeMs} is not a time`);
  return sent;
}

async function writeAtomically(file: string, temp: string, chunks: readonly Buffer[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const handle = await open(temp, 'w', 0o600);
  try {
    for (const chunk of chunks) await handle.write(chunk);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await handle.close();
  await rename(temp, file);
  await syncFolder(dirname(file));
}

/** Makes a rename durable; folders cannot be opened for fsync on Windows, where NTFS journals the rename itself. */
async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The file's bytes; undefined when there is no such file. */
async function readIfThere(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Temporary files of saves cut short by a crash; the saved file itself is always whole. */
async function removeStaleTemps(file: string): Promise<void> {
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(file));
  } catch {
    return;
  }
  const stale = names.filter((n) => n.startsWith(prefix) && n.endsWith('.tmp') && /^\d+\.\d+$/.test(n.slice(prefix.length, -4)));
  await Promise.all(stale.map((n) => unlink(join(dirname(file), n)).catch(() => undefined)));
}
