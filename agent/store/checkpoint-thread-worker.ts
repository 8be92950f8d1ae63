/**
 * The thread behind checkpoint-thread.ts: its own connection to each database, which checkpoints the write-ahead
 * log on a timer and when asked, so that the fsyncs of a checkpoint block this thread, not the agent's event loop.
 */
import Database from 'better-sqlite3';
import { parentPort } from 'node:worker_threads';
import type { CheckpointReply, CheckpointRequest, CheckpointResult } from './checkpoint-thread.js';

const port = parentPort!;
const reply = (r: CheckpointReply): void => port.postMessage(r);
/** `quiet`: the database's data_version when this thread last wrote; unchanged, nobody else has written since. */
interface Open { readonly db: Database.Database; readonly timer: NodeJS.Timeout; quiet: number | undefined }
const open = new Map<string, Open>();

function checkpoint(path: string): CheckpointResult {
  const entry = open.get(path)!;
  const db = entry.db;
  // PASSIVE: copies what no reader still needs, without waiting for readers or writers.
  const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
  const result = { busy: row!.busy !== 0, log: row!.log, checkpointed: row!.checkpointed };
  if (result.log > 0 && result.checkpointed === result.log) startNextRound(entry);
  return result;
}

const dataVersion = (db: Database.Database): number => db.pragma('data_version', { simple: true }) as number;

/**
 * After a checkpoint that copied the whole log, SQLite's next writer starts the log over and, at synchronous =
 * NORMAL, fsyncs its new header: on the agent's event loop, had the agent's commit been that writer (0.38 s once,
 * under a resync's writeback, and the guard took the agent for frozen). This thread is that writer: it writes the
 * database's user_version as it stands, which changes nothing but starts the next round of the log here. Until
 * someone else writes, the next timer's checkpoint is skipped, or it would copy this write and leave the log whole
 * again. An agent's commit made in the microseconds between the checkpoint and this write pays that fsync itself;
 * an event appended while this write holds the lock is kept and written once it is free (state-store.ts), while
 * the state store's other writes wait for it. If this write cannot have the lock within this connection's busy
 * timeout, the agent's next commit starts the round, as before.
 */
function startNextRound(entry: Open): void {
  try {
    entry.db.transaction(() => {
      const version = entry.db.pragma('user_version', { simple: true }) as number;
      entry.db.pragma(`user_version = ${version}`);
    }).immediate();
    entry.quiet = dataVersion(entry.db);
  } catch {
    entry.quiet = undefined;
  }
}

function close(path: string): void {
  const entry = open.get(path);
  if (entry === undefined) return;
  open.delete(path);
  clearInterval(entry.timer);
  entry.db.close();
}

/** A database this thread cannot checkpoint is given back: its own connection checkpoints again. */
function failed(path: string, e: unknown): void {
  close(path);
  reply({ type: 'failed', path, message: (e as Error).message });
}

function add(path: string, everyMs: number): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    if ((db.pragma('journal_mode', { simple: true }) as string) !== 'wal') throw new Error('not in WAL mode');
    // A reader or writer of the agent's holds a lock for microseconds: waiting a little beats a checkpoint skipped.
    db.pragma('busy_timeout = 1000');
  } catch (e) {
    db?.close();
    reply({ type: 'failed', path, message: (e as Error).message });
    return;
  }
  const timer = setInterval(() => {
    try {
      const entry = open.get(path);
      if (entry !== undefined && entry.quiet !== dataVersion(entry.db)) checkpoint(path);
    } catch (e) {
      failed(path, e);
    }
  }, everyMs);
  open.set(path, { db, timer, quiet: undefined });
}

port.on('message', (request: CheckpointRequest) => {
  switch (request.type) {
    case 'add': return add(request.path, request.everyMs);
    case 'now':
      if (!open.has(request.path)) return;
      try {
        reply({ type: 'done', id: request.id, result: checkpoint(request.path) });
      } catch (e) {
        failed(request.path, e);
      }
      return;
    case 'remove':
      close(request.path);
      return reply({ type: 'done', id: request.id });
    case 'exit':
      for (const path of [...open.keys()]) close(path);
      port.close();
  }
});
