// The change detector and the applier together, without the network: each step changes the source tree, the
// detector turns the changed paths into records (through their binary encoding, as the journal and the wire
// carry them), the applier applies them to the target, and the target must equal the source by content hash and
// mode. The records are also checked for what travels: appends only the new bytes, renames as renames.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, chownSync, lchownSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, lutimesSync, writeFileSync, openSync, writeSync, closeSync, lstatSync as statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { Applier } from '../../../agent/replication/apply.js';
import { BlockIndexStore, NO_MTIME, indexFile } from '../../../agent/replication/block-index.js';
import { ChangeDetector, splitVirtualPath } from '../../../agent/replication/changes.js';
import { compileGlobs } from '../../../agent/replication/glob.js';
import { decodeRecord, encodeRecord, type ChangeRecord } from '../../../agent/replication/records.js';
import { verifyTrees } from '../../../agent/replication/verify.js';
import { zeroRuns } from '../../../agent/replication/zero-runs.js';
import { prng } from '../../support/dataset.js';
import { extendedAttributes } from '../../../agent/replication/xattrs.js';
import { execFileSync } from 'node:child_process';

interface Rig {
  readonly src: string[];
  readonly dst: string[];
  readonly detector: ChangeDetector;
  readonly index: BlockIndexStore;
  /** Run the detector on these paths (or a full reconcile), apply, and return what travelled. */
  sync(paths?: string[], thorough?: boolean, puts?: boolean): Promise<ChangeRecord[]>;
  equal(): Promise<void>;
}

/**
 * `owner`: the detector sends uid and gid, the applier sets them, and equal() compares them (root only). `xattrs`:
 * the same of extended attributes, ACLs among them.
 */
async function rig(t: TestContext, folders = 1, exclude: string[] = [], owner = false, xattrs = false): Promise<Rig> {
  const access = xattrs ? extendedAttributes().access : undefined;
  if (xattrs) assert.ok(access !== undefined, 'the xattrs addon loads here');
  const base = mkdtempSync(join(tmpdir(), 'vigil-changes-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const src = Array.from({ length: folders }, (_, k) => join(base, `src${k}`));
  const dst = Array.from({ length: folders }, (_, k) => join(base, `dst${k}`));
  for (const d of [...src, ...dst]) mkdirSync(d);
  const filter = compileGlobs([], exclude);
  const index = await BlockIndexStore.open(join(base, 'index'));
  const detector = new ChangeDetector({ folders: src, filter, index, blockSize: 4096, owner, ...(access === undefined ? {} : { xattrs: access }) });
  detector.xattrs = xattrs;
  t.after(() => detector.close());
  const appliers = dst.map((d) => new Applier(d, { applyOwner: owner, ...(access === undefined ? {} : { xattrs: access }) }));
  t.after(async () => { for (const a of appliers) await a.close(); });
  return {
    src, dst, detector, index,
    async sync(paths, thorough = false, puts = false) {
      const records: ChangeRecord[] = [];
      for await (const r of paths === undefined ? detector.reconcile({ puts }) : detector.changes(paths, thorough)) {
        const wire = decodeRecord(encodeRecord(r));
        if (wire.op === 'puts') throw new Error('the detector yields records of one path each, never puts');
        records.push(wire);
        const path = wire.op === 'rename' ? wire.from : wire.path;
        const { folder, rel } = splitVirtualPath(path);
        // The folder itself ("0") is the applier's root: a mkdir of it is a no-op there; its meta and attributes are
        // set on it (as MirrorTarget does).
        if (rel === '') {
          if (wire.op === 'meta' || wire.op === 'xattrs') await appliers[folder]!.applyToRoot(wire);
          continue;
        }
        const strip = (v: string): string => splitVirtualPath(v).rel;
        const local: ChangeRecord = wire.op === 'rename' ? { ...wire, from: strip(wire.from), to: strip(wire.to) }
          : wire.op === 'link' ? { ...wire, path: strip(wire.path), existing: strip(wire.existing) } : { ...wire, path: strip(wire.path) } as ChangeRecord;
        await appliers[folder]!.apply(local);
      }
      for (const a of appliers) await a.sync();
      return records;
    },
    async equal() {
      for (let k = 0; k < folders; k++) {
        // Times too: of files, of symlinks, and of folders (set after the entries that move them), the root's as well.
        const report = await verifyTrees(src[k]!, dst[k]!, filter, { checkMtime: true, checkOwner: owner, checkXattrs: xattrs });
        assert.ok(report.equal, JSON.stringify(report));
        // To the microsecond, as verify compares times (utimes takes seconds as a double).
        const rootDrift = Math.abs(statSync(dst[k]!).mtimeMs - statSync(src[k]!).mtimeMs);
        assert.ok(rootDrift < 0.002, `the root folder's mtime is ${rootDrift} ms off`);
      }
    },
  };
}

const bytesSent = (records: readonly ChangeRecord[]): number => records.reduce((n, r) => n + (r.op === 'write' ? r.data.length : 0), 0);

test('a burst of creates, appends, overwrites, truncates, renames (also over a file) and deletes converges', async (t) => {
  const r = await rig(t);
  const [src] = r.src as [string];
  mkdirSync(join(src, 'docs/deep/er'), { recursive: true });
  writeFileSync(join(src, 'docs/a.txt'), 'hello');
  writeFileSync(join(src, 'docs/deep/er/big.bin'), Buffer.alloc(100_000, 7));
  writeFileSync(join(src, 'b.txt'), 'bee');
  symlinkSync('docs/a.txt', join(src, 'link'));
  await r.sync();
  await r.equal();

  appendFileSync(join(src, 'docs/deep/er/big.bin'), Buffer.alloc(10, 9));
  const appended = await r.sync(['0/docs/deep/er/big.bin']);
  assert.equal(bytesSent(appended), 10, 'an append sends only the appended bytes');
  await r.equal();

  const fd = openSync(join(src, 'docs/deep/er/big.bin'), 'r+');
  writeSync(fd, Buffer.from('XYZ'), 0, 3, 50_000);
  closeSync(fd);
  const overwritten = await r.sync(['0/docs/deep/er/big.bin']);
  assert.equal(bytesSent(overwritten), 4096, 'an overwrite sends the one block it touched');
  await r.equal();

  truncateSync(join(src, 'docs/deep/er/big.bin'), 30_000);
  const truncated = await r.sync(['0/docs/deep/er/big.bin']);
  assert.ok(truncated.some((x) => x.op === 'truncate' && x.size === 30_000));
  assert.ok(bytesSent(truncated) < 4096, 'at most the new, shorter last block travels');
  await r.equal();

  renameSync(join(src, 'docs/deep/er/big.bin'), join(src, 'moved.bin'));
  const moved = await r.sync(['0/docs/deep/er/big.bin', '0/moved.bin']);
  assert.deepEqual(moved.filter((x) => x.op === 'rename'), [{ op: 'rename', from: '0/docs/deep/er/big.bin', to: '0/moved.bin' }]);
  assert.equal(bytesSent(moved), 0, 'a rename travels as a rename, not a copy');
  await r.equal();

  renameSync(join(src, 'moved.bin'), join(src, 'b.txt')); // over an existing file
  await r.sync(['0/moved.bin', '0/b.txt']);
  await r.equal();

  rmSync(join(src, 'docs'), { recursive: true });
  chmodSync(join(src, 'b.txt'), 0o600);
  const deleted = await r.sync(['0/docs', '0/b.txt']);
  assert.ok(deleted.some((x) => x.op === 'delete' && x.path === '0/docs'));
  await r.equal();
});

test('reconcile finds what changed while nobody watched, and a second reconcile sends nothing', async (t) => {
  const r = await rig(t, 2, ['*.tmp']);
  writeFileSync(join(r.src[0]!, 'one.txt'), '1');
  writeFileSync(join(r.src[1]!, 'two.txt'), '2');
  writeFileSync(join(r.src[1]!, 'skip.tmp'), 'excluded');
  await r.sync();
  await r.equal();
  const again = await r.sync();
  assert.deepEqual(again.filter((x) => x.op !== 'meta'), [], 'only metadata, no data, when nothing changed');
  assert.ok(!again.some((x) => x.op === 'meta' && x.path.endsWith('.tmp')), 'excluded files are not mirrored');
  rmSync(join(r.src[0]!, 'one.txt'));
  writeFileSync(join(r.src[1]!, 'two.txt'), '22');
  mkdirSync(join(r.src[1]!, 'new/sub'), { recursive: true });
  writeFileSync(join(r.src[1]!, 'new/sub/x'), 'x');
  const records = await r.sync();
  assert.ok(records.some((x) => x.op === 'delete' && x.path === '0/one.txt'));
  await r.equal();
});

test('a new file that takes the inode of a file gone from another mirrored folder is not a rename from there', async (t) => {
  const r = await rig(t, 2);
  writeFileSync(join(r.src[0]!, 'gone.txt'), 'in folder 0\n');
  await r.sync();
  // The freed inode taken by a new file in folder 1, as a file system may hand it out again (or a second file
  // system number its own inodes alike): made so here, rather than hoped for.
  writeFileSync(join(r.src[1]!, 'new.txt'), 'in folder 1\n');
  const taken = statSync(join(r.src[1]!, 'new.txt')).ino;
  r.index.set('0/gone.txt', { ...(await indexFile(join(r.src[0]!, 'gone.txt'), 4096)), ino: taken });
  rmSync(join(r.src[0]!, 'gone.txt'));
  const records = await r.sync(['0/gone.txt', '1/new.txt']);
  assert.deepEqual(records.filter((x) => x.op === 'rename'), [], 'no rename across folders');
  assert.ok(records.some((x) => x.op === 'delete' && x.path === '0/gone.txt'));
  assert.ok(records.some((x) => (x.op === 'put' || x.op === 'create') && x.path === '1/new.txt'));
  await r.equal();
});

test('folder and symlink times travel after the entries that move them, again whenever a record moves the target\'s', async (t) => {
  const r = await rig(t);
  const [src] = r.src as [string];
  mkdirSync(join(src, 'd/e'), { recursive: true });
  writeFileSync(join(src, 'd/a'), 'a');
  symlinkSync('a', join(src, 'd/link'));
  utimesSync(join(src, 'd/e'), 1_500_000_000, 1_500_000_000);
  await r.sync();
  await r.equal();
  // Each change of an entry sends its folder's new time, after it.
  writeFileSync(join(src, 'd/e/new'), 'n');
  let records = await r.sync(['0/d/e/new']);
  assert.deepEqual(records.map((x) => `${x.op} ${x.op === 'rename' ? x.from : x.path}`), ['create 0/d/e/new', 'write 0/d/e/new', 'meta 0/d/e/new', 'meta 0/d/e']);
  await r.equal();
  renameSync(join(src, 'd/a'), join(src, 'moved'));
  records = await r.sync(['0/d/a', '0/moved']);
  assert.deepEqual(records.filter((x) => x.op === 'meta').map((x) => (x as { path: string }).path).sort(), ['0', '0/d']);
  await r.equal();
  // Whatever a step left to send is sent, so the next step sees only its own records.
  const settle = async (): Promise<void> => {
    await r.sync(['0/d', '0']);
  };
  await settle();
  // An entry made and removed again before the detector looked (a temp file): no record of it, its folder's time.
  writeFileSync(join(src, 'd/scratch'), 's');
  rmSync(join(src, 'd/scratch'));
  records = await r.sync(['0/d/scratch']);
  assert.deepEqual(records.map((x) => `${x.op} ${(x as { path: string }).path}`), ['meta 0/d']);
  await r.equal();
  await settle();
  // Entries made before a look whose records come in a later pass (events arrive in batches): the source's time
  // is the one already sent, the target's moves again as they land, so it is sent again.
  writeFileSync(join(src, 'd/x1'), '1');
  writeFileSync(join(src, 'd/x2'), '2');
  records = await r.sync(['0/d/x1']);
  assert.deepEqual(records.filter((x) => x.op === 'meta').map((x) => (x as { path: string }).path), ['0/d/x1', '0/d']);
  records = await r.sync(['0/d/x2']);
  assert.deepEqual(records.filter((x) => x.op === 'meta').map((x) => (x as { path: string }).path), ['0/d/x2', '0/d']);
  await r.equal();
  await settle();
  // A folder, and a symlink, touched without being changed otherwise: only the time travels.
  utimesSync(join(src, 'd/e'), 1_600_000_000, 1_600_000_000);
  lutimesSync(join(src, 'd/link'), 1_600_000_000, 1_600_000_000);
  records = await r.sync(['0/d/e', '0/d/link']);
  assert.deepEqual(records.map((x) => `${x.op} ${(x as { path: string }).path}`).sort(), ['meta 0/d/e', 'meta 0/d/link']);
  // Nothing changed: nothing sent.
  assert.deepEqual(await r.sync(['0/d/e', '0/d/link']), []);
  await r.equal();
  // An entry made within the same clock tick as the last look leaves the folder's time as sent (here: set back
  // to it), but its record moves the target's: the time is sent again.
  utimesSync(join(src, 'd'), 1_700_000_000, 1_700_000_000);
  records = await r.sync(['0/d']);
  assert.deepEqual(records.map((x) => `${x.op} ${(x as { path: string }).path}`), ['meta 0/d']);
  writeFileSync(join(src, 'd/b'), 'b');
  utimesSync(join(src, 'd'), 1_700_000_000, 1_700_000_000);
  assert.equal(statSync(join(src, 'd')).mtimeMs, 1_700_000_000_000);
  records = await r.sync(['0/d/b']);
  assert.ok(records.some((x) => x.op === 'meta' && x.path === '0/d'), 'the time is sent again');
  await r.equal();
});

test('as root, owners travel: of files, folders and symlinks, at the first look and after a chown', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const r = await rig(t, 1, [], true);
  const src = r.src[0]!;
  mkdirSync(join(src, 'd'));
  writeFileSync(join(src, 'd/f'), 'owned');
  symlinkSync('f', join(src, 'd/link'));
  chownSync(join(src, 'd'), 4101, 4102);
  chownSync(join(src, 'd/f'), 4103, 4104);
  lchownSync(join(src, 'd/link'), 4105, 4106);
  await r.sync();
  await r.equal();
  assert.deepEqual([statSync(join(r.dst[0]!, 'd/link')).uid, statSync(join(r.dst[0]!, 'd/link')).gid], [4105, 4106], 'the link itself, not its target');

  // A chown alone is an attribute change the watcher reports by path: each travels as a meta record.
  chownSync(join(src, 'd'), 4201, 4202);
  chownSync(join(src, 'd/f'), 4203, 4204);
  lchownSync(join(src, 'd/link'), 4205, 4206);
  const records = await r.sync(['0/d', '0/d/f', '0/d/link']);
  await r.equal();
  assert.deepEqual(records.filter((x) => x.op !== 'meta'), [], 'only metadata travels');
  assert.deepEqual(records.flatMap((x) => (x.op === 'meta' && x.uid !== undefined ? [x.path] : [])).sort(), ['0/d', '0/d/f', '0/d/link']);
  assert.equal(statSync(join(r.dst[0]!, 'd/f')).uid, 4203, 'the link\'s target keeps its own owner');
});

test('with puts, a reconcile sends each small file the target lacks as one record; large, renamed and changed files as before', async (t) => {
  const r = await rig(t);
  mkdirSync(join(r.src[0]!, 'docs'));
  for (let i = 0; i < 20; i++) writeFileSync(join(r.src[0]!, `docs/f${i}`), `file ${i} `.repeat(i * 100));
  chmodSync(join(r.src[0]!, 'docs/f3'), 0o600);
  const large = Buffer.alloc(1024 * 1024 + 10);
  for (let i = 0; i + 4 <= large.length; i += 4) large.writeUInt32LE(i, i);
  writeFileSync(join(r.src[0]!, 'large.bin'), large);
  const first = await r.sync(undefined, false, true);
  await r.equal();
  const ops = (path: string): string[] => first.filter((x) => x.op !== 'rename' && x.path === path).map((x) => x.op);
  for (let i = 0; i < 20; i++) assert.deepEqual(ops(`0/docs/f${i}`), ['put'], `docs/f${i}`);
  assert.deepEqual(ops('0/large.bin'), ['create', 'write', 'write', 'meta'], 'larger than a whole read: as before');
  const again = await r.sync(undefined, false, true);
  assert.deepEqual(again.filter((x) => x.op !== 'meta' || x.path.startsWith('0/docs/')), [], 'nothing again, not even the metadata a put carried');
  // A rename is still a rename, and a change to a file the target has sends only the changed block.
  renameSync(join(r.src[0]!, 'docs/f5'), join(r.src[0]!, 'docs/moved'));
  const f9 = join(r.src[0]!, 'docs/f9');
  const fd = openSync(f9, 'r+');
  writeSync(fd, Buffer.from('CHANGED'), 0, 7, 10);
  closeSync(fd);
  const third = await r.sync(undefined, false, true);
  await r.equal();
  assert.ok(third.some((x) => x.op === 'rename' && x.from === '0/docs/f5' && x.to === '0/docs/moved'));
  assert.deepEqual(third.filter((x) => x.op !== 'rename' && x.path === '0/docs/f9').map((x) => x.op), ['write', 'meta']);
  assert.ok(!third.some((x) => x.op === 'put'));
});

test('with puts, a small file where a folder or a symlink was goes as a delete, then its put', async (t) => {
  const r = await rig(t);
  mkdirSync(join(r.src[0]!, 'was-folder'));
  writeFileSync(join(r.src[0]!, 'was-folder/inner'), 'inner');
  symlinkSync('elsewhere', join(r.src[0]!, 'was-link'));
  await r.sync(undefined, false, true);
  await r.equal();
  rmSync(join(r.src[0]!, 'was-folder'), { recursive: true });
  rmSync(join(r.src[0]!, 'was-link'));
  writeFileSync(join(r.src[0]!, 'was-folder'), 'now a file');
  writeFileSync(join(r.src[0]!, 'was-link'), 'now a file too');
  const second = await r.sync(undefined, false, true);
  await r.equal();
  for (const path of ['0/was-folder', '0/was-link']) {
    assert.deepEqual(second.filter((x) => x.op !== 'rename' && x.op !== 'meta' && x.path === path).map((x) => x.op), ['delete', 'put'], path);
  }
});

test('a new file larger than the whole-read limit travels in one pass of contiguous writes, and a later change to one block only that block', async (t) => {
  const r = await rig(t);
  const size = 3 * 1024 * 1024 + 123;
  const data = Buffer.alloc(size + 4);
  for (let i = 0; i < size; i += 4) data.writeUInt32LE(i, i); // no two blocks alike
  writeFileSync(join(r.src[0]!, 'large.bin'), data.subarray(0, size));
  const first = await r.sync();
  const writes = first.filter((x): x is Extract<ChangeRecord, { op: 'write' }> => x.op === 'write' && x.path === '0/large.bin');
  assert.deepEqual(writes.map((w) => w.offset), [0, 1, 2, 3].map((m) => m * 1024 * 1024), 'chunks of 1 MiB, in order, each once');
  assert.equal(writes.reduce((n, w) => n + w.data.length, 0), size);
  await r.equal();
  // The index made in that one pass is exact: changing one 4 KiB block sends just it.
  const fd = openSync(join(r.src[0]!, 'large.bin'), 'r+');
  writeSync(fd, Buffer.alloc(10, 0xee), 0, 10, 2 * 1024 * 1024 + 5000);
  closeSync(fd);
  const second = await r.sync(['0/large.bin']);
  const changed = second.filter((x) => x.op === 'write');
  assert.deepEqual(changed.map((w) => [w.op === 'write' ? w.offset : -1, w.op === 'write' ? w.data.length : -1]), [[2 * 1024 * 1024 + 4096, 4096]]);
  await r.equal();
});

test('a reconcile hashes changed large files beside its scan: each sends only its changed blocks (after the files scanned later), one grown a little only its new bytes', async (t) => {
  const r = await rig(t);
  const size = 2 * 1024 * 1024 + 777;
  const names = ['l1.bin', 'l2.bin', 'l3.bin', 'l4.bin'];
  for (const [k, name] of names.entries()) {
    const data = Buffer.alloc(size + 4);
    for (let i = 0; i < size; i += 4) data.writeUInt32LE(i * 7 + k, i);
    writeFileSync(join(r.src[0]!, name), data.subarray(0, size));
  }
  writeFileSync(join(r.src[0]!, 'z.txt'), 'scanned after the large files\n');
  await r.sync();
  writeFileSync(join(r.src[0]!, 'z.txt'), 'scanned after the large files, and changed\n');
  const poke = (name: string, at: number): void => {
    const fd = openSync(join(r.src[0]!, name), 'r+');
    writeSync(fd, Buffer.alloc(3, 0xab), 0, 3, at);
    closeSync(fd);
  };
  poke('l1.bin', 5000);
  poke('l2.bin', 1024 * 1024 + 10);
  poke('l2.bin', size - 3);
  appendFileSync(join(r.src[0]!, 'l3.bin'), Buffer.alloc(100, 0xcd));
  const records = await r.sync();
  const writes = records.filter((x): x is Extract<ChangeRecord, { op: 'write' }> => x.op === 'write').map((w) => `${w.path} ${w.offset} ${w.data.length}`);
  const lastBlock = Math.floor((size - 3) / 4096) * 4096;
  assert.deepEqual(writes.filter((w) => !w.startsWith('0/z.txt')).sort(), [`0/l1.bin 4096 4096`, `0/l2.bin ${1024 * 1024} 4096`, `0/l2.bin ${lastBlock} ${size - lastBlock}`, `0/l3.bin ${size} 100`].sort());
  // The scan did not wait for the hashing: the small file after them in scan order went first.
  const at = (path: string): number => records.findIndex((x) => x.op === 'write' && x.path === path);
  assert.ok(at('0/z.txt') >= 0 && at('0/z.txt') < at('0/l1.bin') && at('0/z.txt') < at('0/l2.bin'), writes.join('; '));
  await r.equal();
});

test('an append is read from the old last block on; a rewrite that came with it is found by the check of trusted appends', async (t) => {
  const r = await rig(t);
  const path = join(r.src[0]!, 'grows.log');
  const block = (fill: number, length = 4096): Buffer => Buffer.alloc(length, fill);
  writeFileSync(path, Buffer.concat([block(1), block(2), block(3, 1000)]));
  await r.sync();
  assert.equal(r.detector.hasTrustedAppends, false, 'a file read whole is not taken on trust');

  // A pure append: only the new bytes travel, and the file is trusted until checked. (Its mtime is set long past:
  // a check that reads a file still within its mtime's clock tick keeps the trust, see RACY_MS.)
  const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  appendFileSync(path, block(4, 5000));
  utimesSync(path, past, past);
  const append = await r.sync(['0/grows.log']);
  assert.deepEqual(append.filter((x) => x.op === 'write').map((w) => w.op === 'write' ? [w.offset, w.data.length] : []), [[9192, 5000]]);
  await r.equal();
  assert.equal(r.detector.hasTrustedAppends, true);
  assert.deepEqual(await r.detector.suspectAppends(), [], 'nothing older changed');
  assert.equal(r.detector.hasTrustedAppends, false, 'a file that matched is trusted no more');

  // An append that came with a rewrite of an older block: the append alone travels at first...
  const fd = openSync(path, 'r+');
  writeSync(fd, block(9, 10), 0, 10, 100);
  closeSync(fd);
  appendFileSync(path, block(5, 300));
  // An mtime long past: the index is not racy, so only the trust check can find the rewrite.
  utimesSync(path, past, past);
  const sneaky = await r.sync(['0/grows.log']);
  assert.deepEqual(sneaky.filter((x) => x.op === 'write').map((w) => w.op === 'write' ? w.offset : -1), [14192]);
  await assert.rejects(r.equal(), 'the rewrite has not travelled yet');
  // A later event of that rewrite, the file unchanged since: still taken on trust, not forgotten.
  assert.deepEqual((await r.sync(['0/grows.log'])).filter((x) => x.op === 'write'), []);
  assert.equal(r.detector.hasTrustedAppends, true);
  // ...and the check finds the file, whose thorough pass sends the rewritten block.
  assert.deepEqual(await r.detector.suspectAppends(), ['0/grows.log']);
  const thorough = await r.sync(['0/grows.log'], true);
  assert.deepEqual(thorough.filter((x) => x.op === 'write').map((w) => w.op === 'write' ? [w.offset, w.data.length] : []), [[0, 4096]]);
  await r.equal();

  // A rewrite of the old last (partial) block is never taken for an append.
  const tailFd = openSync(path, 'r+');
  writeSync(tailFd, block(7, 4), 0, 4, 14192 + 10);
  closeSync(tailFd);
  appendFileSync(path, block(6, 50));
  const tail = await r.sync(['0/grows.log']);
  assert.ok(tail.some((x) => x.op === 'write' && x.offset === 12288), JSON.stringify(tail.map((x) => x.op === 'write' ? x.offset : x.op)));
  await r.equal();
});

test('restarted over its saved index, a detector sends no meta record for a file it finds unchanged; a chmod or a touch made meanwhile travels', async (t) => {
  const r = await rig(t);
  mkdirSync(join(r.src[0]!, 'sub'));
  for (const name of ['a', 'b', 'c', 'sub/d']) writeFileSync(join(r.src[0]!, name), name.repeat(100));
  await r.sync();
  // The agent stops: its index is saved, and read back by the next one.
  await r.index.save();
  const index = await BlockIndexStore.open(r.index.file);
  const restarted = new ChangeDetector({ folders: r.src, filter: compileGlobs([], []), index, blockSize: 4096, owner: false });
  t.after(() => restarted.close());
  chmodSync(join(r.src[0]!, 'b'), 0o600);
  utimesSync(join(r.src[0]!, 'c'), new Date(), new Date(1_600_000_000_000));
  const records: ChangeRecord[] = [];
  for await (const x of restarted.reconcile()) records.push(x);
  const files = new Set(['0/a', '0/b', '0/c', '0/sub/d']);
  // Folders are not in the index: the restarted detector sends their mkdir and meta again (a few).
  const forFiles = records.filter((x) => x.op !== 'mkdir' && !(x.op === 'meta' && !files.has(x.path)));
  assert.deepEqual(forFiles.map((x) => `${x.op} ${x.op === 'rename' ? x.from : x.path}`).sort(), ['meta 0/b', 'meta 0/c'], 'only the files whose metadata changed');
  const applier = new Applier(r.dst[0]!);
  t.after(() => applier.close());
  for (const x of records) {
    const { rel } = splitVirtualPath(x.op === 'rename' ? x.from : x.path);
    if (rel !== '' && x.op !== 'rename') await applier.apply({ ...x, path: rel } as ChangeRecord);
  }
  await applier.sync();
  await r.equal();
  // What a file was last sent with is forgotten once its content travels again (its writes move the target's mtime).
  writeFileSync(join(r.src[0]!, 'a'), 'changed');
  const changed: ChangeRecord[] = [];
  for await (const x of restarted.changes(['0/a'], false)) changed.push(x);
  assert.ok(changed.some((x) => x.op === 'meta' && x.path === '0/a'));
  assert.equal(index.sentMeta('0/a')?.mtimeMs, statSync(join(r.src[0]!, 'a')).mtimeMs);
});

test('an append within the same clock tick as the last look (the mtime unchanged) still sends the mtime its writes moved', async (t) => {
  const r = await rig(t);
  const [src] = r.src as [string];
  const f = join(src, 'log');
  writeFileSync(f, Buffer.alloc(10_000, 1));
  utimesSync(f, 1_500_000_000, 1_500_000_000);
  await r.sync();
  await r.equal();
  appendFileSync(f, Buffer.alloc(3000, 2));
  utimesSync(f, 1_500_000_000, 1_500_000_000); // as a coarse clock leaves it
  const records = await r.sync(['0/log']);
  assert.deepEqual(records.map((x) => x.op), ['write', 'meta'], 'only the new bytes, then the time');
  await r.equal();
});

test('before the index is saved, appends taken on trust are marked so that a later reconcile reads those files whole', async (t) => {
  const r = await rig(t);
  const path = join(r.src[0]!, 'grows.log');
  writeFileSync(path, Buffer.alloc(5000, 1));
  await r.sync();
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(10, 9), 0, 10, 0);
  closeSync(fd);
  appendFileSync(path, Buffer.alloc(100, 2));
  await r.sync(['0/grows.log']);
  r.detector.distrustAppends();
  assert.equal(r.detector.hasTrustedAppends, false);
  assert.equal(r.index.get('0/grows.log')?.mtimeMs, -1);
  // The restarted agent's reconcile: the rewrite at byte 0 travels now.
  const again = await r.sync();
  assert.ok(again.some((x) => x.op === 'write' && x.offset === 0), JSON.stringify(again.map((x) => x.op)));
  await r.equal();
});

test('an index made while the file\'s mtime is still current is racy: a write that leaves the same mtime still travels', async (t) => {
  const r = await rig(t);
  const path = join(r.src[0]!, 'busy.dat');
  writeFileSync(path, Buffer.alloc(10_000, 1));
  // An mtime the clock has not passed yet stands for "changed within the coarse clock's tick". Whole seconds:
  // a Date carries whole milliseconds, and some sub-millisecond mtimes do not survive the trip through one.
  const future = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
  utimesSync(path, future, future);
  await r.sync();
  await r.equal();
  // A write in the same tick: size and mtime as indexed, other bytes.
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(10, 2), 0, 10, 5000);
  closeSync(fd);
  utimesSync(path, future, future);
  const again = await r.sync(['0/busy.dat']);
  assert.ok(again.some((x) => x.op === 'write' && x.offset === 4096), JSON.stringify(again.map((x) => x.op)));
  await r.equal();
});

test('a file read at a change lends its pooled buffer to each record made of it: one kept while the next file is read keeps its bytes', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-changes-pool-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const src = join(base, 'src');
  mkdirSync(src);
  const chunk = 256 * 1024;
  const index = await BlockIndexStore.open(join(base, 'index'));
  const detector = new ChangeDetector({ folders: [src], filter: compileGlobs([], []), index, blockSize: 4096, owner: false, writeChunk: chunk });
  t.after(() => detector.close());
  const file = (name: string): string => join(src, name);
  writeFileSync(file('a.bin'), Buffer.alloc(128 * 1024, 1));
  writeFileSync(file('b.bin'), Buffer.alloc(128 * 1024, 2));
  writeFileSync(file('c.log'), Buffer.alloc(20 * 1024, 3));
  writeFileSync(file('d.bin'), Buffer.alloc(1536 * 1024, 5)); // larger than a whole read: indexed, then ranges read
  // Every pool buffer a record has held so far: memory that is the pool's, not fresh.
  const lent = new Set<ArrayBufferLike>();
  for await (const r of detector.reconcile()) {
    if (r.op !== 'write') continue;
    if (r.data.buffer.byteLength === chunk) lent.add(r.data.buffer);
    detector.done(r.data);
  }
  type Write = Extract<ChangeRecord, { op: 'write' }>;
  /** The writes of `paths`; done() is called for each at once unless `keep` says to hold it. */
  const changes = async (paths: string[], keep: (w: Write) => boolean = () => false): Promise<Write[]> => {
    const writes: Write[] = [];
    for await (const r of detector.changes(paths)) {
      if (r.op !== 'write') continue;
      writes.push(r);
      if (!keep(r)) detector.done(r.data);
    }
    return writes;
  };
  const matchesFile = (w: Write): boolean => w.data.equals(readFileSync(file(splitVirtualPath(w.path).rel)).subarray(w.offset, w.offset + w.data.length));

  // a.bin changes in two distant blocks (two records, views of one buffer); b.bin changes whole and is read next.
  const fd = openSync(file('a.bin'), 'r+');
  writeSync(fd, Buffer.alloc(10, 7), 0, 10, 0);
  writeSync(fd, Buffer.alloc(10, 7), 0, 10, 100 * 1024);
  closeSync(fd);
  writeFileSync(file('b.bin'), Buffer.alloc(128 * 1024, 8));
  let aWrites = 0;
  const kept = await changes(['0/a.bin', '0/b.bin'], (w) => w.path === '0/a.bin' && ++aWrites === 2);
  const [a1, a2] = kept.filter((w) => w.path === '0/a.bin');
  assert.ok(a1 !== undefined && a2 !== undefined, 'two writes of a.bin');
  assert.equal(a1.data.buffer, a2.data.buffer, 'both are views of the buffer a.bin was read into');
  assert.equal(a1.data.buffer.byteLength, chunk, 'a buffer of the pool');
  const b = kept.filter((w) => w.path === '0/b.bin');
  assert.ok(b.length > 0 && b.every((w) => w.data.buffer !== a2.data.buffer), 'b.bin was read into other memory: a.bin\'s second record still held it');
  assert.ok(kept.every(matchesFile), 'every record holds its file\'s bytes');

  // Once the last holder is done, the buffer is lent again: here to an append's tail (16 KiB from the old end on).
  // Which free buffer it gets is not said: the chunks a large file's read asked beyond its end come back to the
  // pool when the read thread answers, which may be after a2 (they are the pool's last free ones then).
  detector.done(a2.data);
  for (const w of kept) lent.add(w.data.buffer);
  appendFileSync(file('c.log'), Buffer.alloc(16 * 1024, 4));
  const [tail] = await changes(['0/c.log']);
  assert.ok(tail !== undefined && tail.offset === 20 * 1024 && tail.data.length === 16 * 1024 && matchesFile(tail));
  assert.ok(lent.has(tail.data.buffer), 'a buffer given back is used again');

  // A large file's changed range (five blocks, 20 KiB) is read into a pool buffer too.
  const dfd = openSync(file('d.bin'), 'r+');
  writeSync(dfd, Buffer.alloc(20 * 1024, 9), 0, 20 * 1024, 512 * 1024);
  closeSync(dfd);
  const [range] = await changes(['0/d.bin']);
  assert.ok(range !== undefined && range.offset === 512 * 1024 && range.data.length === 20 * 1024 && matchesFile(range));
  assert.equal(range.data.buffer.byteLength, chunk, 'a buffer of the pool');
});

/** The names under `root` that are one file (hard links), as sorted groups of two or more. */
function linkGroups(root: string, names: readonly string[]): string[][] {
  const byInode = new Map<number, string[]>();
  for (const name of names) {
    let ino: number;
    try { ino = statSync(join(root, name)).ino; } catch { continue; }
    byInode.set(ino, [...byInode.get(ino) ?? [], name]);
  }
  return [...byInode.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort();
}

const linkRecords = (records: readonly ChangeRecord[]): string[] =>
  records.flatMap((x) => (x.op === 'link' ? [`${x.path} -> ${x.existing}`] : []));

test('hard links travel as links: a new name is one record, a change through one name reaches all, a name replaced or deleted leaves the others', async (t) => {
  const r = await rig(t);
  r.detector.hardLinks = true;
  const [src, dst] = [r.src[0]!, r.dst[0]!];
  const names = ['a.bin', 'b.bin', 'sub/c.bin', 'd.bin', 'single.txt'];
  mkdirSync(join(src, 'sub'));
  writeFileSync(join(src, 'a.bin'), Buffer.alloc(40_000, 1));
  linkSync(join(src, 'a.bin'), join(src, 'b.bin'));
  linkSync(join(src, 'a.bin'), join(src, 'sub/c.bin'));
  writeFileSync(join(src, 'single.txt'), 'alone');
  const first = await r.sync();
  await r.equal();
  assert.equal(bytesSent(first.filter((x) => x.op === 'write' && x.path !== '0/single.txt')), 40_000, 'the content travels once');
  assert.deepEqual(linkRecords(first), ['0/b.bin -> 0/a.bin', '0/sub/c.bin -> 0/a.bin']);
  assert.deepEqual(linkGroups(dst, names), [['a.bin', 'b.bin', 'sub/c.bin']]);
  assert.deepEqual(await r.sync(), [], 'a second look sends nothing');

  // Written through one name: the kernel reports that name alone, and the others are linked to it again.
  const fd = openSync(join(src, 'b.bin'), 'r+');
  writeSync(fd, Buffer.from('through b'), 0, 9, 20_000);
  closeSync(fd);
  const written = await r.sync(['0/b.bin']);
  assert.equal(bytesSent(written), 4096, 'the changed block, once');
  assert.deepEqual(linkRecords(written).sort(), ['0/a.bin -> 0/b.bin', '0/sub/c.bin -> 0/b.bin']);
  await r.equal();
  assert.deepEqual(linkGroups(dst, names), [['a.bin', 'b.bin', 'sub/c.bin']]);
  assert.deepEqual(await r.sync(), [], 'the other names were noted as sent');

  // Another file under one name (removed and written anew): the target's name leaves the group first, so the
  // others keep their content there.
  rmSync(join(src, 'sub/c.bin'));
  writeFileSync(join(src, 'sub/c.bin'), Buffer.alloc(40_000, 2));
  const replaced = await r.sync(['0/sub/c.bin']);
  assert.deepEqual(replaced.slice(0, 1), [{ op: 'delete', path: '0/sub/c.bin' }]);
  await r.equal();
  assert.deepEqual(linkGroups(dst, names), [['a.bin', 'b.bin']]);

  // A rename of one name is a rename; a new name of the file after it, a link again.
  renameSync(join(src, 'a.bin'), join(src, 'd.bin'));
  const renamed = await r.sync(['0/a.bin', '0/d.bin']);
  assert.deepEqual(renamed.filter((x) => x.op === 'rename'), [{ op: 'rename', from: '0/a.bin', to: '0/d.bin' }]);
  assert.equal(bytesSent(renamed), 0);
  linkSync(join(src, 'd.bin'), join(src, 'a.bin'));
  const relinked = linkRecords(await r.sync(['0/a.bin']));
  assert.ok(relinked.length === 1 && ['0/a.bin -> 0/b.bin', '0/a.bin -> 0/d.bin'].includes(relinked[0]!), relinked.join());
  await r.equal();
  assert.deepEqual(linkGroups(dst, names), [['a.bin', 'b.bin', 'd.bin']]);

  // A name replaced by a rename over it (an editor's save): a rename there too, and the others keep the file.
  writeFileSync(join(src, 'b.tmp'), 'saved');
  await r.sync(['0/b.tmp']);
  renameSync(join(src, 'b.tmp'), join(src, 'b.bin'));
  const saved = await r.sync(['0/b.tmp', '0/b.bin']);
  assert.deepEqual(saved.filter((x) => x.op === 'rename'), [{ op: 'rename', from: '0/b.tmp', to: '0/b.bin' }]);
  assert.equal(bytesSent(saved), 0);
  await r.equal();
  assert.deepEqual(linkGroups(dst, names), [['a.bin', 'd.bin']]);

  // A name deleted: the others keep the file.
  rmSync(join(src, 'b.bin'));
  await r.sync(['0/b.bin']);
  await r.equal();
  assert.deepEqual(linkGroups(dst, names), [['a.bin', 'd.bin']]);
  assert.deepEqual(readFileSync(join(dst, 'd.bin')).subarray(20_000, 20_009).toString(), 'through b');
});

test('with puts (a full mirror), a small file\'s second name is a link record after its put', async (t) => {
  const r = await rig(t);
  r.detector.hardLinks = true;
  const src = r.src[0]!;
  for (let i = 0; i < 5; i++) writeFileSync(join(src, `f${i}`), `file ${i}`);
  linkSync(join(src, 'f1'), join(src, 'g1'));
  linkSync(join(src, 'f3'), join(src, 'a3'));
  const records = await r.sync(undefined, false, true);
  await r.equal();
  // a3 comes first in the scan: f3 is the link to it.
  assert.deepEqual(linkRecords(records), ['0/f3 -> 0/a3', '0/g1 -> 0/f1']);
  assert.deepEqual(records.filter((x) => x.op === 'put').map((x) => x.op === 'put' && x.path), ['0/a3', '0/f0', '0/f1', '0/f2', '0/f4']);
  assert.deepEqual(linkGroups(r.dst[0]!, ['a3', 'f0', 'f1', 'f2', 'f3', 'f4', 'g1']), [['a3', 'f3'], ['f1', 'g1']]);
});

test('to a target that takes no links, each name is a copy, and a change through one name still reaches the others', async (t) => {
  const r = await rig(t);
  const [src, dst] = [r.src[0]!, r.dst[0]!];
  writeFileSync(join(src, 'a.bin'), Buffer.alloc(40_000, 1));
  linkSync(join(src, 'a.bin'), join(src, 'b.bin'));
  // Verify names what the copies lack: b.bin is a file of its own there.
  const copiesOnly = async (): Promise<void> => assert.deepEqual(await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true }),
    { equal: false, missing: [], extra: [], contentDiffers: [], metadataDiffers: [{ path: 'b.bin', fields: ['linkedTo'] }], problems: [] });
  const first = await r.sync();
  await copiesOnly();
  assert.deepEqual(linkRecords(first), []);
  assert.equal(bytesSent(first), 80_000, 'a copy per name');
  assert.deepEqual(linkGroups(dst, ['a.bin', 'b.bin']), []);
  const fd = openSync(join(src, 'a.bin'), 'r+');
  writeSync(fd, Buffer.from('through a'), 0, 9, 100);
  closeSync(fd);
  const written = await r.sync(['0/a.bin']);
  assert.equal(bytesSent(written), 2 * 4096, 'the changed block of each name');
  await copiesOnly();
  assert.equal(readFileSync(join(dst, 'b.bin')).subarray(100, 109).toString(), 'through a');

  // The target takes links now (upgraded). A differential mirror whose listing agrees with the source's own
  // index keeps its entries (as MirrorSource.seed does), and the listing shows both names as files of their own
  // there: they are linked, nothing else sent.
  r.detector.hardLinks = true;
  const held = r.detector.forget();
  r.detector.noteTargetListing();
  const listedMeta = (v: string): { mode: number; mtimeMs: number } => {
    const st = statSync(join(dst, splitVirtualPath(v).rel));
    return { mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
  };
  for (const [v, index] of held) {
    r.index.set(v, index);
    r.index.setSentMeta(v, listedMeta(v));
  }
  const kept = await r.sync();
  assert.equal(bytesSent(kept), 0);
  // The first name looked at is linked to the other, which then is not linked back.
  assert.deepEqual(linkRecords(kept), ['0/a.bin -> 0/b.bin']);
  await r.equal();
  assert.deepEqual(linkGroups(dst, ['a.bin', 'b.bin']), [['a.bin', 'b.bin']]);
  assert.deepEqual(await r.sync(), [], 'the next look sends nothing');

  // The same from entries the listing seeded alone (inode 0: the target's inodes mean nothing here), as after a
  // crash: the second name goes as a link.
  rmSync(join(dst, 'b.bin'));
  writeFileSync(join(dst, 'b.bin'), readFileSync(join(dst, 'a.bin')));
  utimesSync(join(dst, 'b.bin'), statSync(join(src, 'b.bin')).atime, statSync(join(src, 'b.bin')).mtime);
  const listed = r.detector.forget();
  r.detector.noteTargetListing();
  for (const [v, index] of listed) {
    r.index.set(v, { ...index, ino: 0 });
    r.index.setSentMeta(v, listedMeta(v));
  }
  const differential = await r.sync();
  assert.deepEqual(linkRecords(differential), ['0/b.bin -> 0/a.bin']);
  assert.equal(bytesSent(differential), 0);
  await r.equal();
  assert.deepEqual(linkGroups(dst, ['a.bin', 'b.bin']), [['a.bin', 'b.bin']]);
});

test('a differential mirror does not write in place a file the target shares with names that are other files here', async (t) => {
  const r = await rig(t);
  r.detector.hardLinks = true;
  const [src, dst] = [r.src[0]!, r.dst[0]!];
  writeFileSync(join(src, 'a.bin'), Buffer.alloc(40_000, 1));
  linkSync(join(src, 'a.bin'), join(src, 'b.bin'));
  await r.sync();
  assert.deepEqual(linkGroups(dst, ['a.bin', 'b.bin']), [['a.bin', 'b.bin']]);

  // While the agent was down, b.bin became a file of its own here, of the same size. A differential mirror then
  // seeds the index from the target's listing (inode 0, its hashes), which says the two names are one file there.
  rmSync(join(src, 'b.bin'));
  writeFileSync(join(src, 'b.bin'), Buffer.alloc(40_000, 2));
  const held = r.detector.forget();
  for (const [v, index] of held) r.index.set(v, { ...index, ino: 0 });
  r.detector.noteTargetHardLink('0/b.bin', '0/a.bin');
  const records = await r.sync();
  // a.bin is looked at first: it leaves the group there before b.bin's blocks are written in place.
  assert.deepEqual(records.filter((x) => x.op === 'delete').map((x) => x.op === 'delete' && x.path), ['0/a.bin']);
  await r.equal();
  assert.deepEqual(linkGroups(dst, ['a.bin', 'b.bin']), []);
});

// Random sequences of what can happen to hard-linked files, each step's changed names reported as the kernel does
// (the name written through, not the file's other names), and now and then a reconcile: after every step the copy
// holds the same content under the same names, grouped into the same files (verify's linkedTo).
test('random sequences of links, writes through any name, replacements, renames and deletes keep the copy equal, names grouped alike (20 sequences)', async (t) => {
  for (let round = 0; round < 20; round++) {
    const random = prng(`hard links ${round}`);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const r = await rig(t);
    r.detector.hardLinks = round % 4 !== 3; // every fourth sequence to a target that takes no links
    const src = r.src[0]!;
    mkdirSync(join(src, 'sub'));
    const names = ['a', 'b', 'c', 'd', 'sub/e', 'sub/f', 'sub/g'];
    const existing = (): string[] => names.filter((n) => { try { return statSync(join(src, n)).isFile(); } catch { return false; } });
    const content = (): Buffer => Buffer.alloc(1 + Math.floor(random() * 20_000), Math.floor(random() * 256));
    writeFileSync(join(src, 'a'), content());
    await r.sync();
    const steps: string[] = [];
    for (let step = 0; step < 25; step++) {
      const present = existing();
      const absent = names.filter((n) => !present.includes(n));
      const kind = present.length === 0 ? 'create' : pick(['link', 'link', 'write', 'append', 'replace', 'rename', 'delete', 'create', 'truncate']);
      let touched: string[];
      if (kind === 'link' && absent.length > 0) {
        const [from, to] = [pick(present), pick(absent)];
        linkSync(join(src, from), join(src, to));
        touched = [to];
      } else if (kind === 'write' || kind === 'append' || kind === 'truncate') {
        const name = pick(present);
        const file = join(src, name);
        if (kind === 'append') appendFileSync(file, content());
        else if (kind === 'truncate') truncateSync(file, Math.floor(random() * statSync(file).size));
        else {
          const fd = openSync(file, 'r+');
          writeSync(fd, content(), 0, undefined, Math.floor(random() * statSync(file).size));
          closeSync(fd);
        }
        touched = [name];
      } else if (kind === 'replace') {
        const name = pick(present);
        rmSync(join(src, name));
        writeFileSync(join(src, name), content());
        touched = [name];
      } else if (kind === 'rename') {
        const [from, to] = [pick(present), pick(names)];
        renameSync(join(src, from), join(src, to));
        touched = [from, to];
      } else if (kind === 'delete') {
        const name = pick(present);
        rmSync(join(src, name));
        touched = [name];
      } else {
        const name = absent.length > 0 ? pick(absent) : pick(present);
        writeFileSync(join(src, name), content());
        touched = [name];
      }
      steps.push(`${kind} ${touched.join(' ')}`);
      // Mostly what the watcher reports; now and then a reconcile's look at everything.
      await (random() < 0.2 ? r.sync() : r.sync(touched.map((n) => `0/${n}`)));
      const report = await verifyTrees(src, r.dst[0]!, compileGlobs([], []), { checkMtime: true });
      const linksOnly = report.metadataDiffers.every((m) => m.fields.length === 1 && m.fields[0] === 'linkedTo');
      const equal = report.equal || (!r.detector.hardLinks && linksOnly && report.missing.length + report.extra.length + report.contentDiffers.length + report.problems.length === 0);
      assert.ok(equal, `sequence ${round}, after ${steps.join('; ')}: ${JSON.stringify(report)}`);
    }
    // Every name that shares its file on the source shares it on the target (a target that links).
    if (r.detector.hardLinks) assert.deepEqual(linkGroups(r.dst[0]!, names), linkGroups(src, names), `sequence ${round}`);
  }
});

/** Whether a write carries a run of MIN_ZERO_RUN zero bytes on ZERO_UNIT edges of its data: what should have been a zeros record. */
function carriesZeroRun(data: Buffer): boolean {
  return zeroRuns(data).some((piece) => piece.zero);
}

test('runs of zeros travel as zeros records, new files, rewrites, appends and growth alike, and the copy stays equal (12 random sequences)', async (t) => {
  const KiB = 1024;
  for (let round = 0; round < 12; round++) {
    const random = prng(`zeros ${round}`);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const r = await rig(t);
    r.detector.holes = true;
    const src = r.src[0]!;
    const names = ['small', 'medium', 'large'];
    // Data with no zero byte, or zeros, in pieces of up to 300 KiB.
    const bytes = (): Buffer => {
      const length = 1 + Math.floor(random() * 300 * KiB);
      if (random() < 0.5) return Buffer.alloc(length);
      const out = randomBytes(length);
      for (let i = 0; i < length; i++) if (out[i] === 0) out[i] = 1;
      return out;
    };
    const steps: string[] = [];
    let zerosSent = 0;
    for (let step = 0; step < 20; step++) {
      const name = pick(names);
      const file = join(src, name);
      let size = 0;
      try { size = statSync(file).size; } catch { /* not made yet */ }
      const kind = size === 0 ? 'create' : pick(['write', 'write', 'append', 'grow', 'shrink', 'create']);
      if (kind === 'create') {
        // A file of 1 to 3 MiB in pieces of data and zeros: the small ones are read whole, the others in chunks.
        rmSync(file, { force: true });
        const parts: Buffer[] = [];
        for (let k = 0, total = 0; total < (name === 'small' ? 500 * KiB : name === 'medium' ? 1.5 * 1024 * KiB : 3 * 1024 * KiB); k++) {
          parts.push(bytes());
          total += parts.at(-1)!.length;
        }
        writeFileSync(file, Buffer.concat(parts));
      } else if (kind === 'write') {
        const piece = bytes();
        const fd = openSync(file, 'r+');
        writeSync(fd, piece, 0, piece.length, Math.floor(random() * size));
        closeSync(fd);
      } else if (kind === 'append') {
        appendFileSync(file, bytes());
      } else if (kind === 'grow') {
        truncateSync(file, size + Math.floor(random() * 6 * 1024 * KiB));
      } else {
        truncateSync(file, Math.floor(random() * size));
      }
      steps.push(`${kind} ${name}`);
      // A file that only seems appended to is sent as an append, the rest of it taken on trust until a later check
      // (see appends.ts), which this rig does not run: a rewrite that grew the file is looked at whole.
      const rewrite = kind === 'write' || kind === 'create';
      const records = await (rewrite ? r.sync([`0/${name}`], true) : random() < 0.3 ? r.sync() : r.sync([`0/${name}`]));
      zerosSent += records.filter((x) => x.op === 'zeros').length;
      const withZeros = records.filter((x) => x.op === 'write' && carriesZeroRun(x.data));
      assert.deepEqual(withZeros.map((x) => x.op === 'write' && `${x.path} at ${x.offset}`), [], `sequence ${round}, after ${steps.join('; ')}: a run of zeros went as bytes`);
      const report = await verifyTrees(src, r.dst[0]!, compileGlobs([], []), { checkMtime: true });
      assert.ok(report.equal, `sequence ${round}, after ${steps.join('; ')}: ${JSON.stringify(report)}`);
    }
    assert.ok(zerosSent > 0, `sequence ${round} sent no zeros record`);
  }
});

test('a new name linked to a name whose index is racy is looked at again: a write through the new name, reported for it alone, travels', async (t) => {
  const r = await rig(t);
  r.detector.hardLinks = true;
  const src = r.src[0]!;
  writeFileSync(join(src, 'a'), Buffer.alloc(300 * 1024, 0x61));
  // An mtime still to come is as racy as one within the racy window (the burst still writing, as a watcher sees
  // it), whatever the machine's load.
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(src, 'a'), later, later);
  await r.sync(['0/a']);
  assert.equal(r.index.entry('0/a')?.mtimeMs, NO_MTIME, 'indexed as racy');
  linkSync(join(src, 'a'), join(src, 'b'));
  const fd = openSync(join(src, 'b'), 'r+');
  writeSync(fd, Buffer.from('written through the second name'), 0, undefined, 70_000);
  closeSync(fd);
  const records = await r.sync(['0/b']);
  assert.ok(records.some((x) => x.op === 'link' && x.path === '0/b'), JSON.stringify(records.map((x) => x.op)));
  await r.equal();
});

test('a reconcile takes each file\'s attributes from its scan on the read thread: the event loop lists only the folders\' and a changed file\'s', async (t) => {
  const r = await rig(t, 1, [], false, true);
  const [src] = r.src;
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(src!, `d${d}`));
    for (let f = 0; f < 20; f++) writeFileSync(join(src!, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
  }
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'kept', join(src!, 'd0', 'f0')]);
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'before', join(src!, 'd1', 'f1')]);
  await r.sync();
  await r.equal();
  await r.index.save();
  // Changed while the agent was down (the ctime moves, not the mtime).
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'after', join(src!, 'd1', 'f1')]);
  const access = extendedAttributes().access!;
  const listed: string[] = [];
  const counting = { ...access, list: (path: string) => { listed.push(relative(src!, path)); return access.list(path); } };
  const restarted = new ChangeDetector({ folders: r.src, filter: compileGlobs([], []), index: await BlockIndexStore.open(r.index.file), blockSize: 4096, owner: false, xattrs: counting });
  restarted.xattrs = true;
  t.after(() => restarted.close());
  const found: string[] = [];
  for await (const x of restarted.reconcile()) if (x.op === 'xattrs') found.push(x.path);
  assert.deepEqual(found.sort(), ['0', '0/d1/f1'], 'the mirrored folder\'s (sent once per start) and the changed file\'s');
  assert.deepEqual(listed.sort(), ['', 'd0', 'd1', 'd1/f1', 'd2'], 'no unchanged file listed on the event loop');
});

test('extended attributes and ACLs travel where they changed, as a record of the whole set; none where they did not, nor to a target that takes none', async (t) => {
  const r = await rig(t, 1, [], false, true);
  const [src] = r.src;
  const at = (p: string): string => join(src!, p);
  writeFileSync(at('f'), 'content');
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'finance', at('f')]);
  execFileSync('setfacl', ['-m', 'u:4242:rw-', at('f')]);
  mkdirSync(at('d'));
  execFileSync('setfacl', ['-d', '-m', 'g:4243:r-x', at('d')]);
  writeFileSync(at('plain'), 'no attributes');
  symlinkSync('f', at('l'));
  const xattrsOf = (records: readonly ChangeRecord[]): string[] => records.filter((x) => x.op === 'xattrs').map((x) => `${(x as { path: string }).path}:${(x as { xattrs: readonly { name: string }[] }).xattrs.map((a) => a.name).join(',')}`).sort();
  let records = await r.sync();
  // And the folder itself, once: what its copy has is not known (not a new path there).
  assert.deepEqual(xattrsOf(records), ['0/d:system.posix_acl_default', '0/f:system.posix_acl_access,user.label', '0:'], 'only where there are some');
  await r.equal();
  assert.equal(execFileSync('getfacl', ['-cp', join(r.dst[0]!, 'f')], { encoding: 'utf8' }), execFileSync('getfacl', ['-cp', at('f')], { encoding: 'utf8' }));
  assert.deepEqual(await r.sync(), [], 'a reconcile of a level copy sends nothing');

  // A new value moves no mtime: the look at the path (its attrib event) finds it all the same.
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'legal', at('f')]);
  records = await r.sync(['0/f']);
  assert.deepEqual(records.map((x) => x.op), ['xattrs']);
  await r.equal();
  // All gone: an empty set, which removes them there.
  execFileSync('setfattr', ['-x', 'user.label', at('f')]);
  execFileSync('setfacl', ['-b', at('f')]);
  records = await r.sync(['0/f']);
  assert.deepEqual(records.filter((x) => x.op === 'xattrs'), [{ op: 'xattrs', path: '0/f', xattrs: [] }]);
  await r.equal();
  // A rename carries what was sent with the file: nothing more travels.
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'hr', at('f')]);
  await r.sync(['0/f']);
  renameSync(at('f'), at('g'));
  records = await r.sync(['0/f', '0/g']);
  assert.deepEqual(records.map((x) => x.op).filter((op) => op !== 'meta'), ['rename'], 'the root\'s time besides');
  await r.equal();

  // The folder itself: its mode, ACLs and attributes (a share's access), looked at as its watcher reports it ("0").
  chmodSync(src!, 0o2770);
  execFileSync('setfacl', ['-m', 'g:4244:rwx', '-d', '-m', 'g:4244:rwx', src!]);
  execFileSync('setfattr', ['-n', 'user.share', '-v', 'finance', src!]);
  records = await r.sync(['0']);
  assert.deepEqual(records.map((x) => x.op), ['meta', 'xattrs']);
  await r.equal();
  assert.equal(statSync(r.dst[0]!).mode & 0o7777, 0o2770);
  assert.equal(execFileSync('getfacl', ['-cp', r.dst[0]!], { encoding: 'utf8' }), execFileSync('getfacl', ['-cp', src!], { encoding: 'utf8' }));
  // A new file there inherits the same default ACL on both sides: nothing more to send than its own set.
  writeFileSync(at('inherits'), 'x');
  await r.sync(['0/inherits']);
  await r.equal();

  // Changed and removed while the agent was down: a detector over the saved index finds both at its reconcile.
  await r.index.save();
  execFileSync('setfattr', ['-n', 'user.new', '-v', '1', at('plain')]);
  execFileSync('setfattr', ['-x', 'user.label', at('g')]);
  const index = await BlockIndexStore.open(r.index.file);
  const restarted = new ChangeDetector({ folders: r.src, filter: compileGlobs([], []), index, blockSize: 4096, owner: false, xattrs: extendedAttributes().access! });
  restarted.xattrs = true;
  t.after(() => restarted.close());
  const found: string[] = [];
  for await (const x of restarted.reconcile()) if (x.op === 'xattrs') found.push(`${x.path}:${x.xattrs.length}`);
  assert.ok(found.includes('0/plain:1') && found.includes('0/g:0'), found.join(' '));

  // A target that takes none (the source's detector told so): nothing of them travels.
  r.detector.xattrs = false;
  execFileSync('setfattr', ['-n', 'user.other', '-v', '2', at('plain')]);
  assert.deepEqual((await r.sync(['0/plain'])).filter((x) => x.op === 'xattrs'), []);
});
