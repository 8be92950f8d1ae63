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
import { LSTAT_FIELDS, type ChunkRequest, type LstatRequest, type ReadReply, type ReadRequest } from './read-thread.js';

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A reply before packing (see ReadReply): its content and block hashes still in this thread's memory. */
interface Answer {
  readonly reply: ReadReply;
  readonly content?: Buffer;
  readonly hashes?: Buffer;
}

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
    if (!stats.isFile()) return { reply: { id: request.id, error: { code: 'VIGIL_NOT_A_FILE', message: `${request.path}: not a regular file` } } };
    if (request.indexOnly === true) return indexWhole(request, fd, stats);
    if (stats.size > request.maxBytes) return { reply: { id: request.id, tooLarge: true } };
    const content = scratchBytes(stats.size);
    let filled = 0;
    while (filled < content.length) {
      const n = readSync(fd, content, filled, content.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return answerIndex(request.id, indexBytes(content.subarray(0, filled), request.blockSize, request.previous, stats, request.hash), content.subarray(0, filled));
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
    const n = readSync(fd, chunk, 0, chunk.length, position);
    if (n === 0) break;
    hasher.update(chunk.subarray(0, n));
    position += n;
  }
  return answerIndex(request.id, hasher.finish(stats));
}

function answerIndex(id: number, index: FileIndex, content?: Buffer): Answer {
  return {
    reply: {
      id, size: index.size, mtimeMs: index.mtimeMs, ino: index.ino,
      ...(index.priorTail === undefined ? {} : { priorTail: { size: index.priorTail.size, hash: Uint8Array.from(index.priorTail.hash) } }),
    },
    hashes: index.hashes,
    ...(content === undefined ? {} : { content }),
  };
}

/** A chunk of a large file, into the shared buffer; its stat taken before the read (the index's mtime). */
function readChunk(request: ChunkRequest): Answer {
  const fd = openSync(request.path, OPEN_FLAGS);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { reply: { id: request.id, error: { code: 'VIGIL_NOT_A_FILE', message: `${request.path}: not a regular file` } } };
    if (request.buffer.byteLength < request.length) {
      return { reply: { id: request.id, error: { code: 'VIGIL_BAD_BUFFER', message: `a chunk of ${request.length} bytes asked into a buffer of ${request.buffer.byteLength}` } } };
    }
    const content = Buffer.from(request.buffer);
    let filled = 0;
    while (filled < request.length) {
      const n = readSync(fd, content, filled, request.length - filled, request.offset + filled);
      if (n === 0) break;
      filled += n;
    }
    const hasher = new FileHasher(request.blockSize, undefined, request.hash);
    hasher.update(content.subarray(0, filled));
    return {
      reply: { id: request.id, length: filled, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino },
      hashes: hasher.finish(stats).hashes,
    };
  } finally {
    closeSync(fd);
  }
}

/** Every path's lstat; a Buffer's bytes arrive as a Uint8Array (a name that is not UTF-8). */
function lstatAll(request: LstatRequest): Answer {
  const numbers = new Float64Array(request.paths.length * LSTAT_FIELDS.length);
  const errors = request.paths.map((path, i) => {
    try {
      const s = lstatSync(typeof path === 'string' ? path : Buffer.from(path.buffer, path.byteOffset, path.byteLength));
      numbers.set([s.mode, s.size, s.mtimeMs, s.uid, s.gid, s.ino], i * LSTAT_FIELDS.length);
      return undefined;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return { code: err.code ?? 'EIO', message: err.message };
    }
  });
  return { reply: { id: request.id, stats: numbers.buffer, errors } };
}

function answer(request: ReadRequest | LstatRequest | ChunkRequest): Answer {
  if (request.kind === 'lstat') return lstatAll(request);
  try {
    return request.kind === 'chunk' ? readChunk(request) : readOne(request);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { reply: { id: request.id, error: { code: err.code ?? 'EIO', message: err.message } } };
  }
}

/** The batch's contents and hashes copied into one buffer, each reply pointing into it (see ReadReply). */
function pack(answers: readonly Answer[]): { readonly replies: ReadReply[]; readonly packed: ArrayBuffer } {
  let total = 0;
  for (const a of answers) total += (a.content?.length ?? 0) + (a.hashes?.length ?? 0);
  const packed = new ArrayBuffer(total);
  const view = new Uint8Array(packed);
  let at = 0;
  const place = (bytes: Buffer): number => {
    view.set(bytes, at);
    at += bytes.length;
    return at - bytes.length;
  };
  const replies = answers.map(({ reply, content, hashes }) => ({
    ...reply,
    ...(content === undefined && hashes === undefined ? {} : { packed }),
    ...(content === undefined ? {} : { contentAt: place(content), length: content.length }),
    ...(hashes === undefined ? {} : { hashesAt: place(hashes), hashesLength: hashes.length }),
  }));
  return { replies, packed };
}

parentPort?.on('message', (requests: readonly (ReadRequest | LstatRequest | ChunkRequest)[]) => {
  scratchUsed = 0; // the last batch was packed (copied) before it was posted
  const { replies, packed } = pack(requests.map(answer));
  const transfer = [packed, ...replies.flatMap((r) => (r.stats === undefined ? [] : [r.stats]))];
  parentPort!.postMessage(replies, transfer);
});
