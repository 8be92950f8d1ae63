// A node's mirror state file (mirror-state.ts): what it refuses to load and why, that saves land whole and in the
// order asked, and that saving never holds the agent's event loop (its heartbeats and its guard's ticks) while
// the disk flushes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGlobs } from '../../../agent/replication/glob.js';
import { INITIAL_STATE, loadMirrorState, MirrorStateError, MirrorStateFile, type MirrorNodeState } from '../../../agent/replication/mirror-state.js';
import { MirrorTarget } from '../../../agent/replication/target.js';
import { MIRROR } from './transport-helpers.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mirror-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const STATE: MirrorNodeState = { ...INITIAL_STATE, lineage: { current: 'b7', history: ['a1', '0'] }, lastApplied: 42, streamOf: 'alpha', pausedTarget: true };

/**
 * Settles `work` and says whether the event loop reached its check phase (a setImmediate ran) before it did. A
 * save done synchronously, even inside an async function, settles first: its promise resolves in a microtask.
 */
async function loopTurnedDuring(work: () => Promise<unknown>): Promise<boolean> {
  let turned = false;
  const immediate = setImmediate(() => { turned = true; });
  let turnedBeforeSettled: boolean | undefined;
  await work().finally(() => { turnedBeforeSettled = turned; });
  clearImmediate(immediate);
  return turnedBeforeSettled === true;
}

test('a saved state loads back as saved, readable by its owner only; a missing file is the initial state', async (t) => {
  const file = join(tempDir(t), 'mirrors', 'data', 'state.json');
  assert.deepEqual(loadMirrorState(file), INITIAL_STATE);
  await new MirrorStateFile(file).save(STATE);
  assert.deepEqual(loadMirrorState(file), STATE);
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test('a state file that is not JSON, or holds a wrong or unknown field, is refused naming the file and the field', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.json');
  const refused = (text: string, expected: RegExp): void => {
    writeFileSync(file, text);
    assert.throws(() => loadMirrorState(file), (e: unknown) => e instanceof MirrorStateError && e.message.startsWith(`${file}: `) && expected.test(e.message), text);
  };
  refused('{"lineage": ', /not JSON .*the mirror will not guess its generation/);
  refused(JSON.stringify({ ...STATE, lastApplied: -1 }), /lastApplied: /);
  refused(JSON.stringify({ ...STATE, lineage: { current: '', history: [] } }), /lineage\.current: /);
  refused(JSON.stringify({ ...STATE, consistent: 'yes' }), /consistent: /);
  refused(JSON.stringify({ ...STATE, generation: 7 }), /\(root\): .*generation/);
  // A folder where the file should be: an error naming it, not the initial state (which would forget the lineage).
  const folder = join(dir, 'folder.json');
  mkdirSync(folder);
  assert.throws(() => loadMirrorState(folder), (e: unknown) => e instanceof MirrorStateError && e.message.startsWith(`${folder}: `));
});

test('saves asked one after another without waiting land in that order: the file ends with the newest', async (t) => {
  const file = join(tempDir(t), 'state.json');
  const states = new MirrorStateFile(file);
  const saves: Promise<void>[] = [];
  for (let seq = 1; seq <= 40; seq++) saves.push(states.save({ ...STATE, lastApplied: seq }));
  await Promise.all(saves);
  assert.equal(loadMirrorState(file).lastApplied, 40);
});

test('a save that fails rejects its caller, and the next save still lands', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.json');
  const states = new MirrorStateFile(file);
  await states.save(STATE);
  // The temp file's name taken by a folder: this save cannot write.
  mkdirSync(`${file}.tmp`);
  await assert.rejects(states.save({ ...STATE, lastApplied: 1 }), /EISDIR|illegal operation on a directory/);
  assert.equal(loadMirrorState(file).lastApplied, 42, 'the file still holds the last state saved');
  rmSync(`${file}.tmp`, { recursive: true });
  await states.save({ ...STATE, lastApplied: 2 });
  assert.equal(loadMirrorState(file).lastApplied, 2);
});

test('a save leaves the event loop turning while it writes and flushes', async (t) => {
  const file = join(tempDir(t), 'state.json');
  const states = new MirrorStateFile(file);
  assert.ok(await loopTurnedDuring(() => states.save(STATE)), 'the event loop stood still until the state was on disk');
  assert.deepEqual(loadMirrorState(file), STATE);
});

test('the target saves what a source\'s hello, a reset and the resync\'s end change without holding the event loop', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-mirror-state-'));
  const dst = join(base, 'dst');
  const stateFile = join(base, 'state.json');
  const target = new MirrorTarget({
    id: MIRROR, folders: [dst], filter: compileGlobs([], []), stateFile, spoolDir: join(base, 'spool'), spoolBytes: 1024 * 1024,
    applyOwner: false, state: INITIAL_STATE, log: () => undefined,
  }, INITIAL_STATE);
  await target.open();
  // One hook: node runs them in the order added, and the target writes its state as it closes.
  t.after(async () => {
    await target.close();
    rmSync(base, { recursive: true, force: true });
  });
  const onDisk = (): MirrorNodeState => JSON.parse(readFileSync(stateFile, 'utf8')) as MirrorNodeState;

  assert.ok(await loopTurnedDuring(() => target.hello({ node: 'alpha', lineage: { current: 'a1', history: ['0'] } })), 'hello held the event loop');
  assert.equal(onDisk().streamOf, 'alpha', 'on disk once hello settled');
  assert.ok(await loopTurnedDuring(() => target.resetStream(0)), 'the reset held the event loop');
  assert.equal(onDisk().consistent, false);
  assert.ok(await loopTurnedDuring(() => target.resyncDone({ current: 'a1', history: ['0'] })), 'the resync\'s end held the event loop');
  assert.deepEqual({ consistent: onDisk().consistent, lineage: onDisk().lineage }, { consistent: true, lineage: { current: 'a1', history: ['0'] } });
});
