// The target's background listing (MirrorTarget's backgroundListing), on real files, a real listing index and the
// records a source sends: when a resync makes it due, that a stop keeps it due for the next start, that a listing
// asked meanwhile takes what it hashed, and that records landing while it reads never leave a hash that lies.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockIndexStore, indexFile } from '../../../agent/replication/block-index.js';
import { compileGlobs } from '../../../agent/replication/glob.js';
import { INITIAL_STATE } from '../../../agent/replication/mirror-state.js';
import { encodeRecord, type WireRecord } from '../../../agent/replication/records.js';
import { ListingIndex } from '../../../agent/replication/listing-index.js';
import { MirrorTarget } from '../../../agent/replication/target.js';
import { MIRROR, until } from './transport-helpers.js';

const BLOCK = 4096;
const LINEAGE = { current: 'a1', history: ['0'] };
const OLD = new Date('2020-01-02T03:04:05Z');

interface Node {
  readonly base: string;
  readonly dst: string;
  readonly log: string[];
  /**
   * A target over the same folder and files (the agent started again); the previous one must be closed. With
   * `ownIndexFile`, this node's index from when it was the source.
   */
  open(ownIndexFile?: string, seedWaitMs?: number): Promise<MirrorTarget>;
}

/** Names in the order a listing reads them (by name). */
const fileName = (i: number): string => `f${String(i).padStart(4, '0')}`;

/** A target's folder holding `files` files of `bytes` bytes each (old mtimes: no hash of them is racy). */
function node(t: TestContext, files: number, bytes: number): Node {
  const base = mkdtempSync(join(tmpdir(), 'vigil-background-listing-'));
  const dst = join(base, 'dst');
  mkdirSync(join(dst, 'docs'), { recursive: true });
  for (let i = 0; i < files; i++) {
    const path = join(dst, 'docs', fileName(i));
    writeFileSync(path, Buffer.alloc(bytes, i % 251));
    utimesSync(path, OLD, OLD);
  }
  const log: string[] = [];
  const opened: MirrorTarget[] = [];
  // One hook: node runs them in the order added, and a target writes its state as it closes.
  t.after(async () => {
    for (const target of opened) await target.close();
    rmSync(base, { recursive: true, force: true });
  });
  return {
    base, dst, log,
    open: async (ownIndexFile, seedWaitMs) => {
      const target = new MirrorTarget({
        id: MIRROR, folders: [dst], filter: compileGlobs([], []), stateFile: join(base, 'state.json'), spoolDir: join(base, 'spool'),
        spoolBytes: 16 * 1024 * 1024, applyOwner: false, state: INITIAL_STATE, log: (line) => log.push(line),
        listingIndexFile: join(base, 'target-listing.index'), ...(ownIndexFile !== undefined ? { ownIndexFile } : {}), backgroundListing: { blockSize: BLOCK, blockHash: 'xxh3-128' },
        ...(seedWaitMs !== undefined ? { seedWaitMs } : {}),
      }, INITIAL_STATE);
      await target.open();
      opened.push(target);
      return target;
    },
  };
}

/** A whole small file at the folder's top (a full mirror's copy has no docs/ until a record makes it). */
const put = (name: string, text: string): WireRecord => ({ op: 'put', path: `0/${name}`, mode: 0o644, mtimeMs: OLD.getTime(), data: Buffer.from(text) });

/** A resync as the source runs it: reset, the records, done (the source sends resync-done once all are applied). */
async function resync(target: MirrorTarget, records: readonly WireRecord[]): Promise<void> {
  await target.resetStream(0);
  let seq = 0;
  await Promise.all(records.map((r) => target.apply(++seq, encodeRecord(r))));
  await target.resyncDone(LINEAGE);
}

const lines = (log: readonly string[], pattern: RegExp): string[] => log.filter((line) => pattern.test(line));
const BACKGROUND_DONE = /listed the copy in the background: (\d+) files, (\d+) of them hashed/;

test('a resync that wrote to the copy makes the target list it in the background; one that wrote nothing does not', async (t) => {
  const n = node(t, 20, 3 * BLOCK);
  const target = await n.open();
  assert.deepEqual(lines(n.log, /background/), [], 'nothing due at the first start');
  // Read through a function: the compiler would take the first check as true of every later read.
  const status = (): MirrorTarget['backgroundListing'] => target.backgroundListing;
  await resync(target, []);
  assert.equal(status(), undefined, 'a resync that wrote nothing');
  await resync(target, [put('new', 'written by the resync\n')]);
  assert.equal(status()?.finishedAt, undefined, 'running, in the status');
  assert.ok(status() !== undefined);
  await until('the background listing is done', () => status()?.finishedAt !== undefined, 10_000);
  assert.equal(status()!.files, 21);
  assert.match(lines(n.log, BACKGROUND_DONE).join('\n'), /: 21 files, 21 of them hashed, in \d+\.\d\d s$/);
  assert.equal(existsSync(join(n.base, 'target-listing.index.due')), false, 'done: no longer due');
  // A differential mirror's listing now hashes nothing.
  await target.listing(BLOCK, 'xxh3-128');
  assert.match(lines(n.log, /: listed \d+ files/).at(-1)!, /listed 21 files, 0 of them hashed/);
});

test('a background listing stopped by the agent\'s stop carries on at its next start; a listing asked meanwhile waits and hashes nothing', async (t) => {
  const n = node(t, 40, 3 * BLOCK);
  const first = await n.open();
  await resync(first, [put('new', 'written by the resync\n')]);
  // Stopped before its first file: due, and nothing done.
  await first.close();
  assert.deepEqual(lines(n.log, BACKGROUND_DONE), []);
  assert.equal(existsSync(join(n.base, 'target-listing.index.due')), true);
  const second = await n.open();
  assert.ok(second.backgroundListing !== undefined && second.backgroundListing.finishedAt === undefined, 'carried on at the start');
  // Asked while the background listing runs: it waits for it, and then reads nothing.
  const listed = await second.listing(BLOCK, 'xxh3-128');
  assert.equal(listed.filter((f) => f.type === 'file').length, 41);
  // One background listing did it all: the first stopped, and its store was saved before the second read it.
  assert.deepEqual(lines(n.log, BACKGROUND_DONE).map((line) => BACKGROUND_DONE.exec(line)!.slice(1)), [['41', '41']]);
  assert.match(lines(n.log, /: listed \d+ files/).at(-1)!, /listed 41 files, 0 of them hashed/);
});

test('a full mirror drops the listing index of the copy it empties, and the copy it writes is listed in the background', async (t) => {
  const n = node(t, 10, 3 * BLOCK);
  const target = await n.open();
  await target.listing(BLOCK, 'xxh3-128');
  assert.ok(existsSync(join(n.base, 'target-listing.index')));
  await target.clear();
  assert.equal(existsSync(join(n.base, 'target-listing.index')), false, 'the hashes of the emptied copy are gone');
  await resync(target, [put('a', 'one\n'), put('b', 'two\n')]);
  await until('the background listing is done', () => target.backgroundListing?.finishedAt !== undefined, 10_000);
  assert.match(lines(n.log, BACKGROUND_DONE).join('\n'), /: 2 files, 2 of them hashed/);
});

test('a full mirror drops the index this node made as the source too: the files it writes are hashed, not vouched for by it', async (t) => {
  const n = node(t, 10, 3 * BLOCK);
  const own = join(n.base, 'source.index');
  // This node's index as the source, of the files as they are: a listing takes every one of them from it.
  const index = await BlockIndexStore.open(own, 'xxh3-128');
  for (let i = 0; i < 10; i++) index.set(`0/docs/${fileName(i)}`, await indexFile(join(n.dst, 'docs', fileName(i)), BLOCK, undefined, 'xxh3-128'));
  await index.save();
  const target = await n.open(own);
  await target.listing(BLOCK, 'xxh3-128');
  assert.match(lines(n.log, /: listed \d+ files/).at(-1)!, /listed 10 files, 0 of them hashed .*10 of those since this node sent them as the source/);
  await target.clear();
  assert.equal(existsSync(own), false, 'the hashes this node made of the emptied copy as the source are gone');
  // The same names, sizes and times again; the file system may give them the inodes of the files removed.
  await resync(target, [{ op: 'mkdir', path: '0/docs', mode: 0o755 },
    ...Array.from({ length: 10 }, (_, i) => ({ ...put(`docs/${fileName(i)}`, ''), data: Buffer.alloc(3 * BLOCK, (i + 1) % 251) }))]);
  await until('the background listing is done', () => target.backgroundListing?.finishedAt !== undefined, 10_000);
  assert.match(lines(n.log, BACKGROUND_DONE).join('\n'), /: 10 files, 10 of them hashed/);
});

test('records that land while the background listing reads never leave a hash that does not say what the file holds', async (t) => {
  const FILES = 120;
  const BLOCKS = 256;
  const n = node(t, FILES, BLOCKS * BLOCK);
  const target = await n.open();
  await resync(target, [put('new', 'written by the resync\n')]);
  // The listing reads the files in name order, LISTING_LOOKAHEAD (16) ahead of those it has listed: each record
  // goes to a file in that window, so that many land while that very file is read. Each file is written once (a
  // later write would make an entry stale however it was made): a piece rewritten in place, then the file's time
  // as a source's meta record sets it (an old time, so the index does not take it as racy).
  const written = new Set<number>();
  const landing: Promise<void>[] = [];
  let seq = 1000;
  for (let progress = target.backgroundListing; progress !== undefined && progress.finishedAt === undefined; progress = target.backgroundListing) {
    const k = progress.files + Math.floor(Math.random() * 16);
    if (k < FILES && !written.has(k)) {
      written.add(k);
      const offset = Math.floor(Math.random() * BLOCKS) * BLOCK;
      landing.push(target.apply(++seq, encodeRecord({ op: 'write', path: `0/docs/${fileName(k)}`, offset, data: Buffer.alloc(4 * BLOCK, 0xee) })));
      landing.push(target.apply(++seq, encodeRecord({ op: 'meta', path: `0/docs/${fileName(k)}`, mtimeMs: OLD.getTime() + (k + 1) * 1000 })));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(landing);
  assert.match(lines(n.log, BACKGROUND_DONE).join('\n'), /: 121 files/);
  assert.ok(written.size > 10, `records landed while it read (${written.size} files written)`);
  // What the listing index vouches for equals what reading every file again finds.
  const trusted = await target.listing(BLOCK, 'xxh3-128');
  const read = await target.listing(BLOCK, 'xxh3-128', true);
  const blocks = (files: typeof trusted): string[] => files.filter((f) => f.type === 'file').map((f) => `${f.path} ${f.size} ${f.blocks}`).sort();
  assert.deepEqual(blocks(trusted), blocks(read));
});

test('the hashes a source sends after a resync are taken where size and mtime are those it sent: the background listing reads none of those files', async (t) => {
  const n = node(t, 0, 0);
  const target = await n.open();
  const files = Array.from({ length: 6 }, (_, i) => ({ path: `0/${fileName(i)}`, data: Buffer.alloc(2 * BLOCK + i, i + 1) }));
  await target.resetStream(0);
  let seq = 0;
  await Promise.all(files.map((f) => target.apply(++seq, encodeRecord({ op: 'put', path: f.path, mode: 0o644, mtimeMs: OLD.getTime(), data: f.data }))));
  // The source says its hashes follow: the background listing waits for them.
  await target.resyncDone(LINEAGE, true);
  const hashesOf = async (i: number): Promise<string> => (await indexFile(join(n.dst, fileName(i)), BLOCK, undefined, 'xxh3-128')).hashes.toString('base64');
  const seed = async (i: number): Promise<{ path: string; size: number; mtimeMs: number; blocks: string }> =>
    ({ path: files[i]!.path, size: files[i]!.data.length, mtimeMs: OLD.getTime(), blocks: await hashesOf(i) });
  await assert.rejects(target.seedListing(BLOCK, 'xxh3-128', [{ ...await seed(0), blocks: 'AAAA' }], false), /index of 0\/f0000: hashes holds 3 bytes/);
  assert.equal(await target.seedListing(BLOCK, 'sha256-128', [await seed(0)], false), 0, 'hashes other than the listing\'s are not taken');
  const taken = await target.seedListing(BLOCK, 'xxh3-128', [
    await seed(0), await seed(1), await seed(2),
    // Hashes of another version (here another file's): a size or an mtime that is not the file's says so.
    { ...await seed(3), mtimeMs: OLD.getTime() + 1000, blocks: await hashesOf(2) },
    { ...await seed(4), size: files[4]!.data.length + 1, blocks: await hashesOf(2) },
  ], false);
  assert.equal(taken, 3);
  assert.equal(target.backgroundListing, undefined, 'not before the last call');
  assert.equal(await target.seedListing(BLOCK, 'xxh3-128', [{ ...await seed(4), path: '0/missing' }]), 0);
  await until('the background listing is done', () => target.backgroundListing?.finishedAt !== undefined, 10_000);
  assert.match(lines(n.log, BACKGROUND_DONE).join('\n'), /: 6 files, 3 of them hashed/);
  // What the listing index vouches for equals what reading every file again finds.
  const trusted = await target.listing(BLOCK, 'xxh3-128');
  const read = await target.listing(BLOCK, 'xxh3-128', true);
  const blocks = (listed: typeof trusted): string[] => listed.filter((f) => f.type === 'file').map((f) => `${f.path} ${f.size} ${f.blocks}`).sort();
  assert.deepEqual(blocks(trusted), blocks(read));
});

test('block hashes a source said would follow and never sent: the background listing starts on its own after a while', async (t) => {
  const n = node(t, 3, BLOCK);
  const target = await n.open(undefined, 300);
  await target.resetStream(0);
  await target.apply(1, encodeRecord(put('new', 'written by the resync\n')));
  await target.resyncDone(LINEAGE, true);
  assert.equal(target.backgroundListing, undefined, 'it waits for the hashes');
  await until('the background listing is done', () => target.backgroundListing?.finishedAt !== undefined, 10_000);
  assert.match(lines(n.log, BACKGROUND_DONE).join('\n'), /: 4 files, 4 of them hashed/);
});

test('while the target\'s writes are paused the background listing waits: it lists the copy once the spool has landed', async (t) => {
  const n = node(t, 10, 3 * BLOCK);
  const target = await n.open();
  const status = (): MirrorTarget['backgroundListing'] => target.backgroundListing;
  await target.pause();
  // The resync's records wait in the spool: listing the frozen copy now would list what is about to change.
  await resync(target, [put('spooled', 'applied on resume\n')]);
  assert.equal(status(), undefined, 'not while paused');
  assert.equal(existsSync(join(n.dst, 'spooled')), false);
  await target.resume();
  assert.ok(existsSync(join(n.dst, 'spooled')), 'the spool landed first');
  await until('the background listing is done', () => status()?.finishedAt !== undefined, 10_000);
  assert.match(lines(n.log, BACKGROUND_DONE).join('\n'), /: 11 files, 11 of them hashed/);
});

test('a promotion (or the agent\'s stop) does not wait for the hashing of a large file: the background listing gives it up', async (t) => {
  const n = node(t, 3, 3 * BLOCK);
  // A terabyte without a byte on disk (a sparse file): hashing its zeros would take minutes.
  const huge = join(n.dst, 'docs', 'huge.img');
  writeFileSync(huge, '');
  truncateSync(huge, 2 ** 40);
  utimesSync(huge, OLD, OLD);
  const target = await n.open();
  await resync(target, [put('new', 'written by the resync\n')]);
  // Once its read thread has the huge file open (this process's descriptors say so), stop it.
  const hashing = (): boolean => readdirSync('/proc/self/fd').some((fd) => {
    try { return readlinkSync(`/proc/self/fd/${fd}`) === huge; } catch { return false; }
  });
  await until('the background listing is hashing the huge file', hashing, 10_000);
  let stopped = false;
  const stopping = target.stopBackgroundListing().then(() => { stopped = true; });
  // A bound for the test only (the hashing would need minutes), not a timing judged.
  await until('the background listing stopped', () => stopped, 30_000);
  await stopping;
  assert.deepEqual(lines(n.log, BACKGROUND_DONE), [], 'it did not finish');
  assert.match(lines(n.log, /background listing stopped/).join('\n'), /stopped after \d+ files \(what it hashed is kept/);
  assert.equal(hashing(), false, 'the huge file is closed');
  assert.ok(existsSync(join(n.base, 'target-listing.index.due')), 'still due');
});

test('the due mark: due at once, ended by a listing that completes after it, not by one that completed before it', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-due-mark-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dueFile = join(base, 'target-listing.index.due');
  const index = new ListingIndex(join(base, 'target-listing.index'), (line) => assert.fail(line));
  const listing = async (between?: () => Promise<void>): Promise<void> => {
    const store = await index.open('xxh3-128');
    assert.ok(store !== undefined);
    await index.keepOnly(store, new Set());
    await between?.();
    await index.close();
  };
  const marked = index.markDue();
  assert.equal(index.due, true, 'due before its file is written');
  await marked;
  assert.equal(existsSync(dueFile), true);
  await listing();
  assert.equal(index.due, false);
  assert.equal(existsSync(dueFile), false);
  // A resync wrote to the copy after the listing had read it through, before it let its store go: still due.
  await index.markDue();
  await listing(() => index.markDue());
  assert.equal(index.due, true);
  assert.equal(existsSync(dueFile), true);
});
