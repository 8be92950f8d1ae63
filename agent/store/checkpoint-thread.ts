/**
 * SQLite's WAL checkpoints on a thread of their own. A checkpoint copies the write-ahead log into the database and
 * fsyncs it; made by the connection that commits (SQLite's automatic checkpoint, every 1,000 pages), it runs on the
 * agent's event loop, and an fsync on a file system busy with a resync's writes has taken 0.6 s here
 * (docs/replication.md, "The state file"): longer than the guard waits before it takes its agent for frozen. Here a
 * second connection to each database, in one worker thread for the whole process, checkpoints every `everyMs`
 * (PASSIVE: it never waits for, nor holds up, the agent's reads and writes); the caller tells its own connection
 * never to (`wal_autocheckpoint = 0`), and to again should the thread fail (`onFailure`).
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

/** The messages between the two threads; `path` names the database. */
export type CheckpointRequest =
  | { readonly type: 'add'; readonly path: string; readonly everyMs: number }
  | { readonly type: 'now'; readonly path: string; readonly id: number }
  | { readonly type: 'remove'; readonly path: string; readonly id: number }
  | { readonly type: 'exit' };
export type CheckpointReply =
  | { readonly type: 'done'; readonly id: number; readonly result?: CheckpointResult }
  | { readonly type: 'failed'; readonly path: string; readonly message: string };

export interface CheckpointOptions {
  readonly everyMs?: number;
  /** The thread could not checkpoint this database (or ended), with why: its own connection must again. */
  readonly onFailure: (why: string) => void;
}

/** One database's checkpoints on the shared thread. */
export interface Checkpoints {
  /** A checkpoint now (besides the timer's): what it did. */
  checkpoint(): Promise<CheckpointResult>;
  /** No more checkpoints of it; the thread closes its connection (the thread ends with its last database). */
  stop(): Promise<void>;
}

interface Waiter { readonly resolve: (r: CheckpointResult | undefined) => void; readonly reject: (e: Error) => void }
interface Database { readonly onFailure: (why: string) => void; failed?: string }

class CheckpointThread {
  private readonly worker = new Worker(new URL('./checkpoint-thread-worker.js', import.meta.url));
  private readonly databases = new Map<string, Database>();
  private readonly waiting = new Map<number, Waiter & { readonly path: string }>();
  private nextId = 1;

  constructor(private readonly onEmpty: () => void) {
    this.worker.on('message', (reply: CheckpointReply) => {
      if (reply.type === 'failed') return this.fail(reply.path, reply.message);
      this.settle(reply.id)?.resolve(reply.result);
    });
    const ended = (why: string): void => {
      this.onEmpty();
      for (const path of [...this.databases.keys()]) this.fail(path, why);
    };
    this.worker.on('error', (e) => ended(e.message));
    this.worker.on('exit', (code) => ended(`ended (exit code ${code})`));
    // Its timers must not keep the agent's process up; only an answer awaited does.
    this.worker.unref();
  }

  add(path: string, o: CheckpointOptions): Checkpoints {
    if (this.databases.has(path)) throw new Error(`${path}: its checkpoints are already on the thread`);
    const db: Database = { onFailure: o.onFailure };
    this.databases.set(path, db);
    this.worker.postMessage({ type: 'add', path, everyMs: o.everyMs ?? CHECKPOINT_EVERY_MS } satisfies CheckpointRequest);
    const stopped = `the checkpoint thread of ${path}: stopped`;
    return {
      checkpoint: async () => {
        if (db.failed !== undefined) throw new Error(db.failed);
        if (this.databases.get(path) !== db) throw new Error(stopped);
        return (await this.ask(path, (id) => ({ type: 'now', path, id })))!;
      },
      stop: async () => {
        if (this.databases.get(path) !== db) return;
        this.databases.delete(path);
        for (const [id, w] of this.waiting) if (w.path === path) this.settle(id)?.reject(new Error(stopped));
        if (db.failed === undefined) await this.ask(path, (id) => ({ type: 'remove', path, id })).catch(() => undefined);
        if (this.databases.size === 0 && this.waiting.size === 0) {
          this.onEmpty();
          this.worker.postMessage({ type: 'exit' } satisfies CheckpointRequest);
        }
      },
    };
  }

  private ask(path: string, request: (id: number) => CheckpointRequest): Promise<CheckpointResult | undefined> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { path, resolve, reject });
      this.worker.ref();
      this.worker.postMessage(request(id));
    });
  }

  private settle(id: number): Waiter | undefined {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    return waiter;
  }

  private fail(path: string, message: string): void {
    const db = this.databases.get(path);
    if (db === undefined || db.failed !== undefined) return;
    db.failed = `the checkpoint thread of ${path}: ${message}`;
    for (const [id, w] of this.waiting) if (w.path === path) this.settle(id)?.reject(new Error(db.failed));
    db.onFailure(db.failed);
  }
}

let shared: CheckpointThread | undefined;

/** `path`'s checkpoints on the process's checkpoint thread (started with the first database, ended with the last). */
export function checkpointOnThread(path: string, o: CheckpointOptions): Checkpoints {
  const thread = shared ?? new CheckpointThread(() => { if (shared === thread) shared = undefined; });
  shared = thread;
  return thread.add(path, o);
}

/** SQLite's own default: a commit that leaves this many pages in the WAL checkpoints it. */
const AUTOCHECKPOINT_PAGES = 1000;

/** A connection's database checkpointed on the thread, the connection told not to, and told to again if the thread fails. */
export function checkpointsOf(db: { readonly name: string; readonly open: boolean; pragma(source: string): unknown }, everyMs: number | undefined,
  onFailure: (why: string) => void): Checkpoints {
  db.pragma('wal_autocheckpoint = 0');
  return checkpointOnThread(db.name, {
    ...(everyMs === undefined ? {} : { everyMs }),
    onFailure: (why) => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      onFailure(why);
    },
  });
}
