/**
 * The thread behind checkpoint-thread.ts: its own connection to the database, which checkpoints the write-ahead
 * log on a timer and when asked, so that the fsyncs of a checkpoint block this thread, not the agent's event loop.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointReply, CheckpointRequest, CheckpointResult } from './checkpoint-thread.js';

const { path, everyMs } = workerData as { readonly path: string; readonly everyMs: number };
const port = parentPort!;
const reply = (r: CheckpointReply): void => port.postMessage(r);

let db: Database.Database | undefined;
let timer: NodeJS.Timeout | undefined;

function checkpoint(): CheckpointResult {
  // PASSIVE: copies what no reader still needs, without waiting for readers or writers.
  const [row] = db!.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
  return { busy: row!.busy !== 0, log: row!.log, checkpointed: row!.checkpointed };
}

function stop(): void {
  if (timer !== undefined) clearInterval(timer);
  db?.close();
  port.close();
}

try {
  db = new Database(path, { fileMustExist: true });
  if ((db.pragma('journal_mode', { simple: true }) as string) !== 'wal') throw new Error('not in WAL mode');
  // A reader or writer of the agent's holds a lock for microseconds: waiting a little beats a checkpoint skipped.
  db.pragma('busy_timeout = 1000');
  timer = setInterval(() => {
    try {
      checkpoint();
    } catch (e) {
      reply({ type: 'failed', message: (e as Error).message });
      stop();
    }
  }, everyMs);
} catch (e) {
  reply({ type: 'failed', message: (e as Error).message });
  stop();
}

port.on('message', (request: CheckpointRequest) => {
  if (request.type === 'stop') return stop();
  try {
    reply({ type: 'done', id: request.id, result: checkpoint() });
  } catch (e) {
    reply({ type: 'failed', message: (e as Error).message });
    stop();
  }
});
