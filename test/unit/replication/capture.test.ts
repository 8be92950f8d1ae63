// Capture against real folders and a real inotifywait (Debian's inotify-tools). No timing thresholds: tests wait
// for conditions with generous timeouts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capture, CaptureError, inotifywaitFactory, type CaptureEvent, type CaptureOptions } from '../../../agent/replication/capture.js';

const haveInotifywait = spawnSync('inotifywait', ['--help']).error === undefined;
const skip = haveInotifywait ? false : 'inotifywait (inotify-tools) is not installed';

interface Recorder {
  readonly events: CaptureEvent[];
  readonly overflows: { root: string; reason: string }[];
  /** The hints seen for a path, in order. */
  hints(path: string): string[];
  until(what: string, condition: () => boolean, timeoutMs?: number): Promise<void>;
}

function recorder(): Recorder {
  const events: CaptureEvent[] = [];
  const overflows: { root: string; reason: string }[] = [];
  return {
    events, overflows,
    hints: (path) => events.filter((e) => e.path === path).map((e) => e.hint),
    async until(what, condition, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; overflows: ${JSON.stringify(overflows)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

function tempRoot(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-capture-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  mkdirSync(root);
  return root;
}

async function started(t: TestContext, roots: string[], extra: Partial<CaptureOptions> = {}): Promise<{ capture: Capture; rec: Recorder }> {
  const rec = recorder();
  const capture = new Capture({
    roots, onEvents: (batch) => { rec.events.push(...batch); }, onOverflow: (root, reason) => rec.overflows.push({ root, reason }), ...extra,
  });
  t.after(() => capture.close());
  await capture.start();
  return { capture, rec };
}

/** Our child inotifywait processes (by parent pid), to prove close() ends them. */
function inotifywaitChildren(): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (stat.includes('(inotifywait)') && Number(fields[1]) === process.pid) pids.push(Number(pid));
    } catch { /* gone */ }
  }
  return pids;
}

function writeFilesInChild(root: string, count: number): Promise<void> {
  const child = spawn(process.execPath, ['-e', `const fs=require('fs');for(let i=0;i<${count};i++)fs.writeFileSync(${JSON.stringify(root)}+'/f'+i,'x')`], { stdio: 'inherit' });
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`)))));
}

test('creates, appends, attribute changes, renames and deletes are reported with their hints', { skip }, async (t) => {
  const root = tempRoot(t);
  mkdirSync(join(root, 'existing'));
  const { rec } = await started(t, [root]);
  writeFileSync(join(root, 'existing/a.txt'), 'one');
  appendFileSync(join(root, 'existing/a.txt'), 'two');
  await rec.until('a.txt created', () => rec.hints('existing/a.txt').length > 0);
  chmodSync(join(root, 'existing/a.txt'), 0o600);
  renameSync(join(root, 'existing/a.txt'), join(root, 'b.txt'));
  mkdirSync(join(root, 'dir'));
  renameSync(join(root, 'dir'), join(root, 'dir2'));
  writeFileSync(join(root, 'gone'), 'x');
  unlinkSync(join(root, 'gone'));
  await rec.until('the rest', () => rec.hints('b.txt').includes('renamed-to') && rec.hints('dir2').includes('renamed-to') && rec.hints('gone').includes('removed'));
  assert.equal(rec.hints('existing/a.txt')[0], 'created');
  assert.ok(rec.hints('existing/a.txt').includes('renamed-from'), JSON.stringify(rec.hints('existing/a.txt')));
  // A folder renamed before inotifywait could watch it is reported for a fresh look ('unknown'): hints are hints.
  assert.ok(rec.hints('dir').some((h) => h === 'renamed-from' || h === 'unknown'), JSON.stringify(rec.hints('dir')));
  assert.ok(rec.events.every((e) => e.root === root && !e.path.startsWith('/')));
  assert.deepEqual(rec.overflows, []);
});

test('the root\'s own mode, owner or attributes changed: reported as the path ""', { skip }, async (t) => {
  const root = tempRoot(t);
  const { rec } = await started(t, [root]);
  chmodSync(root, 0o2770);
  await rec.until('the root\'s chmod', () => rec.hints('').length > 0);
  assert.deepEqual(rec.hints(''), ['changed']);
  rec.events.length = 0;
  execFileSync('setfacl', ['-m', 'g:4244:rwx', root]);
  await rec.until('the root\'s ACL', () => rec.hints('').length > 0);
  assert.deepEqual(rec.overflows, []);
});

test('mkdir -p of deep trees with files written at once: every file is reported', { skip }, async (t) => {
  const root = tempRoot(t);
  const { rec } = await started(t, [root]);
  const expected: string[] = [];
  for (let i = 0; i < 200; i++) {
    const dir = `t${i}/a/b/c/d`;
    mkdirSync(join(root, dir), { recursive: true });
    for (let j = 0; j < 3; j++) {
      writeFileSync(join(root, dir, `f${j}`), 'x');
      expected.push(`${dir}/f${j}`);
    }
  }
  // A tree moved in from outside the root is scanned too.
  const outside = join(root, '..', 'outside');
  mkdirSync(join(outside, 'x/y'), { recursive: true });
  writeFileSync(join(outside, 'x/y/moved-in'), 'x');
  renameSync(outside, join(root, 'arrived'));
  expected.push('arrived/x/y/moved-in');
  const seen = (): Set<string> => new Set(rec.events.map((e) => e.path));
  await rec.until('every file', () => rec.overflows.length > 0 || expected.every((p) => seen().has(p)));
  assert.deepEqual(rec.overflows, []);
  assert.deepEqual(expected.filter((p) => !seen().has(p)), []);
});

test('20k files in a burst: every path is reported, or an overflow is', { skip }, async (t) => {
  const root = tempRoot(t);
  const { rec } = await started(t, [root]);
  const count = 20_000;
  await writeFilesInChild(root, count);
  const seen = new Set<string>();
  let scanned = 0;
  await rec.until('every path or an overflow', () => {
    for (; scanned < rec.events.length; scanned++) seen.add(rec.events[scanned]!.path);
    return seen.size >= count || rec.overflows.length > 0;
  }, 180_000);
  if (rec.overflows.length === 0) for (let i = 0; i < count; i++) assert.ok(seen.has(`f${i}`), `f${i}`);
  else assert.match(rec.overflows[0]!.reason, /queue overflowed/);
  t.diagnostic(rec.overflows.length === 0 ? `all ${count} paths reported` : `overflow after ${seen.size} paths`);
});

test('a burst while our event loop is blocked overflows the kernel queue, and that is reported', { skip }, async (t) => {
  const root = tempRoot(t);
  const { rec } = await started(t, [root]);
  const queue = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
  const count = Math.max(20_000, queue + 5_000);
  // spawnSync blocks this process: inotifywait fills the pipe to us, then the kernel's queue fills behind it.
  const r = spawnSync(process.execPath, ['-e', `const fs=require('fs');for(let i=0;i<${count};i++)fs.writeFileSync(${JSON.stringify(root)}+'/f'+i,'x')`]);
  assert.equal(r.status, 0);
  await rec.until('the overflow', () => rec.overflows.length > 0, 180_000);
  assert.equal(rec.overflows[0]!.root, root);
  assert.match(rec.overflows[0]!.reason, /the kernel inotify queue overflowed/);
});

test('the root removed, or moved away, ends in onOverflow', { skip }, async (t) => {
  const a = tempRoot(t);
  const b = tempRoot(t);
  const { rec } = await started(t, [a, b], { retryMs: 60_000 });
  rmSync(a, { recursive: true });
  renameSync(b, `${b}-moved`);
  t.after(() => rmSync(`${b}-moved`, { recursive: true, force: true }));
  await rec.until('two overflows', () => rec.overflows.length >= 2);
  assert.deepEqual(rec.overflows.map((o) => o.root).sort(), [a, b].sort());
  assert.match(rec.overflows.find((o) => o.root === a)!.reason, new RegExp(`root ${a} was deleted`));
  assert.match(rec.overflows.find((o) => o.root === b)!.reason, new RegExp(`root ${b} was moved away`));
});

test('a root that comes back is watched again, with an overflow so the engine rescans', { skip }, async (t) => {
  const root = tempRoot(t);
  const { rec } = await started(t, [root], { retryMs: 50, maxRetryMs: 200 });
  rmSync(root, { recursive: true });
  await rec.until('the deletion', () => rec.overflows.some((o) => /deleted/.test(o.reason)));
  mkdirSync(root);
  await rec.until('watching again', () => rec.overflows.some((o) => /^watching again after: /.test(o.reason)));
  writeFileSync(join(root, 'after'), 'x');
  await rec.until('an event from the new watch', () => rec.hints('after').length > 0);
});

test('a new folder the watch limit leaves unwatched ends in onOverflow', { skip: skip || (process.getuid?.() !== 0 ? 'needs root for a user namespace' : false) }, async (t) => {
  const root = tempRoot(t);
  mkdirSync(join(root, 'a'));
  // A private user namespace has its own inotify watch limit: lower it there, leaving the host's sysctl alone.
  const wrapper = join(root, '..', 'inotifywait-limited');
  writeFileSync(wrapper, '#!/bin/sh\nexec unshare -U -r sh -c \'echo 2 > /proc/sys/user/max_inotify_watches && exec inotifywait "$@"\' sh "$@"\n', { mode: 0o755 });
  if (spawnSync('unshare', ['-U', '-r', 'true']).status !== 0) return t.skip('user namespaces are not available here');
  const { rec } = await started(t, [root], { watcher: inotifywaitFactory({ command: wrapper }), retryMs: 60_000 });
  mkdirSync(join(root, 'b'));
  await rec.until('the overflow', () => rec.overflows.length > 0);
  assert.match(rec.overflows[0]!.reason, /Couldn't watch new directory .*\/b\/: No space left on device/);
});

test('a watch limit reached at start is reported and retried, not thrown', { skip: skip || (process.getuid?.() !== 0 ? 'needs root for a user namespace' : false) }, async (t) => {
  const root = tempRoot(t);
  for (const d of ['a', 'b', 'c']) mkdirSync(join(root, d));
  const wrapper = join(root, '..', 'inotifywait-limited');
  writeFileSync(wrapper, '#!/bin/sh\nexec unshare -U -r sh -c \'echo 2 > /proc/sys/user/max_inotify_watches && exec inotifywait "$@"\' sh "$@"\n', { mode: 0o755 });
  if (spawnSync('unshare', ['-U', '-r', 'true']).status !== 0) return t.skip('user namespaces are not available here');
  const { rec } = await started(t, [root], { watcher: inotifywaitFactory({ command: wrapper }), retryMs: 20, maxRetryMs: 40 });
  assert.match(rec.overflows[0]?.reason ?? '', /inotify watch limit is reached/);
  await rec.until('a retry', () => rec.overflows.length >= 2);
});

test('the filter drops paths, and scans do not descend into excluded folders', { skip }, async (t) => {
  const root = tempRoot(t);
  const { rec } = await started(t, [root], { filter: (p) => !p.split('/').includes('cache') });
  mkdirSync(join(root, 'cache/deep'), { recursive: true });
  writeFileSync(join(root, 'cache/deep/f'), 'x');
  mkdirSync(join(root, 'kept/cache'), { recursive: true });
  writeFileSync(join(root, 'kept/cache/g'), 'x');
  writeFileSync(join(root, 'kept/h'), 'x');
  writeFileSync(join(root, 'last'), 'x');
  await rec.until('the last file', () => rec.hints('last').length > 0 && rec.hints('kept/h').length > 0);
  assert.deepEqual(rec.events.filter((e) => e.path.split('/').includes('cache')), []);
  // An excluded entry made (or removed) moves its folder's time, which is mirrored: the folder is reported in
  // its place, the root as ''. A write into an excluded file does not move it.
  await rec.until('the root, for its excluded folder', () => rec.hints('').includes('changed'));
  const keptEvents = (): number => rec.hints('kept').length;
  let kept = keptEvents();
  rmSync(join(root, 'kept/cache'), { recursive: true });
  await rec.until('kept, for its excluded folder removed', () => keptEvents() > kept);
  kept = keptEvents();
  writeFileSync(join(root, 'kept/cache'), 'x');
  await rec.until('kept, for its excluded file made', () => keptEvents() > kept);
  const before = rec.events.length;
  appendFileSync(join(root, 'kept/cache'), 'more');
  writeFileSync(join(root, 'after'), 'x');
  await rec.until('the file after', () => rec.hints('after').length > 0);
  assert.deepEqual(rec.events.slice(before).map((e) => e.path), ['after']);
});

test('events of one path are merged while pending: many appends, one event', { skip }, async (t) => {
  const root = tempRoot(t);
  const { rec } = await started(t, [root], { coalesceMs: 600_000, maxBatch: 2 });
  for (let i = 0; i < 100; i++) appendFileSync(join(root, 'log'), `line ${i}\n`);
  // The marker's event comes after every append's: it makes the second pending path and so the batch.
  writeFileSync(join(root, 'marker'), 'x');
  await rec.until('the batch', () => rec.events.length > 0);
  assert.deepEqual(rec.events.slice(0, 2), [{ root, path: 'log', hint: 'created' }, { root, path: 'marker', hint: 'created' }]);
});

test('start refuses a missing root, nested roots and a missing inotifywait, with codes', async (t) => {
  const root = tempRoot(t);
  const make = (o: Partial<CaptureOptions>) => new Capture({ roots: [root], onEvents: () => undefined, onOverflow: () => undefined, ...o });
  assert.throws(() => make({ roots: [root, join(root, 'sub')] }), (e: unknown) => e instanceof CaptureError && e.code === 'VIGIL_CAPTURE_ROOT' && /is inside/.test(e.message));
  const missing = make({ roots: [join(root, 'nope')] });
  await assert.rejects(missing.start(), (e: unknown) => e instanceof CaptureError && e.code === 'VIGIL_CAPTURE_ROOT' && /nope is not a folder/.test(e.message));
  const noTool = make({ watcher: inotifywaitFactory({ command: join(root, 'no-such-inotifywait') }) });
  await assert.rejects(noTool.start(), (e: unknown) => e instanceof CaptureError && e.code === 'VIGIL_CAPTURE_UNAVAILABLE' && /install inotify-tools/.test(e.message));
  assert.deepEqual(inotifywaitChildren(), []);
});

test('close() ends every inotifywait, timer and scan; nothing is reported after it', { skip }, async (t) => {
  const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
  const roots = [tempRoot(t), tempRoot(t)];
  const rec = recorder();
  const capture = new Capture({ roots, onEvents: (b) => { rec.events.push(...b); }, onOverflow: (root, reason) => rec.overflows.push({ root, reason }), retryMs: 60_000 });
  await capture.start();
  assert.equal(inotifywaitChildren().length, 2);
  writeFileSync(join(roots[0]!, 'pending'), 'x');
  await rec.until('an event', () => rec.events.length > 0);
  rmSync(roots[1]!, { recursive: true }); // a pending retry timer, too
  await rec.until('the overflow', () => rec.overflows.length > 0);
  mkdirSync(join(roots[0]!, 'scanning/a/b'), { recursive: true });
  await capture.close();
  assert.deepEqual(inotifywaitChildren(), []);
  const count = rec.events.length + rec.overflows.length;
  writeFileSync(join(roots[0]!, 'after-close'), 'x');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(rec.events.length + rec.overflows.length, count);
  assert.equal(process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length, before, JSON.stringify(process.getActiveResourcesInfo()));
  assert.ok(existsSync(roots[0]!));
});

test('while the consumer is busy with a batch, later events wait and arrive together as the next batch', { skip }, async (t) => {
  const root = tempRoot(t);
  const batches: string[][] = [];
  let release: () => void = () => undefined;
  const capture = new Capture({
    roots: [root],
    onEvents: (batch) => {
      batches.push(batch.map((e) => e.path));
      // The first batch keeps the consumer busy until released; later ones finish at once.
      return batches.length === 1 ? new Promise<void>((r) => { release = r; }) : undefined;
    },
    onOverflow: () => undefined,
  });
  t.after(() => capture.close());
  await capture.start();
  writeFileSync(join(root, 'first'), 'x');
  const rec = recorder();
  await rec.until('the first batch', () => batches.length === 1);
  for (let i = 0; i < 20; i++) writeFileSync(join(root, `later${i}`), 'x');
  // Let inotifywait report every one of them while the consumer is still busy (it takes milliseconds).
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(batches.length, 1, 'nothing is delivered while the consumer is busy');
  release();
  await rec.until('the held events', () => batches.flat().filter((p) => p.startsWith('later')).length === 20);
  // The first file's own later events (its write's close after its create) may come with them.
  assert.equal(new Set(batches[1]!.filter((p) => p !== 'first')).size, 20, `the 20 later files came as one batch: ${JSON.stringify(batches)}`);
});
