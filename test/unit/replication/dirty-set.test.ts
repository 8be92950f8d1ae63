import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DirtySet, DirtySetError } from '../../../agent/replication/dirty-set.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dirty-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('paths added, deleted and saved are there after reopening', async (t) => {
  const file = join(tempDir(t), 'state', 'dirty.json');
  const dirty = await DirtySet.open(file);
  assert.equal(dirty.size, 0);
  dirty.add('www/index.html');
  dirty.addAll(['db/data.bin', 'www/index.html', 'a b/ü\nnewline']);
  dirty.delete('db/data.bin');
  dirty.delete('never/added');
  assert.equal(dirty.size, 2);
  assert.ok(dirty.has('www/index.html'));
  assert.ok(!dirty.has('db/data.bin'));
  await dirty.save();

  const reopened = await DirtySet.open(file);
  assert.deepEqual(reopened.paths(), ['a b/ü\nnewline', 'www/index.html']);
  assert.equal(reopened.all, undefined);
  await reopened.clear();
  assert.equal((await DirtySet.open(file)).size, 0, 'clear() is persisted');
});

test('changes not saved are not on disk: save() is what persists', async (t) => {
  const file = join(tempDir(t), 'dirty.json');
  const dirty = await DirtySet.open(file);
  dirty.add('saved');
  await dirty.save();
  dirty.add('unsaved');
  assert.deepEqual((await DirtySet.open(file)).paths(), ['saved']);
});

test('markAll: everything is dirty, with the reason, across a reopen, until cleared', async (t) => {
  const file = join(tempDir(t), 'dirty.json');
  const dirty = await DirtySet.open(file);
  dirty.add('a');
  dirty.markAll('journal full at seq 1234');
  dirty.markAll('a later reason');
  assert.deepEqual(dirty.all, { reason: 'journal full at seq 1234' }, 'the first reason says when tracking was lost');
  assert.ok(dirty.has('anything/at/all'));
  dirty.add('b');
  assert.deepEqual(dirty.paths(), [], 'the whole-tree resync covers every path');
  await dirty.save();

  const reopened = await DirtySet.open(file);
  assert.deepEqual(reopened.all, { reason: 'journal full at seq 1234' });
  assert.ok(reopened.has('x'));
  await reopened.clear();
  assert.equal(reopened.all, undefined);
  reopened.add('after');
  assert.ok(!reopened.has('x'));
  const cleared = await DirtySet.open(file);
  assert.equal(cleared.all, undefined);
  assert.deepEqual(cleared.paths(), []);
});

test('paths that are not relative posix paths are refused, naming the path', async (t) => {
  const dirty = await DirtySet.open(join(tempDir(t), 'dirty.json'));
  for (const [path, why] of [['', /empty/], ['/etc/passwd', /absolute/], ['a//b', /empty segment/], ['a/', /empty segment/], ['a/../b', /"\.\." segment/], ['./a', /"\." segment/], ['a\0b', /NUL/]] as const) {
    assert.throws(() => dirty.add(path), (e: unknown) => e instanceof DirtySetError && e.code === 'VIGIL_DIRTY_PATH_INVALID' && why.test(e.message) && e.message.includes(JSON.stringify(path)));
  }
  assert.throws(() => dirty.addAll(['ok', '/bad']), /"\/bad"/);
});

test('a damaged file is refused with the file named; a leftover temp file is ignored', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'dirty.json');
  const dirty = await DirtySet.open(file);
  dirty.add('kept');
  await dirty.save();
  writeFileSync(`${file}.tmp`, '{"version":1,"all":null,"paths":["half');
  assert.deepEqual((await DirtySet.open(file)).paths(), ['kept']);
  assert.ok(!existsSync(`${file}.tmp`), 'the interrupted save is cleaned up');

  writeFileSync(file, '{"version":1,"all":null,"paths":["half');
  await assert.rejects(DirtySet.open(file), (e: unknown) => e instanceof DirtySetError && e.code === 'VIGIL_DIRTY_SET_CORRUPT' && e.message.startsWith(`${file}: not JSON`));
  writeFileSync(file, JSON.stringify({ version: 1, all: null, paths: ['ok', '../escape'] }));
  await assert.rejects(DirtySet.open(file), /paths\.1: dirty path "\.\.\/escape"/);
  writeFileSync(file, JSON.stringify({ version: 2, all: null, paths: [] }));
  await assert.rejects(DirtySet.open(file), /version/);
});

test('saves run in call order: the last one called is what is on disk', async (t) => {
  const file = join(tempDir(t), 'dirty.json');
  const dirty = await DirtySet.open(file);
  const saves: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) {
    dirty.add(`p${i}`);
    saves.push(dirty.save());
  }
  await Promise.all(saves);
  assert.equal((await DirtySet.open(file)).size, 20);
});

// A child that saves two large sets in turn, as fast as it can, until it is killed.
const SAVER = `
import { DirtySet } from ${JSON.stringify(new URL('../../../agent/replication/dirty-set.js', import.meta.url).href)};
const set = await DirtySet.open(process.argv[1]);
for (let round = 0; ; round++) {
  const name = round % 2 === 0 ? 'old' : 'new';
  for (const path of set.paths()) set.delete(path);
  set.addAll(Array.from({ length: 20000 }, (_, i) => name + '/dir' + (i % 50) + '/file-' + i));
  await set.save();
  process.stdout.write('saved ' + round + '\\n');
}
`;

test('kill -9 during save leaves the old or the new set, never a mix', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'dirty.json');
  for (let kill = 0; kill < 5; kill++) {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', SAVER, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
    let saved = 0;
    // Killed the moment a save touches the folder (inotify), so the kill lands while a file is being written;
    // once (the last round) between saves instead.
    const watcher = watch(dir, () => { if (saved >= 2 && kill < 4 && proc.signalCode === null) proc.kill('SIGKILL'); });
    t.after(() => watcher.close());
    for await (const line of createInterface({ input: proc.stdout })) {
      if (line.startsWith('saved ')) saved++;
      if (saved >= 3 && kill === 4 && proc.signalCode === null) proc.kill('SIGKILL');
    }
    watcher.close();
    assert.equal(await exited, 'SIGKILL');

    const text = readFileSync(file, 'utf8');
    const set = await DirtySet.open(file);
    const paths = set.paths();
    const whole = paths.length === 20000 && (paths.every((p) => p.startsWith('old/')) || paths.every((p) => p.startsWith('new/')));
    assert.ok(whole, `after kill ${kill}: ${paths.length} paths, all=${JSON.stringify(set.all)}, file of ${text.length} chars`);
  }
});
