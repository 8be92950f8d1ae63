// The read thread reads and indexes exactly as readAndIndexFile does on the main thread, refuses what is
// not a regular file with the same codes, and lets the process exit (no handle left after close); a scan's
// lstats on it find what the thread pool's find.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexFile, readAndIndexFile, readIndexing, type FileIndex } from '../../../agent/replication/block-index.js';
import { BufferPool } from '../../../agent/util/buffer-pool.js';
import { compileGlobs } from '../../../agent/replication/glob.js';
import { ReadThread } from '../../../agent/replication/read-thread.js';
import { scanTree, type LstatMany, type TreeEntry, type TreeProblem } from '../../../agent/replication/tree.js';
import { extendedAttributes, NO_XATTRS, travellingXattrs, xattrDigest } from '../../../agent/replication/xattrs.js';

const BS = 4096;
const H = 'xxh3-128';

/** A temp folder and a read thread, both gone at the end of the test. */
function setUp(t: TestContext, prefix: string): { dir: string; reader: ReadThread } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const reader = new ReadThread();
  t.after(() => reader.close());
  return { dir, reader };
}

test('the thread gives the content and index readAndIndexFile gives, undefined above the limit, and fs error codes', async (t) => {
  const { dir, reader } = setUp(t, 'vigil-read-thread-');
  const content = Buffer.alloc(3 * BS + 100);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7) % 251;
  writeFileSync(join(dir, 'a'), content);
  writeFileSync(join(dir, 'empty'), '');

  for (const name of ['a', 'empty']) {
    const expected = await readAndIndexFile(join(dir, name), BS, H, undefined, 64 * BS);
    const got = await reader.read(join(dir, name), BS, H, undefined, 64 * BS);
    assert.ok(got !== undefined && expected !== undefined);
    assert.deepEqual(got.index, expected.index);
    assert.ok(got.content.equals(expected.content));
  }
  // With a previous index whose last block was partial: the probe of the old tail (priorTail) is made too.
  const previous = (await readAndIndexFile(join(dir, 'a'), BS, H, undefined, 64 * BS))!.index;
  writeFileSync(join(dir, 'a'), Buffer.concat([content, Buffer.alloc(50, 1)]));
  const grown = await reader.read(join(dir, 'a'), BS, H, previous, 64 * BS);
  assert.deepEqual(grown?.index, (await readAndIndexFile(join(dir, 'a'), BS, H, previous, 64 * BS))?.index);
  assert.ok(grown?.index.priorTail !== undefined);

  assert.equal(await reader.read(join(dir, 'a'), BS, H, undefined, BS), undefined, 'larger than maxBytes');
  // Indexing only: any size, in chunks, the same index as indexFile's.
  const big = Buffer.alloc(3 * 1024 * 1024 + 8);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i >>> 2, i);
  writeFileSync(join(dir, 'big'), big.subarray(0, 3 * 1024 * 1024 + 5));
  assert.deepEqual(await reader.index(join(dir, 'big'), BS, H), await indexFile(join(dir, 'big'), BS));
  // Given the index it had (its last block partial), the prior tail too, as indexFile finds it.
  const before = { size: 2 * 1024 * 1024 + 1000, blockSize: BS };
  const withPrior = await reader.index(join(dir, 'big'), BS, H, before);
  assert.ok(withPrior.priorTail !== undefined);
  assert.deepEqual(withPrior, await indexFile(join(dir, 'big'), BS, { ...before, hashes: Buffer.alloc(0), mtimeMs: 0, ino: 0 }));
  await assert.rejects(reader.read(join(dir, 'missing'), BS, H, undefined, BS), { code: 'ENOENT' });
  symlinkSync(join(dir, 'a'), join(dir, 'link'));
  await assert.rejects(reader.read(join(dir, 'link'), BS, H, undefined, 64 * BS), { code: 'ELOOP' });
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await assert.rejects(reader.read(join(dir, 'fifo'), BS, H, undefined, 64 * BS), { code: 'VIGIL_NOT_A_FILE' });
  // Many at once come back each to its caller.
  const many = await Promise.all(Array.from({ length: 50 }, () => reader.read(join(dir, 'empty'), BS, H, undefined, BS)));
  assert.ok(many.every((r) => r?.index.size === 0));
  // Asked in one turn, they travel as one message: a failure among them stays its own caller's.
  const mixed = await Promise.allSettled([reader.read(join(dir, 'a'), BS, H, undefined, 64 * BS), reader.read(join(dir, 'missing'), BS, H, undefined, BS), reader.index(join(dir, 'big'), BS, H)]);
  assert.equal(mixed[0].status === 'fulfilled' ? mixed[0].value?.index.size : undefined, content.length + 50);
  assert.equal(mixed[1].status === 'rejected' ? (mixed[1].reason as { code?: string }).code : undefined, 'ENOENT');
  assert.equal(mixed[2].status === 'fulfilled' ? mixed[2].value.size : undefined, 3 * 1024 * 1024 + 5);

  await reader.close();
  await assert.rejects(reader.read(join(dir, 'a'), BS, H, undefined, BS), { code: 'VIGIL_CLOSED' });
});

test('a scan whose lstats run on the thread finds the same entries and problems as through the thread pool', async (t) => {
  const { dir, reader } = setUp(t, 'vigil-read-thread-scan-');
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(dir, 'a'), 'alpha');
  writeFileSync(join(dir, 'sub', 'b'), Buffer.alloc(3 * BS + 1, 7));
  chmodSync(join(dir, 'sub', 'b'), 0o4750);
  writeFileSync(join(dir, 'sub', 'deeper', 'c'), '');
  symlinkSync('../a', join(dir, 'sub', 'link'));
  execFileSync('mkfifo', [join(dir, 'sub', 'fifo')]);
  // A name that is not UTF-8 travels to the thread as bytes.
  writeFileSync(Buffer.concat([Buffer.from(join(dir, 'bad-')), Buffer.from([0xff, 0xfe])]), 'x');

  const scan = async (lstatMany?: LstatMany): Promise<{ entries: TreeEntry[]; problems: readonly TreeProblem[] }> => {
    const s = scanTree(dir, compileGlobs(['**'], []), lstatMany);
    const entries: TreeEntry[] = [];
    for await (const e of s) entries.push(e);
    return { entries, problems: s.problems };
  };
  const inPool = await scan();
  const onThread = await scan((paths) => reader.lstat(paths));
  assert.deepEqual(onThread, inPool);
  assert.deepEqual(inPool.entries.map((e) => `${e.type} ${e.path}`), ['file a', 'dir sub', 'file sub/b', 'dir sub/deeper', 'file sub/deeper/c', 'symlink sub/link']);
  assert.equal(inPool.entries[2]!.mode, 0o4750);
  assert.deepEqual(inPool.problems.map((p) => p.code).sort(), ['VIGIL_BAD_NAME', 'VIGIL_UNSUPPORTED_TYPE']);
  const [missing] = await reader.lstat([join(dir, 'missing')]);
  assert.equal(missing instanceof Error ? (missing as { code?: string }).code : undefined, 'ENOENT');
});

test('an lstat asked for attributes gives each file\'s and folder\'s digest as the main thread reads it; none for a symlink', async (t) => {
  const { dir, reader } = setUp(t, 'vigil-read-thread-xattrs-');
  const access = extendedAttributes().access;
  assert.ok(access !== undefined, 'the xattrs addon loads here');
  writeFileSync(join(dir, 'plain'), 'x');
  writeFileSync(join(dir, 'tagged'), 'x');
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'finance', join(dir, 'tagged')]);
  execFileSync('setfacl', ['-m', 'u:4242:rw-', join(dir, 'tagged')]);
  mkdirSync(join(dir, 'folder'));
  execFileSync('setfacl', ['-d', '-m', 'g:4243:r-x', join(dir, 'folder')]);
  symlinkSync('tagged', join(dir, 'link'));
  const paths = ['plain', 'tagged', 'folder', 'link', 'missing'].map((name) => join(dir, name));
  const stats = await reader.lstat(paths, true);
  const digests = stats.map((s) => (s instanceof Error ? s.message.slice(0, 6) : s.xattrs));
  const expected = (path: string): string => xattrDigest(travellingXattrs(access, path)) ?? NO_XATTRS;
  assert.deepEqual(digests, [NO_XATTRS, expected(paths[1]!), expected(paths[2]!), undefined, 'ENOENT']);
  assert.notEqual(digests[1], NO_XATTRS);
  // Not asked: none, as before.
  assert.deepEqual((await reader.lstat(paths.slice(0, 3))).map((s) => (s as { xattrs?: string }).xattrs), [undefined, undefined, undefined]);
});

async function drain(chunks: AsyncGenerator<{ readonly offset: number; readonly data: Buffer }, FileIndex>, pool?: BufferPool): Promise<{ offsets: number[]; bytes: Buffer; index: FileIndex }> {
  const offsets: number[] = [];
  const parts: Buffer[] = [];
  for (let step = await chunks.next(); ; step = await chunks.next()) {
    if (step.done === true) return { offsets, bytes: Buffer.concat(parts), index: step.value };
    // The pool's memory, shared with the thread, which read into it: it goes back to the pool.
    if (pool !== undefined) assert.ok(step.value.data.buffer instanceof SharedArrayBuffer && step.value.data.buffer.byteLength === pool.bufferBytes);
    offsets.push(step.value.offset);
    parts.push(Buffer.from(step.value.data));
    pool?.give(step.value.data);
  }
}

test('a large file read in chunks on the thread gives the chunks and the index readIndexing gives, in the pool\'s shared buffers', async (t) => {
  const { dir, reader } = setUp(t, 'vigil-read-chunks-');
  const chunk = 4 * BS;
  for (const size of [0, 100, chunk, 3 * chunk, 5 * chunk + 2 * BS + 17]) {
    const content = Buffer.alloc(size);
    for (let i = 0; i < size; i++) content[i] = (i * 13 + size) % 251;
    writeFileSync(join(dir, 'f'), content);
    const pool = new BufferPool(chunk, { shared: true });
    const got = await drain(reader.readChunks(join(dir, 'f'), BS, H, pool), pool);
    const expected = await drain(readIndexing(join(dir, 'f'), BS, H, chunk));
    assert.deepEqual(got.offsets, expected.offsets, `size ${size}`);
    assert.ok(got.bytes.equals(content), `size ${size}: the bytes`);
    assert.deepEqual(got.index, expected.index, `size ${size}: the index`);
    assert.deepEqual(got.index.hashes, (await indexFile(join(dir, 'f'), BS)).hashes);
  }
  // A consumer that stops early leaves no read behind that could write into a buffer it was given back.
  writeFileSync(join(dir, 'f'), Buffer.alloc(10 * chunk, 3));
  const pool = new BufferPool(chunk, { shared: true });
  const chunks = reader.readChunks(join(dir, 'f'), BS, H, pool);
  const first = await chunks.next();
  assert.equal(first.done, false);
  await chunks.return(undefined as never);
  // The reads it had asked ahead come back to the pool whole and usable: another file read through the same
  // pool (its buffers among them) arrives intact.
  await new Promise((r) => setTimeout(r, 50));
  const other = Buffer.alloc(6 * chunk);
  for (let i = 0; i < other.length; i++) other[i] = (i * 31) % 253;
  writeFileSync(join(dir, 'other'), other);
  const again = await drain(reader.readChunks(join(dir, 'other'), BS, H, pool), pool);
  assert.ok(again.bytes.equals(other), 'the pool\'s buffers, given back early, read the next file right');
  // Not a regular file, gone, and a chunk size that does not hold whole blocks: refused with codes.
  mkdirSync(join(dir, 'folder'));
  await assert.rejects(drain(reader.readChunks(join(dir, 'folder'), BS, H, new BufferPool(chunk, { shared: true }))), { code: 'VIGIL_NOT_A_FILE' });
  await assert.rejects(drain(reader.readChunks(join(dir, 'missing'), BS, H, new BufferPool(chunk, { shared: true }))), { code: 'ENOENT' });
  await assert.rejects(drain(reader.readChunks(join(dir, 'f'), BS, H, new BufferPool(BS + 1, { shared: true }))), { code: 'VIGIL_BAD_BLOCK_SIZE' });
  // The thread reads into the pool's memory in place: memory it cannot share is refused.
  await assert.rejects(drain(reader.readChunks(join(dir, 'f'), BS, H, new BufferPool(chunk))), { code: 'VIGIL_BAD_POOL' });
});

test('a file replaced by another while its chunks are read fails with ENOENT (the watcher reports what it became)', async (t) => {
  const { dir, reader } = setUp(t, 'vigil-read-chunks-');
  const chunk = 4 * BS;
  writeFileSync(join(dir, 'f'), Buffer.alloc(40 * chunk, 1));
  writeFileSync(join(dir, 'other'), Buffer.alloc(40 * chunk, 2));
  const pool = new BufferPool(chunk, { shared: true });
  const chunks = reader.readChunks(join(dir, 'f'), BS, H, pool);
  const first = await chunks.next();
  assert.equal(first.done, false);
  renameSync(join(dir, 'other'), join(dir, 'f'));
  await assert.rejects(drain(chunks, pool), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /replaced while it was read/.test(e.message));
});
