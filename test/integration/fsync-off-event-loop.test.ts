// No fsync on the agent's event loop from its two SQLite databases, watched with strace on a real process: the
// event store's commits and the configuration history's prepare and commit leave their frames in the write-ahead
// log, the history is flushed by durable() on libuv's threads, and checkpoints run on the checkpoint thread, which
// also starts the log over after a checkpoint that emptied it (the header's fsync). One fsync on the event loop took
// 0.6 s on a disk busy with a resync's writes (docs/replication.md, "The state file"), the log's header 0.38 s.
// Nor does the target create its listing's due mark there, right after a resync's writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const moduleUrl = (path: string): string => JSON.stringify(pathToFileURL(join(import.meta.dirname, '../..', path)).href);

/** Enough of both that SQLite's automatic checkpoint (1,000 pages of log) would have run on the caller's thread. */
const EVENTS = 1500;
const VERSIONS = 100;
const VERSION_BYTES = 20_000;

/** The child: opens both databases as the agent does, marks the window by access() of a named path, writes in it. */
function script(dir: string): string {
  return `import { existsSync } from 'node:fs';
import { StateStore } from ${moduleUrl('agent/store/state-store.js')};
import { ConfigHistory, digestOf } from ${moduleUrl('agent/config-sync/history.js')};
const dir = ${JSON.stringify(dir)};
const fail = (line) => { console.error(line); process.exit(3); };
const store = StateStore.open(dir + '/state.db');
const checkpoints = store.checkpointOnThread(fail, 3_600_000);
const history = ConfigHistory.open(dir + '/history.db', { bootstrapText: 'generation 1', bootstrapAuthor: 'node:alpha', log: fail });
existsSync(dir + '/vigil-mark-begin');
const message = 'x'.repeat(4000);
for (let i = 0; i < ${EVENTS}; i++) store.appendEvent({ at: i, kind: 'fault', severity: 'info', node: 'alpha', message: i + ' ' + message });
for (let generation = 2; generation < ${VERSIONS + 2}; generation++) {
  const text = '# generation ' + generation + '\\n' + 'y'.repeat(${VERSION_BYTES});
  const version = { generation, text, digest: digestOf(text), author: 'admin', at: generation, comment: '', parent: generation - 1 };
  history.prepare(version, { coordinator: 'alpha', expiresAt: Date.now() + 60_000 });
  await history.durable();
  history.commit(version);
  await history.durable();
}
const done = await checkpoints.checkpoint();
// The checkpoint copied the whole log: the next writer starts it over, fsyncing its header (the thread is that writer).
for (let i = 0; i < 10; i++) store.appendEvent({ at: ${EVENTS} + i, kind: 'fault', severity: 'info', node: 'alpha', message: 'after the checkpoint' });
existsSync(dir + '/vigil-mark-end');
history.close();
store.close();
console.log(JSON.stringify({ pid: process.pid, checkpointed: done.checkpointed, generation: history.current().generation }));`;
}

interface Sync { readonly tid: number; readonly call: string; readonly file: string }

/** The fsync and fdatasync calls strace saw between the child's two marks, with the thread and file of each. */
function syncsInWindow(trace: string): Sync[] {
  const syncs: Sync[] = [];
  let inWindow = false;
  for (const line of trace.split('\n')) {
    if (line.includes('vigil-mark-begin')) inWindow = true;
    else if (line.includes('vigil-mark-end')) return syncs;
    // "1234 1700000000.123456 fdatasync(21</tmp/x/history.db-wal>) = 0", or the same cut by "<unfinished ...>".
    const call = /^(\d+) +[\d.]+ (fsync|fdatasync)\(\d+<([^>]*)>/.exec(line);
    if (inWindow && call !== null) syncs.push({ tid: Number(call[1]), call: call[2]!, file: call[3]! });
  }
  throw new Error(`the child's marks are not both in the trace (began: ${inWindow})`);
}

test('the event store and the configuration history never fsync on the event loop; libuv\'s threads and the checkpoint thread do', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fsync-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tracePath = join(dir, 'trace');
  // A file, not --eval: a worker inherits the process's flags, and --input-type is refused without --eval.
  const child = join(dir, 'child.mjs');
  writeFileSync(child, script(dir));
  const r = spawnSync('strace', ['-f', '-y', '-ttt', '-e', 'trace=fsync,fdatasync,access', '-o', tracePath, process.execPath, child],
    { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`);
  const ran = JSON.parse(r.stdout) as { pid: number; checkpointed: number; generation: number };
  assert.equal(ran.generation, VERSIONS + 1);
  assert.ok(ran.checkpointed > 1000, `the thread's checkpoint copied ${ran.checkpointed} frames`);

  const syncs = syncsInWindow(readFileSync(tracePath, 'utf8'));
  const onEventLoop = syncs.filter((s) => s.tid === ran.pid);
  assert.deepEqual(onEventLoop, [], 'fsync on the event loop');
  const elsewhere = (file: string, call?: string): Sync[] => syncs.filter((s) => s.tid !== ran.pid && s.file === join(dir, file) && (call === undefined || s.call === call));
  // Each prepare and each commit was flushed by durable().
  assert.ok(elsewhere('history.db-wal', 'fdatasync').length >= 2 * VERSIONS, JSON.stringify(syncs.slice(0, 20)));
  assert.ok(elsewhere('state.db').length > 0, `the state store's checkpoint synced its database on another thread: ${JSON.stringify(syncs.slice(0, 20))}`);
});

test('the target\'s mark that a background listing is due is created on libuv\'s threads, not on the event loop', (t) => {
  // Right after a resync wrote a gigabyte, creating a file can wait for ext4's journal: on the event loop, as the
  // state file's fsync did, that would stall the agent and its heartbeats.
  const dir = mkdtempSync(join(tmpdir(), 'vigil-due-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tracePath = join(dir, 'trace');
  const child = join(dir, 'child.mjs');
  writeFileSync(child, `import { ListingIndex } from ${moduleUrl('agent/replication/listing-index.js')};
const index = new ListingIndex(${JSON.stringify(join(dir, 'target-listing.index'))}, console.error);
const marked = index.markDue();
console.log(JSON.stringify({ pid: process.pid, dueAtOnce: index.due }));
await marked;`);
  const r = spawnSync('strace', ['-f', '-y', '-e', 'trace=openat', '-o', tracePath, process.execPath, child], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`);
  const ran = JSON.parse(r.stdout) as { pid: number; dueAtOnce: boolean };
  assert.equal(ran.dueAtOnce, true, 'due as soon as marked');
  // "1234 openat(AT_FDCWD</x>, "/x/target-listing.index.due", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 21</x/...>"
  const creates = readFileSync(tracePath, 'utf8').split('\n').filter((line) => line.includes('target-listing.index.due"') && line.includes('O_CREAT'))
    .map((line) => Number(/^(\d+) /.exec(line)?.[1]));
  assert.equal(creates.length, 1, readFileSync(tracePath, 'utf8').slice(-2000));
  assert.notEqual(creates[0], ran.pid, 'created on the event loop');
});
