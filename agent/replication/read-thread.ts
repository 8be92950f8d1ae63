/**
 * Reads and indexes files on a thread of their own (read-thread-worker.ts). A reconcile or a full mirror reads
 * thousands of files of a few KiB: through the event loop each costs four trips to libuv's thread pool (open,
 * stat, read, close) and their promises, which kept the agent's main thread busier than the bytes did; the thread
 * makes them plain system calls, and the main thread only receives the content and its block hashes. Re-hashing
 * a large file (the check of appended files) runs there too, off the event loop that carries the next changes.
 * Requests travel in batches (batched-worker.ts).
 */
import type { BufferPool } from '../util/buffer-pool.js';
import { BatchedWorker, WorkerCallError } from './batched-worker.js';
import type { BlockHashName } from './block-hash.js';
import type { FileIndex } from './block-index.js';
import type { EntryStats } from './tree.js';

export interface ReadRequest {
  readonly kind: 'read';
  readonly path: string;
  readonly blockSize: number;
  readonly hash: BlockHashName;
  readonly maxBytes: number;
  readonly previous: { readonly size: number; readonly blockSize: number } | undefined;
  /** Hash the whole file, whatever its size, and send back only its index. */
  readonly indexOnly: boolean;
}

/**
 * One chunk of a large file read and its blocks hashed: `length` bytes from `offset` (a multiple of the block
 * size), into `buffer`, memory shared with the main thread (nothing is copied or handed over; the answer only says
 * how many bytes were read).
 */
export interface ChunkRequest {
  readonly kind: 'chunk';
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  readonly blockSize: number;
  readonly hash: BlockHashName;
  readonly buffer: SharedArrayBuffer;
}

/**
 * The lstat of each path (a scan's folder), answered as LSTAT_FIELDS numbers per path or an error; with `xattrs`,
 * each file's and folder's travelling attributes' digest too.
 */
export interface LstatRequest {
  readonly kind: 'lstat';
  readonly paths: readonly (string | Uint8Array)[];
  readonly xattrs?: boolean;
}

/** What an lstat answers, in this order, per path: the fields a scan uses (tree.ts's EntryStats). */
export const LSTAT_FIELDS = ['mode', 'size', 'mtimeMs', 'uid', 'gid', 'ino', 'nlink'] as const;

/**
 * One request's answer. The contents and block hashes of a whole batch travel in one transferred buffer (`packed`,
 * the same for every reply of the message), each at its offset: handing over a buffer per file cost more than
 * reading the file, and V8 counted each one as newly allocated memory.
 */
export interface ReadReply {
  /** An lstat's answer: LSTAT_FIELDS.length numbers per path, in a transferred buffer; errors[i] for a failed one. */
  readonly stats?: ArrayBuffer | undefined;
  readonly errors?: readonly ({ readonly code: string; readonly message: string } | undefined)[] | undefined;
  /** Asked with the lstat: each path's attributes' digest (NO_XATTRS for none), undefined where not read. */
  readonly xattrs?: readonly (string | undefined)[] | undefined;
  readonly error?: { readonly code: string; readonly message: string } | undefined;
  readonly tooLarge?: true | undefined;
  readonly packed?: ArrayBuffer | undefined;
  /** The bytes read: in `packed` from contentAt for a file read whole, in the lent buffer for a chunk. */
  readonly contentAt?: number | undefined;
  readonly length?: number | undefined;
  readonly hashesAt?: number | undefined;
  readonly hashesLength?: number | undefined;
  readonly size?: number | undefined;
  readonly mtimeMs?: number | undefined;
  readonly ino?: number | undefined;
  readonly priorTail?: { readonly size: number; readonly hash: Uint8Array } | undefined;
}

/** How many chunks of a large file are read ahead of the one being sent. */
const CHUNKS_AHEAD = 4;

/** What the chunk reader needs of a pool of buffers: one of shared memory. */
export type BufferLender = Pick<BufferPool, 'bufferBytes' | 'shared' | 'take' | 'give'>;

/** What the thread answered: no index when the file was too large to read whole. */
interface Answer { readonly index?: FileIndex; readonly content?: Buffer; readonly stats?: readonly (EntryStats | Error)[] }

export class ReadThread {
  private readonly thread = new BatchedWorker<ReadRequest | LstatRequest | ChunkRequest, ReadReply>(new URL('./read-thread-worker.js', import.meta.url), 'read thread');

  /**
   * As block-index.ts's readAndIndexFile: the file read whole and indexed, or undefined when it is larger than
   * `maxBytes`. Rejects with the system error's code.
   */
  async read(path: string, blockSize: number, hash: BlockHashName, previous: FileIndex | undefined, maxBytes: number): Promise<{ index: FileIndex; content: Buffer } | undefined> {
    const prior = previous === undefined ? undefined : { size: previous.size, blockSize: previous.blockSize };
    const result = await this.ask({ kind: 'read', path, blockSize, hash, maxBytes, previous: prior, indexOnly: false });
    return result.content === undefined ? undefined : { index: result.index!, content: result.content };
  }

  /** As block-index.ts's indexFile: a file of any size hashed on the thread. */
  async index(path: string, blockSize: number, hash: BlockHashName, previous?: Pick<FileIndex, 'size' | 'blockSize'>): Promise<FileIndex> {
    const prior = previous === undefined ? undefined : { size: previous.size, blockSize: previous.blockSize };
    return (await this.ask({ kind: 'read', path, blockSize, hash, maxBytes: 0, previous: prior, indexOnly: true })).index!;
  }

  /**
   * lstat of every path, as a scan does for a folder's entries (tree.ts's LstatMany): one message for them all
   * instead of a trip to libuv's thread pool and a Stats object each. A failed one is an Error with its code.
   * `xattrs`: each file's and folder's travelling extended attributes are read there too (EntryStats.xattrs),
   * through this platform's adapter, rather than listed one path at a time on the event loop.
   */
  async lstat(paths: readonly (string | Buffer)[], xattrs = false): Promise<readonly (EntryStats | Error)[]> {
    if (paths.length === 0) return [];
    return (await this.ask(xattrs ? { kind: 'lstat', paths, xattrs } : { kind: 'lstat', paths })).stats!;
  }

  /**
   * As block-index.ts's readIndexing: a file read a pool buffer (`bufferBytes`) at a time (a multiple of `blockSize`), each chunk
   * yielded while the next ones are read and hashed on the thread; the index is the return value. The file is
   * opened for each chunk: one replaced meanwhile (another inode) fails with ENOENT, as one removed does, and the
   * watcher reports what it became. Buffers come from `pool` (of shared memory, which the thread reads into) and go
   * back to it once the consumer gives them back.
   */
  async *readChunks(path: string, blockSize: number, hash: BlockHashName, pool: BufferLender): AsyncGenerator<{ readonly offset: number; readonly data: Buffer }, FileIndex> {
    const chunkBytes = pool.bufferBytes;
    if (chunkBytes % blockSize !== 0) throw new WorkerCallError('VIGIL_BAD_BLOCK_SIZE', `chunks of ${chunkBytes} bytes do not hold whole blocks of ${blockSize}`);
    if (!pool.shared) throw new WorkerCallError('VIGIL_BAD_POOL', 'the read thread fills chunks in place: their pool must be of shared memory');
    interface Asked { readonly buffer: Buffer; readonly reply: Promise<ReadReply> }
    const ask = (offset: number): Asked => {
      const buffer = pool.take();
      return { buffer, reply: this.thread.ask({ kind: 'chunk', path, offset, length: chunkBytes, blockSize, hash, buffer: buffer.buffer as SharedArrayBuffer }) };
    };
    const ahead: Asked[] = [];
    let nextOffset = 0;
    const fill = (): void => {
      while (ahead.length < CHUNKS_AHEAD) {
        ahead.push(ask(nextOffset));
        nextOffset += chunkBytes;
      }
    };
    fill();
    const hashes: Buffer[] = [];
    let first: ReadReply | undefined;
    let size = 0;
    try {
      for (;;) {
        const asked = ahead.shift()!;
        // The thread is done with the buffer once it answered (or died); the consumer holds it once it is yielded.
        const reply = await asked.reply.catch((e: unknown) => {
          pool.give(asked.buffer);
          throw e;
        });
        if (reply.error !== undefined) {
          pool.give(asked.buffer);
          throw new WorkerCallError(reply.error.code, reply.error.message);
        }
        first ??= reply;
        if (reply.ino !== first.ino) {
          pool.give(asked.buffer);
          throw new WorkerCallError('ENOENT', `${path}: replaced while it was read`);
        }
        const data = asked.buffer.subarray(0, reply.length!);
        hashes.push(blockHashes(reply));
        size += reply.length!;
        if (reply.length! < chunkBytes) {
          if (reply.length! > 0) yield { offset: size - reply.length!, data };
          else pool.give(data);
          break;
        }
        fill();
        yield { offset: size - chunkBytes, data };
      }
    } finally {
      // Chunks asked beyond the end (or beyond where the consumer stopped): their buffers go back to the pool once
      // the thread is done writing into them.
      for (const later of ahead.splice(0)) void later.reply.then(() => pool.give(later.buffer), () => pool.give(later.buffer));
    }
    return { size, blockSize, hashes: Buffer.concat(hashes), mtimeMs: first.mtimeMs!, ino: first.ino! };
  }

  /** Starts the thread ahead of its first read (see BatchedWorker.warm). */
  warm(): void {
    this.thread.warm();
  }

  /** Ends the thread; reads still in flight are refused. */
  close(): Promise<void> {
    return this.thread.close();
  }

  private async ask(request: ReadRequest | LstatRequest): Promise<Answer> {
    const reply = await this.thread.ask(request);
    if (reply.error !== undefined) throw new WorkerCallError(reply.error.code, reply.error.message);
    if (reply.stats !== undefined) return { stats: lstatAnswers(new Float64Array(reply.stats), reply.errors ?? [], reply.xattrs) };
    if (reply.tooLarge === true || reply.hashesAt === undefined) return {};
    const index: FileIndex = {
      size: reply.size!, blockSize: request.kind === 'read' ? request.blockSize : 0, hashes: blockHashes(reply), mtimeMs: reply.mtimeMs!, ino: reply.ino!,
      ...(reply.priorTail === undefined ? {} : { priorTail: { size: reply.priorTail.size, hash: Buffer.from(reply.priorTail.hash) } }),
    };
    return reply.contentAt === undefined ? { index } : { index, content: Buffer.from(reply.packed!, reply.contentAt, reply.length) };
  }
}

/** A reply's block hashes, copied out of the batch's buffer (an index may outlive the content read with it). */
function blockHashes(reply: ReadReply): Buffer {
  return Buffer.from(new Uint8Array(reply.packed!, reply.hashesAt, reply.hashesLength));
}

function lstatAnswers(numbers: Float64Array, errors: readonly ({ readonly code: string; readonly message: string } | undefined)[], xattrs: readonly (string | undefined)[] | undefined): (EntryStats | Error)[] {
  const out: (EntryStats | Error)[] = [];
  const n = LSTAT_FIELDS.length;
  for (let i = 0; i < errors.length; i++) {
    const error = errors[i];
    const digest = xattrs?.[i];
    // Two literals, not a spread: one shape each (as tree.ts's toEntry), for as many entries as a folder holds.
    if (error !== undefined) out.push(new WorkerCallError(error.code, error.message));
    else if (digest === undefined) out.push({ mode: numbers[i * n]!, size: numbers[i * n + 1]!, mtimeMs: numbers[i * n + 2]!, uid: numbers[i * n + 3]!, gid: numbers[i * n + 4]!, ino: numbers[i * n + 5]!, nlink: numbers[i * n + 6]! });
    else out.push({ mode: numbers[i * n]!, size: numbers[i * n + 1]!, mtimeMs: numbers[i * n + 2]!, uid: numbers[i * n + 3]!, gid: numbers[i * n + 4]!, ino: numbers[i * n + 5]!, nlink: numbers[i * n + 6]!, xattrs: digest });
  }
  return out;
}
