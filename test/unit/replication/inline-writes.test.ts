// Where the target writes a record's bytes: inline (a synchronous write on the receiving thread) while that is
// fast and the folder is local, through libuv's pool otherwise. Real files; the clock is a counter the test moves.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InlineWrites, isLocalFileSystem, parseDirtyPages, type DirtyPages } from '../../../agent/replication/inline-writes.js';
import { Applier } from '../../../agent/replication/apply.js';
import { WRITE_PIECE_BYTES } from '../../../agent/util/write-pieces.js';
import { keystream } from '../../support/dataset.js';

/** Few dirty pages, so only the clock decides (the machine's own count varies with whatever else runs). */
const CLEAN: () => DirtyPages = () => ({ dirty: 0, backgroundThreshold: 1000 });

function tempFile(t: TestContext): { path: string; fd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-inline-'));
  const path = join(dir, 'f');
  const fd = openSync(path, 'w+');
  t.after(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, fd };
}

/** A clock that moves `step` ms at each reading (and is put anywhere by `set`): the test decides how long a write took. */
function scriptedClock(): { now: () => number; set: (ms: number) => void; step: (ms: number) => void } {
  let at = 0;
  let perRead = 0;
  return {
    now: () => (at += perRead),
    set: (ms) => { at = ms; },
    step: (ms) => { perRead = ms; },
  };
}

test('file system kinds: local ones (ext4, xfs, btrfs, tmpfs) allow inline writes; NFS, CIFS, FUSE and proc do not', () => {
  for (const local of [0xef53, 0x58465342, 0x9123683e, 0x01021994]) assert.equal(isLocalFileSystem(local), true, local.toString(16));
  for (const remote of [0x6969, 0xff534d42, 0xfe534d42, 0x65735546, 0x9fa0]) assert.equal(isLocalFileSystem(remote), false, remote.toString(16));
  assert.equal(isLocalFileSystem(0xef53n), true, 'statfs may report a bigint');
});

test('forFolder reads the folder\'s file system: allowed on the temp folder, not on /proc nor where it cannot be read', async () => {
  const tmp = await InlineWrites.forFolder(tmpdir());
  assert.equal(tmp.allowed, process.platform === 'linux');
  assert.equal((await InlineWrites.forFolder('/proc')).allowed, false);
  assert.equal((await InlineWrites.forFolder(join(tmpdir(), 'vigil-no-such-folder', 'x'))).allowed, false);
});

test('fast pieces are all written inline; a slow one stops the record there and sends the next writes to the pool for the backoff', (t) => {
  const { path, fd } = tempFile(t);
  const clock = scriptedClock();
  const inline = new InlineWrites({ allowed: true, slowMs: 20, backoffMs: 1000, now: clock.now, dirtyPages: CLEAN });
  const data = keystream('inline', 'test', 0, 0, 4 * WRITE_PIECE_BYTES);

  clock.step(1); // a piece's start and end readings are 1 ms apart
  assert.equal(inline.write(fd, data, 0), data.length);
  assert.deepEqual(inline.stats, { inlinePieces: 4, slowPieces: 0, readingsAboveThreshold: 0 });
  assert.deepEqual(readFileSync(path), data);

  clock.step(30); // now each piece takes 30 ms: the first is written, then the record stops
  assert.equal(inline.write(fd, data, data.length), WRITE_PIECE_BYTES);
  assert.deepEqual(inline.stats, { inlinePieces: 5, slowPieces: 1, readingsAboveThreshold: 0 });
  clock.step(0);
  assert.equal(inline.active, false, 'within the backoff');
  assert.equal(inline.write(fd, data, data.length), 0, 'nothing inline within the backoff');

  clock.set(clock.now() + 1001);
  assert.equal(inline.active, true, 'after the backoff');
  clock.step(1);
  assert.equal(inline.write(fd, data.subarray(WRITE_PIECE_BYTES), data.length + WRITE_PIECE_BYTES), data.length - WRITE_PIECE_BYTES);
  assert.deepEqual(readFileSync(path), Buffer.concat([data, data]));
});

test('dirty pages at the background writeback threshold keep writes off this thread until they drop, read again every 16 MiB or 100 ms', (t) => {
  const { path, fd } = tempFile(t);
  const clock = scriptedClock();
  let pages: DirtyPages | undefined = { dirty: 500, backgroundThreshold: 1000 };
  let readings = 0;
  const inline = new InlineWrites({ allowed: true, now: clock.now, dirtyPages: () => { readings++; return pages; } });
  const data = keystream('inline', 'dirty', 0, 0, 64 * WRITE_PIECE_BYTES); // 16 MiB

  assert.equal(inline.write(fd, data, 0), data.length);
  assert.equal(readings, 1, 'one reading for the first 16 MiB (the clock stands still)');
  pages = { dirty: 1000, backgroundThreshold: 1000 };
  assert.equal(inline.write(fd, data, data.length), 0, 'read again after 16 MiB: at the threshold, nothing inline');
  assert.equal(readings, 2);
  pages = { dirty: 10, backgroundThreshold: 1000 };
  assert.equal(inline.write(fd, data, data.length), 0, 'not read again before 100 ms');
  clock.set(clock.now() + 100);
  assert.equal(inline.write(fd, data, data.length), data.length, 'read again after 100 ms: below, inline again');
  assert.equal(readings, 3);
  assert.equal(inline.stats.readingsAboveThreshold, 1);
  pages = undefined;
  clock.set(clock.now() + 100);
  assert.equal(inline.active, false, 'counters that cannot be read: nothing inline');
  assert.deepEqual(readFileSync(path), Buffer.concat([data, data]));
});

test('the dirty page counters are read from this machine\'s /proc/vmstat; a missing one reads as unknown', () => {
  const pages = parseDirtyPages(readFileSync('/proc/vmstat', 'latin1'));
  assert.ok(pages !== undefined && Number.isInteger(pages.dirty) && pages.backgroundThreshold > 0, JSON.stringify(pages));
  assert.deepEqual(parseDirtyPages('nr_dirty 5\nnr_writeback 2\nnr_dirty_background_threshold 90\n'), { dirty: 7, backgroundThreshold: 90 });
  assert.equal(parseDirtyPages('nr_dirty 5\nnr_dirty_background_threshold 90\n'), undefined);
});

test('not allowed: nothing is written inline', (t) => {
  const { fd } = tempFile(t);
  const inline = new InlineWrites({ allowed: false });
  assert.equal(inline.active, false);
  assert.equal(inline.write(fd, Buffer.from('x'), 0), 0);
  assert.deepEqual(inline.stats, { inlinePieces: 0, slowPieces: 0, readingsAboveThreshold: 0 });
});

test('the applier writes a record inline, finishes one cut short by a slow piece through the pool, and never inline when told not to', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-inline-apply-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = keystream('inline', 'apply', 0, 0, 3 * WRITE_PIECE_BYTES + 1000);

  const fast = new Applier(join(dir, 'fast'), { durable: false, inlineWrites: { dirtyPages: CLEAN } });
  await fast.apply({ op: 'write', path: 'f', offset: 0, data });
  await fast.close();
  assert.deepEqual(readFileSync(join(dir, 'fast', 'f')), data);
  if (process.platform === 'linux') assert.equal(fast.inlineWriteStats?.inlinePieces, 4);

  // Every piece counts as slow: the first goes inline, the rest of the record and the next one through the pool.
  const slow = new Applier(join(dir, 'slow'), { durable: false, inlineWrites: { slowMs: -1, backoffMs: 60_000, dirtyPages: CLEAN } });
  await slow.apply({ op: 'write', path: 'f', offset: 0, data });
  await slow.apply({ op: 'write', path: 'f', offset: data.length, data });
  await slow.close();
  assert.deepEqual(readFileSync(join(dir, 'slow', 'f')), Buffer.concat([data, data]));
  if (process.platform === 'linux') assert.deepEqual(slow.inlineWriteStats, { inlinePieces: 1, slowPieces: 1, readingsAboveThreshold: 0 });

  const pooled = new Applier(join(dir, 'pooled'), { durable: false, inlineWrites: false });
  await pooled.apply({ op: 'write', path: 'f', offset: 0, data });
  await pooled.close();
  assert.deepEqual(readFileSync(join(dir, 'pooled', 'f')), data);
  assert.equal(pooled.inlineWriteStats, undefined);
});

test('files on another file system mounted inside the root go through the pool, the root\'s own inline', { skip: process.getuid?.() !== 0 ? 'needs root (mount)' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-inline-mount-'));
  const root = join(dir, 'root');
  const mounted = join(root, 'mnt');
  mkdirSync(mounted, { recursive: true });
  // A tmpfs stands in for the network file system an administrator mounted in the tree: another device.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'vigil-inline-test', mounted]);
  const applier = new Applier(root, { durable: false, inlineWrites: { dirtyPages: CLEAN } });
  // One hook, in this order: the applier's open files would keep the mount busy.
  t.after(async () => {
    try {
      await applier.close();
      execFileSync('umount', [mounted]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  symlinkSync('mnt', join(root, 'link')); // a link inside the root to a folder on the mount
  const data = keystream('inline', 'mount', 0, 0, 3 * WRITE_PIECE_BYTES + 1000);
  await applier.apply({ op: 'write', path: 'mnt/new/f', offset: 0, data });
  await applier.apply({ op: 'write', path: 'mnt/g', offset: 0, data });
  await applier.apply({ op: 'write', path: 'link/h', offset: 0, data });
  assert.equal(applier.inlineWriteStats?.inlinePieces ?? 0, 0, 'nothing on the mount went inline');
  await applier.apply({ op: 'write', path: 'f', offset: 0, data });
  await applier.apply({ op: 'write', path: 'sub/f', offset: 0, data });
  assert.equal(applier.inlineWriteStats?.inlinePieces, 8, 'the root\'s own files went inline');
  await applier.sync();
  for (const path of ['mnt/new/f', 'mnt/g', 'mnt/h', 'f', 'sub/f']) assert.deepEqual(readFileSync(join(root, path)), data, path);
});
