/**
 * The thread behind read-thread.ts: reads and indexes files with plain synchronous calls, one file per message.
 * Here a blocking open, stat, read and close cost only themselves; on the agent's main thread each would be a
 * round trip through libuv's thread pool and a promise, for a file of a few KiB; and hashing a large file here
 * never holds up the main thread's event loop.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { FileHasher, indexBytes, type FileIndex } from './block-index.js';
import type { ReadReply, ReadRequest } from './read-thread.js';

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

parentPort?.on('message', (request: ReadRequest) => {
  let reply: ReadReply;
  try {
    reply = readOne(request);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    reply = { id: request.id, error: { code: err.code ?? 'EIO', message: err.message } };
  }
  const transfer = [reply.content, reply.hashes].filter((b): b is ArrayBuffer => b !== undefined);
  parentPort!.postMessage(reply, transfer);
});
