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

export interface BatchRequest { readonly id: number }
export interface BatchReply { readonly id: number }

/** A request as asked, before it has its id (each member of a union on its own). */
export type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

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

export class BatchedWorker<Request extends BatchRequest, Reply extends BatchReply> {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting<Reply>>();
  private unsent: Request[] = [];
  private batchesOut = 0;
  private nextId = 1;
  private closed = false;

  /**
   * `script`: the worker's module, which answers an array of requests with an array of replies, in order.
   * `pack`: how a batch is posted (default: the array itself, nothing transferred).
   */
  constructor(private readonly script: URL, private readonly name: string,
    private readonly pack: (batch: readonly Request[]) => PackedBatch = (batch) => ({ message: batch, transfer: [] })) {}

  ask(request: Unnumbered<Request>): Promise<Reply> {
    if (this.closed) return Promise.reject(new WorkerCallError('VIGIL_CLOSED', `the ${this.name} is closed`));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) worker.ref(); // only a request in flight keeps the process up
      // A request with its id is a Request again (Unnumbered only took the id away).
      this.unsent.push({ ...request, id } as unknown as Request);
      if (this.batchesOut < MAX_BATCHES_OUT) this.post();
    });
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
    this.unsent = [];
    if (batch.length === 0 || this.worker === undefined) return;
    this.batchesOut++;
    const { message, transfer } = this.pack(batch);
    this.worker.postMessage(message, [...transfer]);
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(this.script);
    worker.unref();
    worker.on('message', (replies: readonly Reply[]) => {
      if (this.worker === worker) {
        this.batchesOut--;
        this.post();
      }
      for (const reply of replies) this.settle(reply);
    });
    worker.on('error', (e) => {
      if (this.worker === worker) this.worker = undefined;
      this.fail(e);
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.fail(new WorkerCallError('VIGIL_WORKER_EXIT', `the ${this.name} stopped`));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: Reply): void {
    const waiting = this.waiting.get(reply.id);
    if (waiting === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker?.unref();
    waiting.resolve(reply);
  }

  private fail(error: Error): void {
    this.unsent = [];
    this.batchesOut = 0;
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(error);
  }
}
