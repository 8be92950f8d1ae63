/**
 * Reads and indexes files on a thread of their own (read-thread-worker.ts). A reconcile or a full mirror reads
 * thousands of files of a few KiB: through the event loop each costs four trips to libuv's thread pool (open,
 * stat, read, close) and their promises, which kept the agent's main thread busier than the bytes did; the thread
 * makes them plain system calls, and the main thread only receives the content and its block hashes. Re-hashing
 * a large file (the check of appended files) runs there too, off the event loop that carries the next changes.
 * A message costs tens of microseconds on each side (a profiled full mirror spent more on posting them than on
 * reading), so requests travel in batches, answered by one message each: a request goes at once while fewer than
 * MAX_BATCHES_OUT batches are with the thread, else it waits for the next answer. The thread thus always has the
 * next batch queued while the main thread takes in the last (batching by event-loop turn instead starved it:
 * a 20,000-file read took a third longer).
 */
import { Worker } from 'node:worker_threads';
import { BLOCK_HASH_BYTES, type FileIndex } from './block-index.js';
import type { EntryStats } from './tree.js';

export interface ReadRequest {
  readonly id: number;
  readonly kind: 'read';
  readonly path: string;
  readonly blockSize: number;
  readonly maxBytes: number;
  readonly previous?: { readonly size: number; readonly blockSize: number };
  /** Hash the whole file, whatever its size, and send back only its index. */
  readonly indexOnly?: true;
}

/** The lstat of each path (a scan's folder), answered as LSTAT_FIELDS numbers per path or an error. */
export interface LstatRequest {
  readonly id: number;
  readonly kind: 'lstat';
  readonly paths: readonly (string | Uint8Array)[];
}

/** What an lstat answers, in this order, per path: the fields a scan uses (tree.ts's EntryStats). */
export const LSTAT_FIELDS = ['mode', 'size', 'mtimeMs', 'uid', 'gid', 'ino'] as const;

export interface ReadReply {
  readonly id: number;
  /** An lstat's answer: LSTAT_FIELDS.length numbers per path, in a transferred buffer; errors[i] for a failed one. */
  readonly stats?: ArrayBuffer;
  readonly errors?: readonly ({ readonly code: string; readonly message: string } | undefined)[];
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
interface Answer { readonly index?: FileIndex; readonly content?: Buffer; readonly stats?: readonly (EntryStats | Error)[] }

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

const MAX_BATCHES_OUT = 2;

export class ReadThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  /** Asked while MAX_BATCHES_OUT batches were with the thread: posted together when the next one is answered. */
  private unsent: (ReadRequest | LstatRequest)[] = [];
  private batchesOut = 0;
  private nextId = 1;
  private closed = false;

  /**
   * As block-index.ts's readAndIndexFile: the file read whole and indexed, or undefined when it is larger than
   * `maxBytes`. Rejects with the system error's code.
   */
  async read(path: string, blockSize: number, previous: FileIndex | undefined, maxBytes: number): Promise<{ index: FileIndex; content: Buffer } | undefined> {
    const result = await this.ask({ kind: 'read', path, blockSize, maxBytes, ...(previous === undefined ? {} : { previous: { size: previous.size, blockSize: previous.blockSize } }) });
    return result.content === undefined ? undefined : { index: result.index!, content: result.content };
  }

  /** As block-index.ts's indexFile (without a previous index): a file of any size hashed on the thread. */
  async index(path: string, blockSize: number): Promise<FileIndex> {
    return (await this.ask({ kind: 'read', path, blockSize, maxBytes: 0, indexOnly: true })).index!;
  }

  /**
   * lstat of every path, as a scan does for a folder's entries (tree.ts's LstatMany): one message for them all
   * instead of a trip to libuv's thread pool and a Stats object each. A failed one is an Error with its code.
   */
  async lstat(paths: readonly (string | Buffer)[]): Promise<readonly (EntryStats | Error)[]> {
    if (paths.length === 0) return [];
    return (await this.ask({ kind: 'lstat', paths })).stats!;
  }

  private ask(request: Omit<ReadRequest, 'id'> | Omit<LstatRequest, 'id'>): Promise<Answer> {
    if (this.closed) return Promise.reject(new ReadThreadError('VIGIL_CLOSED', 'the read thread is closed'));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { blockSize: request.kind === 'read' ? request.blockSize : 0, resolve, reject });
      if (this.waiting.size === 1) worker.ref(); // only a read in flight keeps the process up
      this.unsent.push({ ...request, id });
      if (this.batchesOut < MAX_BATCHES_OUT) this.post();
    });
  }

  /** What waits, in one message. A thread that stopped meanwhile took them along: fail() refused them. */
  private post(): void {
    const batch = this.unsent;
    this.unsent = [];
    if (batch.length === 0 || this.worker === undefined) return;
    this.batchesOut++;
    this.worker.postMessage(batch);
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
    worker.on('message', (replies: readonly ReadReply[]) => {
      if (this.worker === worker) {
        this.batchesOut--;
        this.post();
      }
      for (const reply of replies) this.settle(reply);
    });
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
    if (reply.stats !== undefined) {
      waiting.resolve({ stats: lstatAnswers(new Float64Array(reply.stats), reply.errors ?? []) });
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
    this.unsent = [];
    this.batchesOut = 0;
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(error);
  }
}

function lstatAnswers(numbers: Float64Array, errors: readonly ({ readonly code: string; readonly message: string } | undefined)[]): (EntryStats | Error)[] {
  const out: (EntryStats | Error)[] = [];
  const n = LSTAT_FIELDS.length;
  for (let i = 0; i < errors.length; i++) {
    const error = errors[i];
    if (error !== undefined) out.push(new ReadThreadError(error.code, error.message));
    else out.push({ mode: numbers[i * n]!, size: numbers[i * n + 1]!, mtimeMs: numbers[i * n + 2]!, uid: numbers[i * n + 3]!, gid: numbers[i * n + 4]!, ino: numbers[i * n + 5]! });
  }
  return out;
}
