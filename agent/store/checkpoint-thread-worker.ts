/**
 * The thread behind checkpoint-thread.ts: its own connection to each database, which checkpoints the write-ahead
 * log on a timer and when asked, so that the fsyncs of a checkpoint block this thread, not the agent's event loop.
 */
import Database from 'better-sqlite3';
import { parentPort } from 'node:worker_threads';
import type { CheckpointReply, CheckpointRequest, CheckpointResult } from './checkpoint-thread.js';

const port = parentPort!;
const reply = (r: CheckpointReply): void => port.postMessage(r);
const open = new Map<string, { readonly db: Database.Database; readonly timer: NodeJS.Timeout }>();

function checkpoint(path: string): CheckpointResult {
  // PASSIVE: copies what no reader still needs, without waiting for readers or writers.
  const [row] = open.get(path)!.db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
  return { busy: row!.busy !== 0, log: row!.log, checkpointed: row!.checkpointed };
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
      checkpoint(path);
    } catch (e) {
      failed(path, e);
    }
  }, everyMs);
  open.set(path, { db, timer });
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
