/**
 * The thread behind read-thread.ts: reads and indexes files with plain synchronous calls; a message holds the
 * requests of one turn of the main thread's event loop, and one message answers them all, in order.
 * Here a blocking open, stat, read and close cost only themselves; on the agent's main thread each would be a
 * round trip through libuv's thread pool and a promise, for a file of a few KiB; and hashing a large file here
 * never holds up the main thread's event loop. The answers' bytes go back in one buffer per message (pack).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { FileHasher, indexBytes, type FileIndex } from './block-index.js';
import { fileHoles, readSkippingHoles } from './file-holes.js';
import { LSTAT_FIELDS, type ChunkRequest, type LstatRequest, type ReadReply, type ReadRequest } from './read-thread.js';
import { extendedAttributes, NO_XATTRS, travellingXattrs, xattrDigest } from './xattrs.js';

/** Where this platform says a file's holes are, a large file's are zeroed here rather than read (file-holes.ts). */
const HOLES = fileHoles();
/** This platform's extended attributes, for an lstat that asks for them too (none where the addon is missing). */
const XATTRS = extendedAttributes().access;
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * What a request found: a reply as it goes (an error, a file too large, an lstat's numbers), or a file read, its
 * content and block hashes still in this thread's memory until pack() places them in the batch's buffer.
 */
type Answer = { readonly reply: ReadReply } | FileRead;

interface FileRead {
  readonly reply?: undefined;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly priorTail: ReadReply['priorTail'];
  /** A chunk's length (its bytes are in the lent buffer); a file read whole has its content instead. */
  readonly length: number | undefined;
  readonly content: Buffer | undefined;
  readonly hashes: Buffer;
}

const failed = (code: string, message: string): Answer => ({ reply: { error: { code, message } } });

/**
 * Where files read whole land until their batch is packed: one buffer reused from batch to batch, rather than
 * fresh memory for each file that this thread's collector would then have to reclaim.
 */
const SCRATCH_BYTES = 4 * 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
let scratchUsed = 0;

function scratchBytes(n: number): Buffer {
  if (scratchUsed + n > scratch.length) {
    // The full one stays alive while this batch's answers refer to it.
    scratch = Buffer.allocUnsafeSlow(Math.max(SCRATCH_BYTES, n));
    scratchUsed = 0;
  }
  scratchUsed += n;
  return scratch.subarray(scratchUsed - n, scratchUsed);
}

function readOne(request: ReadRequest): Answer {
  const fd = openSync(request.path, OPEN_FLAGS);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return failed('VIGIL_NOT_A_FILE', `${request.path}: not a regular file`);
    if (request.indexOnly) return indexWhole(request, fd, stats);
    if (stats.size > request.maxBytes) return { reply: { tooLarge: true } };
    const content = scratchBytes(stats.size);
    let filled = 0;
    while (filled < content.length) {
      const n = readSync(fd, content, filled, content.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    const read = content.subarray(0, filled);
    return fileRead(indexBytes(read, request.blockSize, request.previous, stats, request.hash), read);
  } finally {
    closeSync(fd);
  }
}

const CHUNK_BYTES = 1024 * 1024;
let chunk: Buffer | undefined;

/** A file of any size hashed a chunk at a time; only its block hashes go back. */
function indexWhole(request: ReadRequest, fd: number, stats: Stats): Answer {
  chunk ??= Buffer.allocUnsafe(CHUNK_BYTES);
  const hasher = new FileHasher(request.blockSize, request.previous, request.hash);
  for (let position = 0; ;) {
    const n = readSkippingHoles(fd, chunk, 0, chunk.length, position, stats.size, HOLES);
    if (n === 0) break;
    hasher.update(chunk.subarray(0, n));
    position += n;
  }
  return fileRead(hasher.finish(stats), undefined);
}

function fileRead(index: FileIndex, content: Buffer | undefined): FileRead {
  const priorTail = index.priorTail === undefined ? undefined : { size: index.priorTail.size, hash: Uint8Array.from(index.priorTail.hash) };
  return { size: index.size, mtimeMs: index.mtimeMs, ino: index.ino, priorTail, length: undefined, content, hashes: index.hashes };
}

/** A chunk of a large file, into the shared buffer; its stat taken before the read (the index's mtime). */
function readChunk(request: ChunkRequest): Answer {
  const fd = openSync(request.path, OPEN_FLAGS);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return failed('VIGIL_NOT_A_FILE', `${request.path}: not a regular file`);
    if (request.buffer.byteLength < request.length) {
      return failed('VIGIL_BAD_BUFFER', `a chunk of ${request.length} bytes asked into a buffer of ${request.buffer.byteLength}`);
    }
    const content = Buffer.from(request.buffer);
    const filled = readSkippingHoles(fd, content, 0, request.length, request.offset, stats.size, HOLES);
    const hasher = new FileHasher(request.blockSize, undefined, request.hash);
    hasher.update(content.subarray(0, filled));
    return { size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino, priorTail: undefined, length: filled, content: undefined, hashes: hasher.finish(stats).hashes };
  } finally {
    closeSync(fd);
  }
}

/**
 * Every path's lstat; a Buffer's bytes arrive as a Uint8Array (a name that is not UTF-8). With `xattrs`, each file's
 * and folder's travelling attributes too, as their digest (undefined where they could not be read: the caller
 * lists them itself).
 */
function lstatAll(request: LstatRequest): Answer {
  const numbers = new Float64Array(request.paths.length * LSTAT_FIELDS.length);
  const digests: (string | undefined)[] | undefined = request.xattrs === true && XATTRS !== undefined ? [] : undefined;
  const errors = request.paths.map((path, i) => {
    try {
      const name = typeof path === 'string' ? path : Buffer.from(path.buffer, path.byteOffset, path.byteLength);
      const s = lstatSync(name);
      numbers.set([s.mode, s.size, s.mtimeMs, s.uid, s.gid, s.ino, s.nlink], i * LSTAT_FIELDS.length);
      if (digests !== undefined && typeof name === 'string' && (s.isFile() || s.isDirectory())) digests[i] = digestOf(name);
      return undefined;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return { code: err.code ?? 'EIO', message: err.message };
    }
  });
  return { reply: digests === undefined ? { stats: numbers.buffer, errors } : { stats: numbers.buffer, errors, xattrs: digests } };
}

function digestOf(path: string): string | undefined {
  try {
    return xattrDigest(travellingXattrs(XATTRS!, path)) ?? NO_XATTRS;
  } catch {
    return undefined; // gone or replaced meanwhile: the look at it says what it became
  }
}

function answer(request: ReadRequest | LstatRequest | ChunkRequest): Answer {
  if (request.kind === 'lstat') return lstatAll(request);
  try {
    return request.kind === 'chunk' ? readChunk(request) : readOne(request);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return failed(err.code ?? 'EIO', err.message);
  }
}

/**
 * The batch's contents and hashes copied into one buffer, each reply pointing into it (see ReadReply). Every
 * file's reply is one literal of the same shape: spreading optional fields into it cost a fifth of this thread.
 */
function pack(answers: readonly Answer[]): { readonly replies: ReadReply[]; readonly packed: ArrayBuffer } {
  let total = 0;
  for (const a of answers) if (a.reply === undefined) total += (a.content?.length ?? 0) + a.hashes.length;
  const packed = new ArrayBuffer(total);
  const view = new Uint8Array(packed);
  let at = 0;
  const place = (bytes: Buffer): number => {
    view.set(bytes, at);
    at += bytes.length;
    return at - bytes.length;
  };
  const replies = answers.map((a): ReadReply => {
    if (a.reply !== undefined) return a.reply;
    const contentAt = a.content === undefined ? undefined : place(a.content);
    const hashesAt = place(a.hashes);
    return {
      packed, contentAt, length: a.content?.length ?? a.length, hashesAt, hashesLength: a.hashes.length,
      size: a.size, mtimeMs: a.mtimeMs, ino: a.ino, priorTail: a.priorTail,
    };
  });
  return { replies, packed };
}

parentPort?.on('message', (requests: readonly (ReadRequest | LstatRequest | ChunkRequest)[]) => {
  scratchUsed = 0; // the last batch was packed (copied) before it was posted
  const { replies, packed } = pack(requests.map(answer));
  const transfer = [packed];
  for (const r of replies) if (r.stats !== undefined) transfer.push(r.stats);
  parentPort!.postMessage(replies, transfer);
});
