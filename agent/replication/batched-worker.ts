/**
 * A worker thread that answers requests in batches: what the read thread (read-thread.ts) and the write thread
 * (write-thread.ts) share. A message costs tens of microseconds on each side (a profiled full mirror spent more
 * on posting them than on reading), so requests travel in batches, answered by one message each: a request goes
 * at once while fewer than MAX_BATCHES_OUT batches are with the thread, else it waits for the next answer. The
 * thread thus always has the next batch queued while the main thread takes in the last (batching by event-loop
 * turn instead starved it: a 20,000-file read took a third longer).
 *
 * The thread starts at the first request and is unreferenced while nothing waits, so an idle one never keeps
 * the process up. A thread that dies fails what waits; the next request starts another.
 */
import { Worker } from 'node:worker_threads';

/** A batch as posted: the message and the buffers handed over with it (not copied). */
export interface PackedBatch { readonly message: unknown; readonly transfer: readonly ArrayBuffer[] }

/** An error as fs would throw it, so callers match on the same codes (ENOENT, ELOOP, VIGIL_NOT_A_FILE ...). */
export class WorkerCallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'WorkerCallError';
  }
}

const MAX_BATCHES_OUT = 2;

interface Waiting<Reply> {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Replies carry no id: the thread answers its messages one after the other, each with one reply per request in
 * the request's place, so the oldest batch out is the one answered (ids, a map and a copy of every request to
 * number it cost more than they checked; a count that does not match fails the thread).
 */
export class BatchedWorker<Request, Reply> {
  private worker: Worker | undefined;
  /** What waits on each batch with the thread, oldest first, in the order of its requests. */
  private readonly out: Waiting<Reply>[][] = [];
  private unsent: Request[] = [];
  private unsentWaiting: Waiting<Reply>[] = [];
  /** Requests not yet answered: while there are any, the thread keeps the process up. */
  private pending = 0;
  private closed = false;

  /**
   * `script`: the worker's module, which answers an array of requests with an array of replies, in order.
   * `pack`: how a batch is posted (default: the array itself, nothing transferred).
   */
  constructor(private readonly script: URL, private readonly name: string,
    private readonly pack: (batch: readonly Request[]) => PackedBatch = (batch) => ({ message: batch, transfer: [] })) {}

  ask(request: Request): Promise<Reply> {
    if (this.closed) return Promise.reject(new WorkerCallError('VIGIL_CLOSED', `the ${this.name} is closed`));
    const worker = this.start();
    return new Promise((resolve, reject) => {
      if (this.pending++ === 0) worker.ref(); // only a request in flight keeps the process up
      this.unsent.push(request);
      this.unsentWaiting.push({ resolve, reject });
      if (this.out.length < MAX_BATCHES_OUT) this.post();
    });
  }

  /**
   * Starts the thread before its first request: its load (about 50 ms of a second core) then overlaps what the
   * caller does meanwhile, where the first request would have waited for it. Unreferenced, as when idle.
   */
  warm(): void {
    if (!this.closed) this.start();
  }

  /** Ends the thread; requests still in flight are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.fail(new WorkerCallError('VIGIL_CLOSED', `the ${this.name} was closed`));
    await worker?.terminate();
  }

  /** What waits, in one message. A thread that stopped meanwhile took them along: fail() refused them. */
  private post(): void {
    const batch = this.unsent;
    if (batch.length === 0 || this.worker === undefined) return;
    this.out.push(this.unsentWaiting);
    this.unsent = [];
    this.unsentWaiting = [];
    const { message, transfer } = this.pack(batch);
    this.worker.postMessage(message, [...transfer]);
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(this.script);
    worker.on('message', (replies: readonly Reply[]) => {
      // A thread already given up on (its batches failed) has nobody left to answer.
      if (this.worker !== worker) return;
      const waiting = this.out.shift() ?? [];
      if (replies.length !== waiting.length) {
        this.worker = undefined;
        void worker.terminate();
        this.out.unshift(waiting);
        this.fail(new WorkerCallError('VIGIL_WORKER_PROTOCOL', `the ${this.name} answered ${replies.length} replies to a batch of ${waiting.length} requests`));
        return;
      }
      this.post();
      this.pending -= waiting.length;
      if (this.pending === 0) worker.unref();
      for (let i = 0; i < waiting.length; i++) waiting[i]!.resolve(replies[i]!);
    });
    // Only the current thread's end fails what waits: what waited on an older one was failed when it was replaced.
    worker.on('error', (e) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.fail(e);
    });
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.fail(new WorkerCallError('VIGIL_WORKER_EXIT', `the ${this.name} stopped`));
    });
    // After the listeners: adding one for 'message' references the thread's port again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private fail(error: Error): void {
    const all = [...this.out.flat(), ...this.unsentWaiting];
    this.out.length = 0;
    this.unsent = [];
    this.unsentWaiting = [];
    this.pending = 0;
    for (const w of all) w.reject(error);
  }
}
