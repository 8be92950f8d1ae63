/**
 * Reads and indexes files on a thread of their own (read-thread-worker.ts). A reconcile or a full mirror reads
 * thousands of files of a few KiB: through the event loop each costs four trips to libuv's thread pool (open,
 * stat, read, close) and their promises, which kept the agent's main thread busier than the bytes did; the thread
 * makes them plain system calls, and the main thread only receives the content and its block hashes. Re-hashing
 * a large file (the check of appended files) runs there too, off the event loop that carries the next changes.
 */
import { Worker } from 'node:worker_threads';
import { BLOCK_HASH_BYTES, type FileIndex } from './block-index.js';

export interface ReadRequest {
  readonly id: number;
  readonly path: string;
  readonly blockSize: number;
  readonly maxBytes: number;
  readonly previous?: { readonly size: number; readonly blockSize: number };
  /** Hash the whole file, whatever its size, and send back only its index. */
  readonly indexOnly?: true;
}

export interface ReadReply {
  readonly id: number;
  readonly error?: { readonly code: string; readonly message: string };
  readonly tooLarge?: true;
  readonly content?: ArrayBuffer;
  readonly length?: number;
  readonly hashes?: ArrayBuffer;
  readonly size?: number;
  readonly mtimeMs?: number;
  readonly ino?: number;
  readonly priorTail?: { readonly size: number; readonly hash: Uint8Array };
}

/** What the thread answered: no index when the file was too large to read whole. */
interface Answer { readonly index?: FileIndex; readonly content?: Buffer }

interface Waiting {
  readonly blockSize: number;
  readonly resolve: (answer: Answer) => void;
  readonly reject: (error: Error) => void;
}

/** An error as fs would throw it, so callers match on the same codes (ENOENT, ELOOP, VIGIL_NOT_A_FILE ...). */
class ReadThreadError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ReadThreadError';
  }
}

export class ReadThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;

  /**
   * As block-index.ts's readAndIndexFile: the file read whole and indexed, or undefined when it is larger than
   * `maxBytes`. Rejects with the system error's code.
   */
  async read(path: string, blockSize: number, previous: FileIndex | undefined, maxBytes: number): Promise<{ index: FileIndex; content: Buffer } | undefined> {
    const result = await this.ask({ path, blockSize, maxBytes, ...(previous === undefined ? {} : { previous: { size: previous.size, blockSize: previous.blockSize } }) });
    return result.content === undefined ? undefined : { index: result.index!, content: result.content };
  }

  /** As block-index.ts's indexFile (without a previous index): a file of any size hashed on the thread. */
  async index(path: string, blockSize: number): Promise<FileIndex> {
    return (await this.ask({ path, blockSize, maxBytes: 0, indexOnly: true })).index!;
  }

  private ask(request: Omit<ReadRequest, 'id'>): Promise<Answer> {
    if (this.closed) return Promise.reject(new ReadThreadError('VIGIL_CLOSED', 'the read thread is closed'));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { blockSize: request.blockSize, resolve, reject });
      if (this.waiting.size === 1) worker.ref(); // only a read in flight keeps the process up
      worker.postMessage({ ...request, id });
    });
  }

  /** Ends the thread; reads still in flight are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.fail(new ReadThreadError('VIGIL_CLOSED', 'the read thread was closed'));
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(new URL('./read-thread-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (reply: ReadReply) => this.settle(reply));
    worker.on('error', (e) => {
      // The thread is gone: what waits is refused and the next read starts another.
      if (this.worker === worker) this.worker = undefined;
      this.fail(e);
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.fail(new ReadThreadError('VIGIL_WORKER_EXIT', 'the read thread stopped'));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: ReadReply): void {
    const waiting = this.waiting.get(reply.id);
    if (waiting === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker?.unref();
    if (reply.error !== undefined) {
      waiting.reject(new ReadThreadError(reply.error.code, reply.error.message));
      return;
    }
    if (reply.tooLarge === true || reply.hashes === undefined) {
      waiting.resolve({});
      return;
    }
    const hashes = Buffer.from(reply.hashes);
    const blocks: Buffer[] = [];
    for (let at = 0; at < hashes.length; at += BLOCK_HASH_BYTES) blocks.push(hashes.subarray(at, at + BLOCK_HASH_BYTES));
    const index: FileIndex = {
      size: reply.size!, blockSize: waiting.blockSize, blocks, mtimeMs: reply.mtimeMs!, ino: reply.ino!,
      ...(reply.priorTail === undefined ? {} : { priorTail: { size: reply.priorTail.size, hash: Buffer.from(reply.priorTail.hash) } }),
    };
    waiting.resolve(reply.content === undefined ? { index } : { index, content: Buffer.from(reply.content, 0, reply.length) });
  }

  private fail(error: Error): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(error);
  }
}
