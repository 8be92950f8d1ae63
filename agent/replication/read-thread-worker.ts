/**
 * The thread behind read-thread.ts: reads and indexes files with plain synchronous calls; a message holds the
 * requests of one turn of the main thread's event loop, and one message answers them all, in order.
 * Here a blocking open, stat, read and close cost only themselves; on the agent's main thread each would be a
 * round trip through libuv's thread pool and a promise, for a file of a few KiB; and hashing a large file here
 * never holds up the main thread's event loop.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { FileHasher, indexBytes, type FileIndex } from './block-index.js';
import { LSTAT_FIELDS, type ChunkRequest, type LstatRequest, type ReadReply, type ReadRequest } from './read-thread.js';

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

function readOne(request: ReadRequest): ReadReply {
  const fd = openSync(request.path, OPEN_FLAGS);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { id: request.id, error: { code: 'VIGIL_NOT_A_FILE', message: `${request.path}: not a regular file` } };
    if (request.indexOnly === true) return indexWhole(request, fd, stats);
    if (stats.size > request.maxBytes) return { id: request.id, tooLarge: true };
    // Its own memory, so it can be handed over to the main thread without a copy.
    const content = Buffer.allocUnsafeSlow(stats.size);
    let filled = 0;
    while (filled < content.length) {
      const n = readSync(fd, content, filled, content.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return reply(request.id, indexBytes(content.subarray(0, filled), request.blockSize, request.previous, stats), content.subarray(0, filled));
  } finally {
    closeSync(fd);
  }
}

const CHUNK_BYTES = 1024 * 1024;
let chunk: Buffer | undefined;

/** A file of any size hashed a chunk at a time; only its block hashes go back. */
function indexWhole(request: ReadRequest, fd: number, stats: Stats): ReadReply {
  chunk ??= Buffer.allocUnsafe(CHUNK_BYTES);
  const hasher = new FileHasher(request.blockSize, request.previous);
  for (let position = 0; ;) {
    const n = readSync(fd, chunk, 0, chunk.length, position);
    if (n === 0) break;
    hasher.update(chunk.subarray(0, n));
    position += n;
  }
  return reply(request.id, hasher.finish(stats));
}

function reply(id: number, index: FileIndex, content?: Buffer): ReadReply {
  const hashes = Buffer.concat([...index.blocks]);
  return {
    id, hashes: hashes.buffer.slice(hashes.byteOffset, hashes.byteOffset + hashes.length), size: index.size, mtimeMs: index.mtimeMs, ino: index.ino,
    // `content` starts its own ArrayBuffer (allocUnsafeSlow), never a shared one: it is handed over whole.
    ...(content === undefined ? {} : { content: content.buffer as ArrayBuffer, length: content.length }),
    ...(index.priorTail === undefined ? {} : { priorTail: { size: index.priorTail.size, hash: Uint8Array.from(index.priorTail.hash) } }),
  };
}

/** A chunk of a large file, into the shared buffer; its stat taken before the read (the index's mtime). */
function readChunk(request: ChunkRequest): ReadReply {
  const fd = openSync(request.path, OPEN_FLAGS);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { id: request.id, error: { code: 'VIGIL_NOT_A_FILE', message: `${request.path}: not a regular file` } };
    if (request.buffer.byteLength < request.length) {
      return { id: request.id, error: { code: 'VIGIL_BAD_BUFFER', message: `a chunk of ${request.length} bytes asked into a buffer of ${request.buffer.byteLength}` } };
    }
    const content = Buffer.from(request.buffer);
    let filled = 0;
    while (filled < request.length) {
      const n = readSync(fd, content, filled, request.length - filled, request.offset + filled);
      if (n === 0) break;
      filled += n;
    }
    const hasher = new FileHasher(request.blockSize, undefined);
    hasher.update(content.subarray(0, filled));
    const hashes = Buffer.concat([...hasher.finish(stats).blocks]);
    return {
      id: request.id, length: filled, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino,
      hashes: hashes.buffer.slice(hashes.byteOffset, hashes.byteOffset + hashes.length),
    };
  } finally {
    closeSync(fd);
  }
}

/** Every path's lstat; a Buffer's bytes arrive as a Uint8Array (a name that is not UTF-8). */
function lstatAll(request: LstatRequest): ReadReply {
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
  return { id: request.id, stats: numbers.buffer, errors };
}

function answer(request: ReadRequest | LstatRequest | ChunkRequest): ReadReply {
  if (request.kind === 'lstat') return lstatAll(request);
  try {
    return request.kind === 'chunk' ? readChunk(request) : readOne(request);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { id: request.id, error: { code: err.code ?? 'EIO', message: err.message } };
  }
}

parentPort?.on('message', (requests: readonly (ReadRequest | LstatRequest | ChunkRequest)[]) => {
  const replies = requests.map(answer);
  const transfer = replies.flatMap((r) => [r.content, r.hashes, r.stats]).filter((b): b is ArrayBuffer => b !== undefined);
  parentPort!.postMessage(replies, transfer);
});
