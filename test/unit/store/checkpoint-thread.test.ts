// The state store's WAL checkpoints on a thread of their own (checkpoint-thread.ts), on real SQLite files: the
// agent's connection never checkpoints (whose fsync could stall its event loop), the thread does, when asked and on
// its timer; a thread that cannot says why and the agent's commits take it over again; it never keeps a process up.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkpointOnThread } from '../../../agent/store/checkpoint-thread.js';
import { StateStore } from '../../../agent/store/state-store.js';

const MiB = 1024 * 1024;
/** Enough events that SQLite's automatic checkpoint (1,000 pages of WAL) would have run several times. */
const EVENTS = 1500;
const HOUR = 3_600_000;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-checkpoint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** About 6 MiB of events, a commit each, as the agent writes them. */
function writeEvents(store: StateStore): void {
  const message = 'x'.repeat(4000);
  for (let i = 0; i < EVENTS; i++) store.appendEvent({ at: i, kind: 'fault', severity: 'info', node: 'alpha', message: `${i} ${message}` });
}

const size = (path: string): number => statSync(path).size;

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !check();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A store at `path` whose thread checkpoints every 50 ms, once its timer has copied the events written into it. */
async function checkpointedOnTimer(t: TestContext, path: string): Promise<StateStore> {
  const store = StateStore.open(path);
  t.after(() => store.close());
  store.checkpointOnThread((line) => assert.fail(line), 50);
  writeEvents(store);
  await until('the timer\'s checkpoint', () => size(path) > 5 * MiB, 10_000);
  return store;
}

test('the agent\'s connection never checkpoints: the thread copies the log into the database when asked, and on its timer', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'state.db');
  const store = StateStore.open(path);
  t.after(() => store.close());
  const thread = store.checkpointOnThread((line) => assert.fail(line), HOUR);
  writeEvents(store);
  assert.ok(size(path) < MiB, `the database holds ${size(path)} bytes: the agent's commits checkpointed`);
  assert.ok(size(`${path}-wal`) > 4 * MiB);
  const done = await thread.checkpoint();
  assert.equal(done.busy, false);
  assert.ok(done.log > 1000, JSON.stringify(done));
  assert.equal(done.checkpointed, done.log);
  assert.ok(size(path) > 5 * MiB, 'the events are in the database now');
  assert.equal(store.queryEvents({ limit: 10_000 }).length, EVENTS);

  // On its own timer.
  await checkpointedOnTimer(t, join(dir, 'other.db'));
  await thread.stop();
  await assert.rejects(thread.checkpoint(), /ended|stop/);
});

test('a thread that cannot checkpoint says why, naming the file, and the agent\'s commits checkpoint again', async (t) => {
  const dir = tempDir(t);
  const notDb = join(dir, 'notes.db');
  writeFileSync(notDb, 'these are notes, not a database\n'.repeat(200));
  const failures: string[] = [];
  const thread = checkpointOnThread(notDb, { everyMs: HOUR, onFailure: (why) => failures.push(why) });
  await until('the failure', () => failures.length > 0, 10_000);
  assert.match(failures[0]!, new RegExp(`^the checkpoint thread of ${notDb}: file is not a database$`));
  await assert.rejects(thread.checkpoint(), /file is not a database/);

  // The store's own thread cannot open its file (moved away once the store had it open): its commits take over.
  const path = join(dir, 'state.db');
  const store = StateStore.open(path);
  t.after(() => store.close());
  const moved = join(dir, 'moved.db');
  renameSync(path, moved);
  renameSync(`${path}-wal`, `${moved}-wal`);
  renameSync(`${path}-shm`, `${moved}-shm`);
  const lines: string[] = [];
  store.checkpointOnThread((line) => lines.push(line), HOUR);
  await until('the fallback', () => lines.length > 0, 10_000);
  assert.match(lines[0]!, /^the checkpoint thread of .*state\.db: unable to open database file: the state store's commits checkpoint it again$/);
  writeEvents(store);
  assert.ok(size(moved) > 4 * MiB, 'the agent\'s commits checkpointed');
});

test('the thread never keeps the agent\'s process up', (t) => {
  const dir = tempDir(t);
  const storeModule = pathToFileURL(join(import.meta.dirname, '../../../agent/store/state-store.js')).href;
  // A file, not --eval: a worker inherits the process's flags, and --input-type without --eval ends it at once.
  const script = join(dir, 'child.mjs');
  writeFileSync(script, `import { statSync } from 'node:fs';
import { StateStore } from ${JSON.stringify(storeModule)};
const path = ${JSON.stringify(join(dir, 'state.db'))};
const store = StateStore.open(path);
store.checkpointOnThread(console.log, 100);
const message = 'x'.repeat(4000);
for (let i = 0; i < ${EVENTS}; i++) store.appendEvent({ at: i, kind: 'fault', severity: 'info', node: 'alpha', message });
setTimeout(() => console.log('database', statSync(path).size > ${5 * MiB} ? 'checkpointed' : 'not checkpointed'), 2000);`);
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, null, 'ended by itself, not by the timeout');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'database checkpointed\n', 'by the thread\'s timer');
});

test('after a checkpoint that emptied the log the thread starts it over itself, once, and leaves a quiet database alone', async (t) => {
  const dir = tempDir(t);
  const header = (path: string): string => readFileSync(`${path}-wal`).subarray(0, 32).toString('hex');
  // Asked: the checkpoint copies the whole log, and the thread's own write starts it over (the header rewritten
  // with new salts), so that the agent's next commit does not.
  const asked = join(dir, 'asked.db');
  const store = StateStore.open(asked);
  t.after(() => store.close());
  const thread = store.checkpointOnThread((line) => assert.fail(line), HOUR);
  writeEvents(store);
  const full = header(asked);
  const done = await thread.checkpoint();
  assert.equal(done.checkpointed, done.log);
  assert.notEqual(header(asked), full, 'the log was started over by the thread');

  // On its timer: once, and then nothing while nobody writes (a checkpoint of the thread's own write would start
  // the log over again every period, with its fsyncs).
  const timed = join(dir, 'timed.db');
  const other = await checkpointedOnTimer(t, timed);
  await new Promise((r) => setTimeout(r, 300));
  const stamp = (): string => `${statSync(timed).mtimeMs} ${statSync(`${timed}-wal`).mtimeMs} ${header(timed)}`;
  const quiet = stamp();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(stamp(), quiet, 'ten periods without a write touched neither file');
  // A write of the agent's joins the round the thread started; the next checkpoint copies it and starts another.
  // The round is read before the write: the thread runs beside this one, and may start the next round at once.
  const before = header(timed);
  other.appendEvent({ at: 1, kind: 'fault', severity: 'info', node: 'alpha', message: 'later' });
  await until('the next round', () => header(timed) !== before, 10_000);
  assert.equal(other.queryEvents({ limit: 10_000 }).length, EVENTS + 1);
});
