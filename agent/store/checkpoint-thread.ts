/**
 * SQLite's WAL checkpoints on a thread of their own. A checkpoint copies the write-ahead log into the database and
 * fsyncs it; made by the connection that commits (SQLite's automatic checkpoint, every 1,000 pages), it runs on the
 * agent's event loop, and an fsync on a file system busy with a resync's writes has taken 0.6 s here
 * (docs/replication.md, "The state file"): longer than the guard waits before it takes its agent for frozen. Here a
 * second connection, in a worker thread, checkpoints every `everyMs` (PASSIVE: it never waits for, nor holds up,
 * the agent's reads and writes), and the agent's connection is told never to.
 */
import { Worker } from 'node:worker_threads';

export const CHECKPOINT_EVERY_MS = 5000;

/** What one checkpoint did, in WAL frames (SQLite's wal_checkpoint result). */
export interface CheckpointResult {
  readonly busy: boolean;
  /** Frames in the log. */
  readonly log: number;
  /** Of them, copied into the database. */
  readonly checkpointed: number;
}

/** The messages between the two threads. */
export type CheckpointRequest = { readonly type: 'now'; readonly id: number } | { readonly type: 'stop' };
export type CheckpointReply = { readonly type: 'done'; readonly id: number; readonly result: CheckpointResult } | { readonly type: 'failed'; readonly message: string };

export interface CheckpointThreadOptions {
  readonly everyMs?: number;
  /** The thread failed or ended before stop(), with why: the connection that commits must checkpoint again. */
  readonly onFailure: (why: string) => void;
}

export class CheckpointThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failed: string | undefined;
  private stopped = false;

  constructor(readonly path: string, o: CheckpointThreadOptions) {
    this.worker = new Worker(new URL('./checkpoint-thread-worker.js', import.meta.url), { workerData: { path, everyMs: o.everyMs ?? CHECKPOINT_EVERY_MS } });
    const fail = (why: string): void => {
      if (this.failed !== undefined || this.stopped) return;
      this.failed = `the checkpoint thread of ${path}: ${why}`;
      for (const w of this.waiting.values()) w.reject(new Error(this.failed));
      this.waiting.clear();
      this.worker.unref();
      o.onFailure(this.failed);
    };
    this.worker.on('message', (reply: CheckpointReply) => {
      if (reply.type === 'failed') return fail(reply.message);
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      waiter?.resolve(reply.result);
    });
    this.worker.on('error', (e) => fail(e.message));
    this.worker.on('exit', (code) => fail(`ended (exit code ${code})`));
    // Its timer must not keep the agent's process up; only an answer awaited does.
    this.worker.unref();
  }

  /** A checkpoint now (besides the timer's): what it did. */
  checkpoint(): Promise<CheckpointResult> {
    if (this.failed !== undefined) return Promise.reject(new Error(this.failed));
    if (this.stopped) return Promise.reject(new Error(`the checkpoint thread of ${this.path}: stopped`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ type: 'now', id } satisfies CheckpointRequest);
    });
  }

  /** The thread closes its connection and ends; resolves when it has. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const ended = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref();
    this.worker.postMessage({ type: 'stop' } satisfies CheckpointRequest);
    await ended;
    for (const w of this.waiting.values()) w.reject(new Error(`the checkpoint thread of ${this.path}: stopped`));
    this.waiting.clear();
  }
}
