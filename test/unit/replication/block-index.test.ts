import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, linkSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BlockIndexStore, blockAt, blockCount, changedRanges, DEFAULT_BLOCK_SIZE, indexFile, indexFileIfChanged, readAndIndexFile, type ByteRange, type FileIndex,
} from '../../../agent/replication/block-index.js';
import { blockHash } from '../../../agent/replication/block-hash.js';
import { TimeSlicer } from '../../../agent/util/time-slice.js';

const KiB = 1024;
const BS = DEFAULT_BLOCK_SIZE;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-blocks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Applies the ranges to a copy of the old file, as the target would, and checks it then equals the new file. */
function assertRangesSuffice(oldCopy: string, current: string, result: { ranges: readonly ByteRange[]; truncateTo?: number }): void {
  const source = readFileSync(current);
  for (const r of result.ranges) overwrite(oldCopy, r.offset, source.subarray(r.offset, r.offset + r.length));
  if (result.truncateTo !== undefined) truncateSync(oldCopy, result.truncateTo);
  assert.ok(readFileSync(oldCopy).equals(source), 'the target rebuilt from the ranges equals the source');
}

/** Indexes `path`, lets `change` alter it, indexes again against the old index; returns both and the old bytes' copy. */
async function change(dir: string, initial: Buffer, alter: (path: string) => void): Promise<{ before: FileIndex; after: FileIndex; path: string; oldCopy: string }> {
  const path = join(dir, 'f');
  writeFileSync(path, initial);
  const before = await indexFile(path);
  const oldCopy = join(dir, 'old');
  copyFileSync(path, oldCopy);
  alter(path);
  const after = await indexFileIfChanged(path, before);
  return { before, after, path, oldCopy };
}

test('an index holds one hash per aligned block: XXH3-128 by default, or SHA-256 cut to 16 bytes', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'f');
  const data = randomBytes(2 * BS + 100);
  writeFileSync(path, data);
  const blocks = [data.subarray(0, BS), data.subarray(BS, 2 * BS), data.subarray(2 * BS)];
  const index = await indexFile(path);
  assert.equal(index.size, data.length);
  assert.equal(index.blockSize, BS);
  assert.deepEqual(index.hashes, Buffer.concat(blocks.map((b) => blockHash(b, 'xxh3-128'))));
  assert.equal(index.ino, statSync(path).ino);
  assert.equal(index.mtimeMs, statSync(path).mtimeMs);
  const strong = await indexFile(path, BS, undefined, 'sha256-128');
  assert.deepEqual(strong.hashes, Buffer.concat(blocks.map((b) => createHash('sha256').update(b).digest().subarray(0, 16))));
  assert.deepEqual(changedRanges(strong, index), { ranges: [{ offset: 0, length: data.length }] }, 'hashes of two kinds never match');

  const small = await indexFile(path, 4096);
  assert.equal(blockCount(small), Math.ceil(data.length / 4096));
});

test('empty files and files exactly one block long', async (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  const e = await indexFile(empty);
  assert.equal(e.size, 0);
  assert.deepEqual(e.hashes, Buffer.alloc(0));
  assert.deepEqual(changedRanges(undefined, e), { ranges: [] });

  const one = join(dir, 'one');
  writeFileSync(one, randomBytes(BS));
  const o = await indexFile(one);
  assert.equal(blockCount(o), 1);
  assert.deepEqual(changedRanges(undefined, o), { ranges: [{ offset: 0, length: BS }] });
  assert.deepEqual(changedRanges(e, o), { ranges: [{ offset: 0, length: BS }] });
  assert.deepEqual(changedRanges(o, e), { ranges: [], truncateTo: 0 });

  // A one-block file rewritten with the same length: one block to send, nothing to truncate.
  // The last byte flipped, never written over with itself (a random last byte of 1 left the file as it was: 1 run in 256).
  const initial = randomBytes(BS);
  const r = await change(dir, initial, (p) => overwrite(p, BS - 1, Buffer.from([initial[BS - 1]! ^ 0xff])));
  const result = changedRanges(r.before, r.after);
  assert.deepEqual(result, { ranges: [{ offset: 0, length: BS }] });
  assertRangesSuffice(r.oldCopy, r.path, result);
});

test('an append after a partial last block sends only the new bytes', async (t) => {
  const dir = tempDir(t);
  const r = await change(dir, randomBytes(BS + 100 * KiB % BS), (p) => appendFileSync(p, randomBytes(10 * KiB)));
  const oldSize = r.before.size;
  const result = changedRanges(r.before, r.after);
  assert.deepEqual(result, { ranges: [{ offset: oldSize, length: 10 * KiB }] });
  assertRangesSuffice(r.oldCopy, r.path, result);

  // Indexed without the old index, nothing proves the old tail unchanged: the whole last old block goes again.
  const blind = await indexFile(r.path);
  assert.deepEqual(changedRanges(r.before, blind), { ranges: [{ offset: BS, length: r.after.size - BS }] });
});

test('an append that also rewrites the old partial tail sends that block too', async (t) => {
  const dir = tempDir(t);
  const r = await change(dir, randomBytes(BS + 500), (p) => {
    overwrite(p, BS + 10, Buffer.from('changed'));
    appendFileSync(p, randomBytes(BS));
  });
  const result = changedRanges(r.before, r.after);
  assert.deepEqual(result, { ranges: [{ offset: BS, length: BS + 500 }] });
  assertRangesSuffice(r.oldCopy, r.path, result);
});

test('an append after a full last block sends only the new bytes', async (t) => {
  const dir = tempDir(t);
  const r = await change(dir, randomBytes(2 * BS), (p) => appendFileSync(p, Buffer.from([7])));
  const result = changedRanges(r.before, r.after);
  assert.deepEqual(result, { ranges: [{ offset: 2 * BS, length: 1 }] });
  assertRangesSuffice(r.oldCopy, r.path, result);
});

test('an overwrite in the middle sends the blocks it touched, adjacent ones merged', async (t) => {
  const dir = tempDir(t);
  // Zeros where the letters go: a random byte that already read 'x' would leave its block unchanged (1 run in 256).
  const content = randomBytes(16 * BS);
  content.fill(0, 4 * BS + 5, 4 * BS + 6);
  content.fill(0, 8 * BS - 3, 8 * BS + 3);
  const r = await change(dir, content, (p) => {
    overwrite(p, 4 * BS + 5, Buffer.from('x'));          // block 4
    overwrite(p, 8 * BS - 3, Buffer.from('across'));     // blocks 7 and 8
    overwrite(p, 12 * BS, Buffer.alloc(BS, 1));          // exactly block 12
  });
  const result = changedRanges(r.before, r.after);
  assert.deepEqual(result, { ranges: [
    { offset: 4 * BS, length: BS },
    { offset: 7 * BS, length: 2 * BS },
    { offset: 12 * BS, length: BS },
  ] });
  assertRangesSuffice(r.oldCopy, r.path, result);
});

test('a file that shrank is truncated; a block it now ends inside is sent again', async (t) => {
  const dir = tempDir(t);
  const atBoundary = await change(dir, randomBytes(3 * BS + 10), (p) => truncateSync(p, 2 * BS));
  assert.deepEqual(changedRanges(atBoundary.before, atBoundary.after), { ranges: [], truncateTo: 2 * BS });
  assertRangesSuffice(atBoundary.oldCopy, atBoundary.path, changedRanges(atBoundary.before, atBoundary.after));

  const inside = await change(dir, randomBytes(3 * BS), (p) => truncateSync(p, BS + 100));
  const result = changedRanges(inside.before, inside.after);
  assert.deepEqual(result, { ranges: [{ offset: BS, length: 100 }], truncateTo: BS + 100 });
  assertRangesSuffice(inside.oldCopy, inside.path, result);
});

test('sparse growth sends the new (zero) bytes only', async (t) => {
  const dir = tempDir(t);
  const r = await change(dir, randomBytes(100 * KiB), (p) => truncateSync(p, 10 * 1024 * KiB));
  const result = changedRanges(r.before, r.after);
  assert.deepEqual(result, { ranges: [{ offset: 100 * KiB, length: 10 * 1024 * KiB - 100 * KiB }] });
  assert.equal(blockCount(r.after), 160);
  assert.deepEqual(blockAt(r.after, 10), blockAt(r.after, 159), 'zero blocks hash alike');
  assertRangesSuffice(r.oldCopy, r.path, result);
});

test('a 20 MiB file is indexed exactly, and one changed byte costs one block', async (t) => {
  const dir = tempDir(t);
  const data = randomBytes(20 * 1024 * KiB);
  const r = await change(dir, data, (p) => overwrite(p, data.length - 1, Buffer.from([data[data.length - 1]! ^ 0xff])));
  assert.equal(blockCount(r.before), 320);
  assert.deepEqual(blockAt(r.before, 123), blockHash(data.subarray(123 * BS, 124 * BS), 'xxh3-128'));
  const result = changedRanges(r.before, r.after);
  assert.deepEqual(result, { ranges: [{ offset: 319 * BS, length: BS }] });
  assertRangesSuffice(r.oldCopy, r.path, result);
});

test('indexFileIfChanged trusts size, mtime and inode, and hashes again when one moved', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'f');
  writeFileSync(path, 'hello');
  const first = await indexFileIfChanged(path, undefined, 4096);
  assert.equal(first.blockSize, 4096);
  assert.equal(await indexFileIfChanged(path, first), first);
  utimesSync(path, new Date(), new Date(Date.now() + 5000));
  const touched = await indexFileIfChanged(path, first);
  assert.notEqual(touched, first);
  assert.equal(touched.blockSize, 4096, 'the previous block size is kept');
  assert.deepEqual(changedRanges(first, touched), { ranges: [] });
});

test('another block size, or no previous index, means the whole file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'f');
  writeFileSync(path, randomBytes(10_000));
  const a = await indexFile(path, 4096);
  const b = await indexFile(path, 8192);
  assert.deepEqual(changedRanges(a, b), { ranges: [{ offset: 0, length: 10_000 }] });
  assert.deepEqual(changedRanges(undefined, b), { ranges: [{ offset: 0, length: 10_000 }] });
});

test('bad input is refused with a stable code: block sizes, folders, FIFOs, symlinks, malformed indexes', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  await assert.rejects(indexFile(file, 100), { code: 'VIGIL_BAD_BLOCK_SIZE', message: /block size 100/ });
  await assert.rejects(indexFile(file, 1000.5), { code: 'VIGIL_BAD_BLOCK_SIZE' });
  await assert.rejects(indexFile(dir), (e: NodeJS.ErrnoException) => e.code === 'VIGIL_NOT_A_FILE' || e.code === 'EISDIR');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(indexFile(fifo), { code: 'VIGIL_NOT_A_FILE', message: new RegExp(fifo) });
  symlinkSync(file, join(dir, 'link'));
  await assert.rejects(indexFile(join(dir, 'link')), { code: 'ELOOP' });
  await assert.rejects(indexFile(join(dir, 'absent')), { code: 'ENOENT' });

  const good = await indexFile(file);
  assert.throws(() => changedRanges({ ...good, hashes: Buffer.alloc(0) }, good), { code: 'VIGIL_BAD_INDEX', message: /previous index: hashes holds 0 bytes, 16 expected for 1 bytes in blocks of 65536/ });
  assert.throws(() => changedRanges(good, { ...good, hashes: Buffer.alloc(3) }), { code: 'VIGIL_BAD_INDEX', message: /current index: hashes holds 3 bytes, 16 expected/ });
  assert.throws(() => changedRanges(good, { ...good, size: -1 }), { code: 'VIGIL_BAD_INDEX', message: /size -1/ });
});

test('the store survives reopening; renames and deletes move files and whole folders', async (t) => {
  const dir = tempDir(t);
  const storeFile = join(dir, 'state', 'blocks.idx');
  mkdirSync(join(dir, 'data'));
  const indexes = new Map<string, FileIndex>();
  for (const [name, size] of [['a', 0], ['b', 5], ['c', 3 * BS + 7]] as const) {
    writeFileSync(join(dir, 'data', name), randomBytes(size));
    indexes.set(name, await indexFile(join(dir, 'data', name)));
  }
  const store = await BlockIndexStore.open(storeFile);
  assert.equal(store.size, 0);
  store.set('top.bin', indexes.get('c')!);
  store.set('docs/a', indexes.get('a')!);
  store.set('docs/sub/b', indexes.get('b')!);
  store.set('docsx/c', indexes.get('c')!);
  await store.save();
  assert.deepEqual(readdirSync(join(dir, 'state')), ['blocks.idx'], 'no temporary file is left behind');

  const reopened = await BlockIndexStore.open(storeFile);
  assert.deepEqual([...reopened.paths()].sort(), ['docs/a', 'docs/sub/b', 'docsx/c', 'top.bin']);
  const { priorTail: _, ...expected } = indexes.get('c')!;
  assert.deepEqual({ ...reopened.get('top.bin')! }, expected);
  assert.deepEqual(reopened.get('docs/a')!.hashes, Buffer.alloc(0));

  assert.equal(reopened.rename('top.bin', 'moved.bin'), 1);
  assert.equal(reopened.get('top.bin'), undefined);
  assert.deepEqual(reopened.get('moved.bin')!.hashes, indexes.get('c')!.hashes);
  assert.equal(reopened.rename('docs', 'papers'), 2, 'a folder moves with everything below it, and only that');
  assert.deepEqual([...reopened.paths()].sort(), ['docsx/c', 'moved.bin', 'papers/a', 'papers/sub/b']);
  assert.equal(reopened.rename('nothing-here', 'x'), 0);
  reopened.delete('papers/sub');
  assert.deepEqual([...reopened.paths()].sort(), ['docsx/c', 'moved.bin', 'papers/a']);
  assert.throws(() => reopened.rename('papers', 'papers/inner'), { code: 'VIGIL_BAD_PATH' });
  assert.throws(() => reopened.set('../escape', indexes.get('a')!), { code: 'VIGIL_BAD_PATH', message: /\.\.\/escape/ });
  await reopened.save();

  const third = await BlockIndexStore.open(storeFile);
  assert.deepEqual([...third.paths()].sort(), ['docsx/c', 'moved.bin', 'papers/a']);
});

test('a renamed file is recognised by its inode, hard links included', async (t) => {
  const dir = tempDir(t);
  const store = await BlockIndexStore.open(join(dir, 'blocks.idx'));
  writeFileSync(join(dir, 'old.txt'), 'content');
  store.set('old.txt', await indexFile(join(dir, 'old.txt')));
  renameSync(join(dir, 'old.txt'), join(dir, 'new.txt'));
  const ino = statSync(join(dir, 'new.txt')).ino;
  assert.deepEqual(store.pathsOfInode(ino), ['old.txt']);
  store.rename('old.txt', 'new.txt');
  assert.deepEqual(store.pathsOfInode(ino), ['new.txt']);
  await store.save();
  assert.deepEqual((await BlockIndexStore.open(join(dir, 'blocks.idx'))).pathsOfInode(ino), ['new.txt'], 'inodes are persisted');

  linkSync(join(dir, 'new.txt'), join(dir, 'hard.txt'));
  store.set('hard.txt', await indexFile(join(dir, 'hard.txt')));
  assert.deepEqual(store.pathsOfInode(ino), ['new.txt', 'hard.txt'], 'both names of a hard-linked file');
  store.delete('new.txt');
  assert.deepEqual(store.pathsOfInode(ino), ['hard.txt']);
  store.delete('hard.txt');
  assert.deepEqual(store.pathsOfInode(ino), []);
});

test('a damaged store file is refused with the byte offset; stale temporary files are cleared', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'blocks.idx');
  const store = await BlockIndexStore.open(file);
  writeFileSync(join(dir, 'f'), randomBytes(1000));
  store.set('f', await indexFile(join(dir, 'f')));
  await store.save();
  const good = readFileSync(file);

  const flipped = Buffer.from(good);
  flipped[20] = flipped[20]! ^ 1;
  writeFileSync(file, flipped);
  await assert.rejects(BlockIndexStore.open(file), { code: 'VIGIL_BAD_INDEX', message: new RegExp(`${file}: checksum mismatch .* at byte offset ${good.length - 32}`) });
  writeFileSync(file, good.subarray(0, 30));
  await assert.rejects(BlockIndexStore.open(file), { code: 'VIGIL_BAD_INDEX', message: /byte offset/ });
  writeFileSync(file, Buffer.concat([Buffer.from('NOPE'), good.subarray(4)]));
  await assert.rejects(BlockIndexStore.open(file), { code: 'VIGIL_BAD_INDEX', message: /wrong magic\) at byte offset 0/ });

  writeFileSync(file, good);
  writeFileSync(`${file}.123.4.tmp`, 'half a save');
  writeFileSync(join(dir, 'unrelated.tmp'), 'not ours');
  const reopened = await BlockIndexStore.open(file);
  assert.deepEqual([...reopened.paths()], ['f']);
  assert.deepEqual(readdirSync(dir).sort(), ['blocks.idx', 'f', 'unrelated.tmp']);
});

test('the store holds 100 000 files compactly and reloads them all', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'blocks.idx');
  const store = await BlockIndexStore.open(file);
  const shared = randomBytes(16);
  const blocksOf = (i: number): Buffer[] => { const h = Buffer.alloc(16); h.writeUInt32LE(i); return [shared, h]; };
  for (let i = 0; i < 100_000; i++) {
    store.set(`dir${i % 100}/file-${i}.dat`, { size: BS + 1 + (i % (BS - 1)), blockSize: BS, hashes: Buffer.concat(blocksOf(i)), mtimeMs: 1_700_000_000_000 + i + 0.25, ino: i + 1 });
  }
  await store.save();
  const bytes = statSync(file).size;
  // 32 fixed bytes + 37 of the metadata and attributes last sent + 2 x 16 block hashes + a path of about 20 bytes.
  assert.ok(bytes < 100_000 * 126, `${bytes} bytes for 100k files`);
  const reopened = await BlockIndexStore.open(file);
  assert.equal(reopened.size, 100_000);
  const sample = reopened.get('dir7/file-99907.dat')!;
  assert.equal(sample.size, BS + 1 + (99907 % (BS - 1)));
  assert.equal(sample.mtimeMs, 1_700_000_000_000 + 99907 + 0.25);
  assert.deepEqual(sample.hashes, Buffer.concat(blocksOf(99907)));
  assert.deepEqual(reopened.pathsOfInode(99908), ['dir7/file-99907.dat']);
});

test('saves run one at a time and keep changes made while a save was writing', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'blocks.idx');
  writeFileSync(join(dir, 'f'), 'x');
  const index = await indexFile(join(dir, 'f'));
  const store = await BlockIndexStore.open(file);
  store.set('one', index);
  const first = store.save();
  store.set('two', index);
  await Promise.all([first, store.save()]);
  assert.deepEqual([...(await BlockIndexStore.open(file)).paths()].sort(), ['one', 'two']);
});

test('a store keeps the block hash it was saved with: an older store (byte 6 zero) SHA-256; it changes only when empty', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'blocks.idx');
  writeFileSync(join(dir, 'f'), randomBytes(3 * BS));
  const strong = await indexFile(join(dir, 'f'), BS, undefined, 'sha256-128');
  const store = await BlockIndexStore.open(file, 'sha256-128');
  assert.equal(store.blockHash, 'sha256-128');
  store.set('f', strong);
  await store.save();
  const saved = readFileSync(file);
  assert.equal(saved[6], 0, 'SHA-256 is written as every store before XXH3 wrote byte 6');
  // Opened by an agent that wants XXH3, it stays SHA-256 while it holds files.
  const reopened = await BlockIndexStore.open(file, 'xxh3-128');
  assert.equal(reopened.blockHash, 'sha256-128');
  assert.deepEqual(reopened.get('f')?.hashes, strong.hashes);
  assert.throws(() => reopened.useBlockHash('xxh3-128'), { code: 'VIGIL_BAD_INDEX', message: /holds 1 files hashed with sha256-128; it must be empty to use xxh3-128/ });
  reopened.delete('f');
  reopened.useBlockHash('xxh3-128');
  await reopened.save();
  assert.equal(readFileSync(file)[6], 1);
  assert.equal((await BlockIndexStore.open(file, 'sha256-128')).blockHash, 'xxh3-128', 'a saved store says what it holds');
  assert.equal((await BlockIndexStore.open(join(dir, 'new.idx'), 'sha256-128')).blockHash, 'sha256-128', 'a new store takes the one asked');
  // A code this agent does not know (the checksum made right): refused, naming the byte.
  const unknown = Buffer.from(saved);
  unknown[6] = 7;
  const body = unknown.subarray(0, unknown.length - 32);
  writeFileSync(file, Buffer.concat([body, createHash('sha256').update(body).digest()]));
  await assert.rejects(BlockIndexStore.open(file), { code: 'VIGIL_BAD_INDEX', message: /block hash 7, this agent knows 0 \(sha256-128\) and 1 \(xxh3-128\) at byte offset 6/ });
});

test('a store written by version 1 (with a whole-file hash per entry) is still read', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'blocks.idx');
  const blocks = [randomBytes(16), randomBytes(16)];
  const name = Buffer.from('docs/a.bin');
  const fixed = Buffer.alloc(4 + name.length + 28);
  fixed.writeUInt32LE(name.length, 0);
  name.copy(fixed, 4);
  fixed.writeDoubleLE(BS + 10, 4 + name.length);
  fixed.writeUInt32LE(BS, 4 + name.length + 8);
  fixed.writeDoubleLE(1_700_000_000_000.5, 4 + name.length + 12);
  fixed.writeDoubleLE(42, 4 + name.length + 20);
  const header = Buffer.from([...Buffer.from('VGBI'), 1, 16, 0, 0, 1, 0, 0, 0]);
  const body = Buffer.concat([header, fixed, randomBytes(32), ...blocks]);
  writeFileSync(file, Buffer.concat([body, createHash('sha256').update(body).digest()]));
  const store = await BlockIndexStore.open(file);
  assert.deepEqual(store.get('docs/a.bin'), { size: BS + 10, blockSize: BS, hashes: Buffer.concat(blocks), mtimeMs: 1_700_000_000_000.5, ino: 42 });
  assert.deepEqual(store.pathsOfInode(42), ['docs/a.bin']);
  assert.equal(store.sentMeta('docs/a.bin'), undefined, 'version 1 knew nothing of what was sent');
  // Saved again, it is version 4, and reads back the same.
  store.set('docs/b.bin', { size: 0, blockSize: BS, hashes: Buffer.alloc(0), mtimeMs: 1, ino: 43 });
  await store.save();
  assert.equal(readFileSync(file)[4], 4);
  assert.deepEqual((await BlockIndexStore.open(file)).get('docs/a.bin')?.hashes, Buffer.concat(blocks));
});

test('the metadata a file was last sent with is kept through a new index, a rename and a reload, and is forgotten on demand', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'blocks.idx');
  const store = await BlockIndexStore.open(file);
  const index = { size: 10, blockSize: BS, hashes: randomBytes(16), mtimeMs: 1_700_000_000_000.25, ino: 7 };
  store.set('a', index);
  store.set('b', { ...index, ino: 8 });
  store.setSentMeta('a', { mode: 0o100640, mtimeMs: 1_700_000_000_000.25, uid: 1000, gid: 0 });
  store.setSentMeta('b', { mode: 0o100600, mtimeMs: 5.5 });
  assert.equal(store.setSentMeta('not-there', { mode: 0o100600, mtimeMs: 5.5 }), false);
  assert.equal(store.sentMeta('not-there'), undefined, 'only files in the store');
  store.set('a', { ...index, size: 11 });
  assert.deepEqual(store.sentMeta('a'), { mode: 0o100640, mtimeMs: 1_700_000_000_000.25, uid: 1000, gid: 0 }, 'a new index leaves what was sent');
  store.rename('b', 'c');
  await store.save();
  const reopened = await BlockIndexStore.open(file);
  assert.deepEqual(reopened.sentMeta('a'), { mode: 0o100640, mtimeMs: 1_700_000_000_000.25, uid: 1000, gid: 0 });
  assert.deepEqual(reopened.sentMeta('c'), { mode: 0o100600, mtimeMs: 5.5 }, 'no owner sent: none read back');
  assert.equal(reopened.get('c')?.size, 10);
  reopened.setSentMeta('a', undefined);
  await reopened.save();
  assert.equal((await BlockIndexStore.open(file)).sentMeta('a'), undefined);
  assert.throws(() => reopened.setSentMeta('c', { mode: -1, mtimeMs: 1 }), { code: 'VIGIL_BAD_INDEX', message: /metadata sent for c: mode -1/ });
  // A damaged flags byte is refused with its offset (the trailer checksum made right again, as a bug would).
  const bytes = readFileSync(file);
  const flagsAt = 12 + 4 + 1 + 28; // header, path length, the path "a" (entries in insertion order), fixed fields
  assert.equal(bytes.toString('utf8', 16, 17), 'a');
  bytes[flagsAt] = 0x40;
  const body = bytes.subarray(0, bytes.length - 32);
  writeFileSync(file, Buffer.concat([body, createHash('sha256').update(body).digest()]));
  await assert.rejects(BlockIndexStore.open(file), { code: 'VIGIL_BAD_INDEX', message: new RegExp(`entry 0 \\(a\\): metadata flags 0x40 .* at byte offset ${flagsAt}$`) });
});

test('the extended attributes a file was last sent with (their digest) outlive a new index, forgotten metadata, a rename and a reload', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'blocks.idx');
  const store = await BlockIndexStore.open(file);
  const index = { size: 10, blockSize: BS, hashes: randomBytes(16), mtimeMs: 1_700_000_000_000.25, ino: 7 };
  const digest = 'ab'.repeat(16);
  store.set('a', index);
  store.set('b', { ...index, ino: 8 });
  assert.equal(store.setSentXattrs('a', digest), true);
  assert.equal(store.setSentXattrs('not-there', digest), false, 'only files in the store');
  store.setSentMeta('a', { mode: 0o100640, mtimeMs: 5 });
  store.set('a', { ...index, size: 11 });
  // Writes forget the metadata sent (the target's mtime moved), not the attributes (they did not).
  store.setSentMeta('a', undefined);
  assert.equal(store.sentXattrs('a'), digest);
  store.setSentXattrs('b', 'cd'.repeat(16));
  store.rename('b', 'c');
  await store.save();
  const reopened = await BlockIndexStore.open(file);
  assert.equal(reopened.sentXattrs('a'), digest, 'kept with no metadata sent (flag 8 alone)');
  assert.equal(reopened.sentMeta('a'), undefined);
  assert.equal(reopened.sentXattrs('c'), 'cd'.repeat(16), 'moved with its file');
  reopened.setSentXattrs('a', undefined);
  await reopened.save();
  assert.equal((await BlockIndexStore.open(file)).sentXattrs('a'), undefined);
  assert.throws(() => reopened.setSentXattrs('c', 'xyz'), { code: 'VIGIL_BAD_INDEX', message: /extended attributes sent for c: digest "xyz" is not 16 bytes in hex/ });
  // Version 3 (no digest, flag 8 unknown then) is read, with no attributes sent; flag 8 in it is refused.
  const v3 = Buffer.from([...Buffer.from('VGBI'), 3, 16, 1, 0, 1, 0, 0, 0]);
  const fixed = Buffer.alloc(4 + 1 + 28 + 21);
  fixed.writeUInt32LE(1, 0);
  fixed.write('v', 4);
  fixed.writeDoubleLE(0, 5);
  fixed.writeUInt32LE(BS, 13);
  fixed.writeDoubleLE(9, 17);
  fixed.writeDoubleLE(3, 25);
  fixed.writeUInt8(1, 33);
  fixed.writeUInt32LE(0o100644, 34);
  const v3file = join(dir, 'v3.idx');
  const writeV3 = (flags: number): void => {
    fixed.writeUInt8(flags, 33);
    const body = Buffer.concat([v3, fixed]);
    writeFileSync(v3file, Buffer.concat([body, createHash('sha256').update(body).digest()]));
  };
  writeV3(1);
  const old = await BlockIndexStore.open(v3file);
  assert.deepEqual(old.sentMeta('v'), { mode: 0o100644, mtimeMs: 0 });
  assert.equal(old.sentXattrs('v'), undefined);
  writeV3(1 | 8);
  await assert.rejects(BlockIndexStore.open(v3file), { code: 'VIGIL_BAD_INDEX', message: /metadata flags 0x9 are not 0 or 1 plus 2 and 4 at byte offset 45$/ });
});

test('a file read whole and indexed from memory gets the same index as one streamed, prior tail included', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'f');
  for (const size of [0, 1, BS - 1, BS, BS + 1, 3 * BS + 5, 40 * BS + 7]) {
    const data = randomBytes(size);
    writeFileSync(path, data);
    const streamed = await indexFile(path, BS);
    const whole = await readAndIndexFile(path, BS, 'xxh3-128', undefined, 64 * BS);
    assert.ok(whole !== undefined);
    assert.deepEqual(whole.index, streamed, `size ${size}`);
    assert.deepEqual(whole.content, data);
    // Appended to: the probe of the old partial last block is the same both ways.
    appendFileSync(path, randomBytes(BS));
    const grownStreamed = await indexFile(path, BS, streamed);
    const grownWhole = await readAndIndexFile(path, BS, 'xxh3-128', streamed, 64 * BS);
    assert.deepEqual(grownWhole?.index, grownStreamed, `size ${size} + ${BS}`);
    assert.equal(grownStreamed.priorTail !== undefined, size % BS !== 0, `size ${size}: a prior tail exactly when the old last block was partial`);
  }
  // Larger than the limit: left to indexFile.
  writeFileSync(path, randomBytes(2 * BS));
  assert.equal(await readAndIndexFile(path, BS, 'xxh3-128', undefined, 2 * BS - 1), undefined);
});

test('loading and saving a large index give way to the event loop between slices, and lose nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-index-slices-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await BlockIndexStore.open(join(dir, 'index'));
  for (let i = 0; i < 3000; i++) {
    store.set(`0/d${i % 7}/f${i}`, { size: 70_000, blockSize: 65_536, hashes: randomBytes(32), mtimeMs: 1_700_000_000_000 + i, ino: 10 + i });
    store.setSentMeta(`0/d${i % 7}/f${i}`, { mode: 0o640, mtimeMs: 1_700_000_000_000 + i });
  }
  // A slicer whose slices are spent at once: it gives way at every 256th entry, as a long load would every 10 ms.
  const saving = new TimeSlicer(0);
  await store.save(saving);
  assert.ok(saving.yields >= 3000 / 256 - 1, `${saving.yields} turns given away while saving`);
  const loading = new TimeSlicer(0);
  const reopened = await BlockIndexStore.open(join(dir, 'index'), 'xxh3-128', loading);
  assert.ok(loading.yields >= 3000 / 256 - 1, `${loading.yields} turns given away while loading`);
  assert.equal(reopened.size, 3000);
  for (const i of [0, 1234, 2999]) {
    assert.deepEqual(reopened.get(`0/d${i % 7}/f${i}`), store.get(`0/d${i % 7}/f${i}`));
    assert.deepEqual(reopened.sentMeta(`0/d${i % 7}/f${i}`), { mode: 0o640, mtimeMs: 1_700_000_000_000 + i });
  }
});

test('changed ranges of many blocks: runs that hash alike are passed at once, and every changed block is still found', () => {
  const bs = 4096;
  const random = (seed: number): (() => number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 20; round++) {
    const next = random(round + 1);
    const blocks = 600 + Math.floor(next() * 1500);
    const before: FileIndex = { size: blocks * bs - Math.floor(next() * bs), blockSize: bs, hashes: randomBytes(blocks * 16), mtimeMs: 1, ino: 1 };
    const after = Buffer.from(before.hashes);
    // Some rounds change blocks at the edges of the 256-block runs, all change a few anywhere.
    const changed = new Set<number>(round % 2 === 0 ? [0, 255, 256, 511, 512, blocks - 1] : []);
    for (let k = 0; k < 1 + Math.floor(next() * 8); k++) changed.add(Math.floor(next() * blocks));
    for (const i of changed) { const at = i * 16 + Math.floor(next() * 16); after[at] = after[at]! ^ 0xff; }
    const expected: ByteRange[] = [];
    for (const i of [...changed].sort((a, b) => a - b)) {
      const offset = i * bs;
      const length = Math.min(bs, before.size - offset);
      const last = expected[expected.length - 1];
      if (last !== undefined && last.offset + last.length === offset) expected[expected.length - 1] = { offset: last.offset, length: last.length + length };
      else expected.push({ offset, length });
    }
    assert.deepEqual(changedRanges(before, { ...before, hashes: after }), { ranges: expected }, `round ${round}: ${blocks} blocks, ${[...changed].join(' ')} changed`);
  }
});

test('clearing the store drops every file and inode at once, hands back what it held, and the next save says so', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-index-clear-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await BlockIndexStore.open(join(dir, 'index'));
  for (let i = 0; i < 5; i++) store.set(`0/f${i}`, { size: 10, blockSize: BS, hashes: randomBytes(16), mtimeMs: 1, ino: 100 + i });
  const f2 = store.get('0/f2')!;
  await store.save();
  const held = store.clear();
  assert.equal(store.size, 0);
  assert.deepEqual([[...held.keys()].sort(), held.get('0/f2')!.hashes, held.get('0/f2')!.ino], [['0/f0', '0/f1', '0/f2', '0/f3', '0/f4'], f2.hashes, 102]);
  // What it hands back is no longer the store's: a file indexed since is not in it.
  store.set('0/new', { size: 1, blockSize: BS, hashes: randomBytes(16), mtimeMs: 1, ino: 200 });
  assert.equal(held.has('0/new'), false);
  store.delete('0/new');
  assert.equal(store.clear().size, 0);
  assert.deepEqual(store.pathsOfInode(102), []);
  store.useBlockHash('sha256-128');
  await store.save();
  const reopened = await BlockIndexStore.open(join(dir, 'index'));
  assert.deepEqual([reopened.size, reopened.blockHash], [0, 'sha256-128']);
});
