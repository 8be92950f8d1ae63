// The applier against real folders in a temp dir.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Applier, ApplyError, type ApplyErrorCode } from '../../../agent/replication/apply.js';
import type { ChangeRecord, WireRecord } from '../../../agent/replication/records.js';
import { ACL_TAG, posixAclBytes, prng } from '../../support/dataset.js';
import { extendedAttributes } from '../../../agent/replication/xattrs.js';

function setUp(t: TestContext, options: ConstructorParameters<typeof Applier>[1] = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-apply-'));
  const root = join(dir, 'target');
  const applier = new Applier(root, options);
  t.after(async () => {
    await applier.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, root, applier, at: (p: string) => join(root, p) };
}

async function applyAll(applier: Applier, records: readonly ChangeRecord[]): Promise<void> {
  for (const r of records) await applier.apply(r);
  await applier.sync();
}

/** Every entry under root with its kind, content or target, and permission bits (mtime only where given). */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const s = lstatSync(join(root, path));
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isSymbolicLink()) out[path] = `link -> ${readlinkSync(join(root, path))}`;
      else if (s.isDirectory()) {
        out[path] = `dir ${mode}`;
        walk(path);
      } else out[path] = `file ${mode} ${s.mtimeMs === MTIME ? 'mtime ' : ''}${readFileSync(join(root, path)).toString('hex')}`;
    }
  };
  walk('');
  return out;
}

async function rejects(p: Promise<unknown>, code: ApplyErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof ApplyError && e.code === code && message.test(e.message), `${code} ${message}`);
}

const MTIME = 1_234_567_890_000;
const sha = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

test('write, truncate, create, mkdir, symlink, rename, delete and meta, each on real files', async (t) => {
  const { applier, at } = setUp(t);
  await applier.apply({ op: 'write', path: 'deep/er/f.txt', offset: 0, data: Buffer.from('hello world') });
  await applier.apply({ op: 'write', path: 'deep/er/f.txt', offset: 6, data: Buffer.from('WORLD') });
  assert.equal(readFileSync(at('deep/er/f.txt'), 'utf8'), 'hello WORLD');
  await applier.apply({ op: 'write', path: 'sparse', offset: 4, data: Buffer.from('x') });
  assert.deepEqual(readFileSync(at('sparse')), Buffer.from([0, 0, 0, 0, 0x78]));

  await applier.apply({ op: 'truncate', path: 'deep/er/f.txt', size: 5 });
  assert.equal(readFileSync(at('deep/er/f.txt'), 'utf8'), 'hello');
  await applier.apply({ op: 'truncate', path: 'deep/er/f.txt', size: 7 });
  assert.deepEqual(readFileSync(at('deep/er/f.txt')), Buffer.from('hello\0\0'));

  await applier.apply({ op: 'create', path: 'deep/er/f.txt', mode: 0o600 });
  assert.equal(statSync(at('deep/er/f.txt')).size, 0);
  assert.equal(statSync(at('deep/er/f.txt')).mode & 0o7777, 0o600);

  await applier.apply({ op: 'mkdir', path: 'new/folder', mode: 0o750 });
  assert.equal(statSync(at('new/folder')).mode & 0o7777, 0o750);
  await applier.apply({ op: 'mkdir', path: 'new/folder', mode: 0o700 });
  assert.equal(statSync(at('new/folder')).mode & 0o7777, 0o700, 'an existing folder takes the new mode');

  await applier.apply({ op: 'symlink', path: 'new/link', target: '../deep/er/f.txt' });
  assert.equal(readlinkSync(at('new/link')), '../deep/er/f.txt');
  await applier.apply({ op: 'symlink', path: 'new/link', target: 'elsewhere' });
  assert.equal(readlinkSync(at('new/link')), 'elsewhere');

  await applier.apply({ op: 'rename', from: 'deep', to: 'moved/deep' });
  assert.ok(!existsSync(at('deep')));
  assert.ok(existsSync(at('moved/deep/er/f.txt')));

  await applier.apply({ op: 'meta', path: 'sparse', mode: 0o604, mtimeMs: 1_600_000_000_250 });
  assert.equal(statSync(at('sparse')).mode & 0o7777, 0o604);
  assert.equal(statSync(at('sparse')).mtimeMs, 1_600_000_000_250);
  await applier.apply({ op: 'meta', path: 'new/link', mode: 0o777, mtimeMs: 1_500_000_000_000 });
  assert.equal(lstatSync(at('new/link')).mtimeMs, 1_500_000_000_000, 'a link gets its own mtime');

  await applier.apply({ op: 'delete', path: 'moved' });
  await applier.apply({ op: 'delete', path: 'new/link' });
  assert.ok(!existsSync(at('moved')));
  assert.ok(!existsSync(at('new/link')));

  await applier.apply({ op: 'file-hash', path: 'sparse', size: 5, sha256: sha(Buffer.from([0, 0, 0, 0, 0x78])) });
  await applier.sync();
});

test('the same sequence applied twice (a replay after a crash) leaves the same tree', async (t) => {
  const { applier, root } = setUp(t);
  const sequence: ChangeRecord[] = [
    { op: 'mkdir', path: 'docs', mode: 0o755 },
    { op: 'create', path: 'docs/a.txt', mode: 0o644 },
    { op: 'write', path: 'docs/a.txt', offset: 0, data: Buffer.from('first version') },
    { op: 'write', path: 'docs/b.txt', offset: 0, data: Buffer.from('bee') },
    { op: 'rename', from: 'docs/a.txt', to: 'docs/c.txt' },
    { op: 'rename', from: 'docs/c.txt', to: 'docs/d.txt' },
    { op: 'truncate', path: 'docs/d.txt', size: 5 },
    { op: 'write', path: 'docs/d.txt', offset: 5, data: Buffer.from('!') },
    { op: 'symlink', path: 'latest', target: 'docs/d.txt' },
    { op: 'mkdir', path: 'tmp/x/y', mode: 0o700 },
    { op: 'write', path: 'tmp/x/y/junk', offset: 0, data: Buffer.from('junk') },
    { op: 'delete', path: 'tmp' },
    { op: 'rename', from: 'docs/b.txt', to: 'docs/d.txt' },
    { op: 'write', path: 'docs/e.txt', offset: 0, data: Buffer.from('eee') },
    { op: 'meta', path: 'docs/e.txt', mode: 0o640, mtimeMs: MTIME },
    { op: 'rename', from: 'docs/e.txt', to: 'docs/f.txt' },
    { op: 'delete', path: 'never-existed/at/all' },
    { op: 'file-hash', path: 'docs/d.txt', size: 3, sha256: sha('bee') },
  ];
  await applyAll(applier, sequence);
  const once = snapshot(root);
  assert.deepEqual(Object.keys(once), ['docs', 'docs/d.txt', 'docs/f.txt', 'latest']);
  assert.equal(once['docs/f.txt'], `file 640 mtime ${Buffer.from('eee').toString('hex')}`);
  assert.equal(once['docs/d.txt'], `file 644 ${Buffer.from('bee').toString('hex')}`);
  await applyAll(applier, sequence);
  assert.deepEqual(snapshot(root), once);
  // And by a fresh applier, as after a restart.
  const again = new Applier(root);
  t.after(() => again.close());
  await applyAll(again, sequence);
  assert.deepEqual(snapshot(root), once);
});

test('a rename replaces an existing file, folder or link at its destination', async (t) => {
  const { applier, at } = setUp(t);
  await applyAll(applier, [
    { op: 'write', path: 'src', offset: 0, data: Buffer.from('new') },
    { op: 'write', path: 'dst', offset: 0, data: Buffer.from('old contents') },
    { op: 'rename', from: 'src', to: 'dst' },
  ]);
  assert.equal(readFileSync(at('dst'), 'utf8'), 'new');
  await applyAll(applier, [
    { op: 'write', path: 'full/dir/inside', offset: 0, data: Buffer.from('x') },
    { op: 'rename', from: 'dst', to: 'full' },
  ]);
  assert.equal(readFileSync(at('full'), 'utf8'), 'new');
  await applyAll(applier, [{ op: 'mkdir', path: 'd', mode: 0o755 }, { op: 'symlink', path: 'l', target: 'd' }, { op: 'rename', from: 'full', to: 'l' }]);
  assert.ok(lstatSync(at('l')).isFile());
  assert.ok(lstatSync(at('d')).isDirectory(), 'the folder a replaced link pointed to is untouched');
});

test('a delete removes a whole tree, and a link to a folder without emptying that folder', async (t) => {
  const { applier, at } = setUp(t);
  const records: ChangeRecord[] = [];
  for (let i = 0; i < 20; i++) records.push({ op: 'write', path: `tree/${i % 4}/sub/${i}`, offset: 0, data: Buffer.from(String(i)) });
  records.push({ op: 'write', path: 'keep/file', offset: 0, data: Buffer.from('keep') }, { op: 'symlink', path: 'tree/0/link', target: '../../keep' });
  await applyAll(applier, records);
  await applier.apply({ op: 'delete', path: 'tree' });
  assert.ok(!existsSync(at('tree')));
  assert.equal(readFileSync(at('keep/file'), 'utf8'), 'keep');
});

test('paths that escape the root are refused: "..", and through symlinks pointing outside', async (t) => {
  const { applier, dir, at } = setUp(t);
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'untouched');
  await applier.apply({ op: 'symlink', path: 'out', target: outside });
  await applier.apply({ op: 'symlink', path: 'in/nested', target: '../../outside' });
  const attempts: ChangeRecord[] = [
    { op: 'write', path: 'out/secret', offset: 0, data: Buffer.from('pwned') },
    { op: 'write', path: 'out/new/deeper', offset: 0, data: Buffer.from('pwned') },
    { op: 'truncate', path: 'in/nested/secret', size: 0 },
    { op: 'create', path: 'out/secret', mode: 0o777 },
    { op: 'delete', path: 'out/secret' },
    { op: 'rename', from: 'out/secret', to: 'stolen' },
    { op: 'rename', from: 'x', to: 'out/x' },
    { op: 'meta', path: 'out/secret', mode: 0o777 },
    { op: 'mkdir', path: 'out/d', mode: 0o777 },
    { op: 'symlink', path: 'out/l', target: '/' },
    { op: 'file-hash', path: 'out/secret', size: 9, sha256: sha('untouched') },
    { op: 'put', path: 'out/secret', mode: 0o777, mtimeMs: MTIME, data: Buffer.from('pwned') },
    { op: 'put', path: 'in/nested/new', mode: 0o777, mtimeMs: MTIME, data: Buffer.from('pwned') },
  ];
  for (const r of attempts) await rejects(applier.apply(r), 'VIGIL_BAD_PATH', /leads through a symlink out of the mirror root/);
  // A puts record with one such path is refused whole, naming it: none of its files is written.
  await rejects(applier.apply({ op: 'puts', files: [
    { path: 'fine', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('x') },
    { path: 'in/nested/new', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('pwned') },
  ] }), 'VIGIL_BAD_PATH', /^puts of 2 files from fine: "in\/nested\/new" leads through a symlink out of the mirror root/);
  assert.ok(!existsSync(at('fine')));
  // A path bad in itself is refused before any other path's folder is looked at (whose failure would then be
  // nobody's to handle).
  await rejects(applier.apply({ op: 'puts', files: [
    { path: 'in/nested/new', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('pwned') },
    { path: '../outside/x', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('pwned') },
  ] }), 'VIGIL_BAD_PATH', /^puts of 2 files from in\/nested\/new: path "\.\.\/outside\/x" has a "\.\." segment$/);
  await rejects(applier.apply({ op: 'delete', path: '../outside/secret' }), 'VIGIL_BAD_PATH', /^delete \.\.\/outside\/secret: path "\.\.\/outside\/secret" has a "\.\." segment$/);
  await rejects(applier.apply({ op: 'write', path: '/etc/x', offset: 0, data: Buffer.alloc(1) }), 'VIGIL_BAD_PATH', /absolute/);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'untouched');
  assert.deepEqual(readdirSync(outside), ['secret']);
  // A put onto the link itself replaces the link (as a create does), never what it points to.
  await applier.apply({ op: 'symlink', path: 'out2', target: join(outside, 'secret') });
  await applier.apply({ op: 'put', path: 'out2', mode: 0o600, mtimeMs: MTIME, data: Buffer.from('mine') });
  assert.ok(lstatSync(at('out2')).isFile());
  assert.equal(readFileSync(at('out2'), 'utf8'), 'mine');
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'untouched');
  // A write to the link itself replaces nothing outside: O_NOFOLLOW refuses to open through it.
  await rejects(applier.apply({ op: 'write', path: 'out', offset: 0, data: Buffer.from('x') }), 'VIGIL_APPLY_FAILED', /^write out: ELOOP$/);
  assert.ok(lstatSync(at('out')).isSymbolicLink());
  // The link itself may still be replaced or deleted, as the source did.
  await applier.apply({ op: 'delete', path: 'out' });
  assert.ok(!existsSync(at('out')));
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'untouched');
});

test('owner is applied only with applyOwner', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const plain = setUp(t);
  await applyAll(plain.applier, [{ op: 'write', path: 'f', offset: 0, data: Buffer.from('x') }, { op: 'meta', path: 'f', uid: 4321, gid: 8765 }]);
  assert.equal(statSync(plain.at('f')).uid, 0);
  const owned = setUp(t, { applyOwner: true });
  await applyAll(owned.applier, [
    { op: 'write', path: 'f', offset: 0, data: Buffer.from('x') },
    { op: 'meta', path: 'f', uid: 4321, gid: 8765 },
    { op: 'symlink', path: 'l', target: 'f' },
    { op: 'meta', path: 'l', uid: 1111 },
  ]);
  assert.deepEqual([statSync(owned.at('f')).uid, statSync(owned.at('f')).gid], [4321, 8765]);
  assert.deepEqual([lstatSync(owned.at('l')).uid, lstatSync(owned.at('l')).gid], [1111, 0], 'a link is chowned itself, gid kept');
});

test('mtime survives the writes before it, and a later write moves it again', async (t) => {
  const { applier, at } = setUp(t);
  await applier.apply({ op: 'write', path: 'f', offset: 0, data: Buffer.alloc(100_000, 1) });
  await applier.apply({ op: 'meta', path: 'f', mtimeMs: 1_000_000_000_000 });
  await applier.sync();
  assert.equal(statSync(at('f')).mtimeMs, 1_000_000_000_000);
  await applier.apply({ op: 'write', path: 'f', offset: 0, data: Buffer.from('y') });
  assert.notEqual(statSync(at('f')).mtimeMs, 1_000_000_000_000);
});

test('a folder\'s mtime, sent after the entries made in it, lands after them though they run at once; the root\'s too', async (t) => {
  const { applier, root, at } = setUp(t);
  await applier.apply({ op: 'mkdir', path: 'd', mode: 0o755 });
  // Not awaited one by one: the puts run on the write thread while the meta records are taken in.
  const calls: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) calls.push(applier.apply({ op: 'put', path: `d/f${i}`, mode: 0o644, mtimeMs: MTIME, data: Buffer.alloc(20_000, i) }));
  for (let i = 0; i < 20; i++) calls.push(applier.apply({ op: 'create', path: `d/c${i}`, mode: 0o644 }));
  calls.push(applier.apply({ op: 'meta', path: 'd', mtimeMs: MTIME + 1000 }));
  calls.push(applier.apply({ op: 'put', path: 'top', mode: 0o644, mtimeMs: MTIME, data: Buffer.alloc(20_000, 9) }));
  calls.push(applier.applyToRoot({ op: 'meta', path: '', mtimeMs: MTIME + 2000 }));
  await Promise.all(calls);
  await applier.sync();
  assert.equal(readdirSync(at('d')).length, 70);
  assert.equal(statSync(at('d')).mtimeMs, MTIME + 1000);
  assert.equal(statSync(root).mtimeMs, MTIME + 2000);
  // More files running at once than a meta record scans (RUNNING_SCAN_LIMIT): it waits for all of them.
  await applier.apply({ op: 'mkdir', path: 'many', mode: 0o755 });
  const more: Promise<void>[] = [];
  for (let i = 0; i < 400; i++) more.push(applier.apply({ op: 'put', path: `many/f${i}`, mode: 0o644, mtimeMs: MTIME, data: Buffer.alloc(4096, i) }));
  more.push(applier.apply({ op: 'meta', path: 'many', mtimeMs: MTIME + 3000 }));
  await Promise.all(more);
  assert.equal(readdirSync(at('many')).length, 400);
  assert.equal(statSync(at('many')).mtimeMs, MTIME + 3000);
  // Files in puts records, as a resync sends them: the folder's time still lands last.
  await applier.apply({ op: 'mkdir', path: 'batched', mode: 0o755 });
  const batches: Promise<void>[] = [];
  for (let b = 0; b < 8; b++) {
    batches.push(applier.apply({ op: 'puts', files: Array.from({ length: 50 }, (_, i) => ({ path: `batched/f${b}-${i}`, mode: 0o644, mtimeMs: MTIME, data: Buffer.alloc(4096, i) })) }));
  }
  batches.push(applier.apply({ op: 'meta', path: 'batched', mtimeMs: MTIME + 4000 }));
  await Promise.all(batches);
  assert.equal(readdirSync(at('batched')).length, 400);
  assert.equal(statSync(at('batched')).mtimeMs, MTIME + 4000);
  assert.equal(statSync(at('batched/f7-49')).mtimeMs, MTIME);
});

test('a write larger than one system call takes (WRITE_PIECE_BYTES) lands whole, at its offset', async (t) => {
  const { applier, at } = setUp(t);
  const data = Buffer.alloc(1024 * 1024 + 17);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
  await applier.apply({ op: 'write', path: 'big', offset: 5, data });
  await applier.sync();
  assert.ok(readFileSync(at('big')).equals(Buffer.concat([Buffer.alloc(5), data])));
});

test('a source\'s sub-millisecond mtime lands within a microsecond, and the same meta again changes nothing', async (t) => {
  const { applier, at } = setUp(t);
  await applier.apply({ op: 'write', path: 'f', offset: 0, data: Buffer.from('x') });
  await applier.sync();
  // As a source's stat gives it: milliseconds with a fraction (the kernel keeps nanoseconds).
  const mtimeMs = 1_700_000_000_123.25 + 0.0005;
  for (const path of ['f', 'd']) {
    if (path === 'd') await applier.apply({ op: 'mkdir', path: 'd', mode: 0o755 });
    await applier.apply({ op: 'meta', path, mtimeMs });
    const first = statSync(at(path));
    assert.ok(Math.abs(first.mtimeMs - mtimeMs) < 0.002, `${path}: mtime ${first.mtimeMs}, sent ${mtimeMs}`);
    // Setting a time moves the ctime: the same record again must leave the file alone (a restarted source
    // sends a meta record for every file).
    await new Promise((r) => setTimeout(r, 20));
    await applier.apply({ op: 'meta', path, mtimeMs });
    assert.equal(statSync(at(path)).ctimeMs, first.ctimeMs, `${path}: set again`);
  }
});

test('a file-hash checkpoint that does not match throws a coded error', async (t) => {
  const { applier } = setUp(t);
  await applier.apply({ op: 'write', path: 'f', offset: 0, data: Buffer.from('abc') });
  await rejects(applier.apply({ op: 'file-hash', path: 'f', size: 3, sha256: sha('abd') }), 'VIGIL_HASH_MISMATCH', /^file-hash f: sha256 [0-9a-f]{64} on the target, [0-9a-f]{64} on the source$/);
  await rejects(applier.apply({ op: 'file-hash', path: 'f', size: 4, sha256: sha('abcd') }), 'VIGIL_HASH_MISMATCH', /3 bytes on the target, 4 on the source/);
  await rejects(applier.apply({ op: 'file-hash', path: 'nope', size: 0, sha256: sha('') }), 'VIGIL_HASH_MISMATCH', /missing on the target/);
  await applier.apply({ op: 'file-hash', path: 'f', size: 3, sha256: sha('abc') });
});

test('open files stay within maxOpenFiles, are closed on rename and delete, and all of them on close', async (t) => {
  const { applier, at, root } = setUp(t, { maxOpenFiles: 3 });
  const openUnderRoot = (): number => readdirSync('/proc/self/fd').filter((fd) => {
    try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root); } catch { return false; }
  }).length;
  for (let i = 0; i < 10; i++) await applier.apply({ op: 'write', path: `f${i}`, offset: 0, data: Buffer.from(`data ${i}`) });
  assert.equal(openUnderRoot(), 3);
  await applier.apply({ op: 'rename', from: 'f9', to: 'renamed' });
  await applier.apply({ op: 'delete', path: 'f8' });
  assert.equal(openUnderRoot(), 1);
  // A write after the rename goes to the new name, not the old inode.
  await applier.apply({ op: 'write', path: 'renamed', offset: 0, data: Buffer.from('DATA') });
  assert.equal(readFileSync(at('renamed'), 'utf8'), 'DATA 9');
  await applier.sync();
  await applier.close();
  assert.equal(openUnderRoot(), 0);
  for (let i = 0; i < 8; i++) assert.equal(readFileSync(at(`f${i}`), 'utf8'), `data ${i}`);
  await rejects(applier.apply({ op: 'delete', path: 'x' }), 'VIGIL_APPLIER_CLOSED', /closed/);
});

test('a failing record (here EFBIG: an offset past the largest file) names its op and path', async (t) => {
  const { applier } = setUp(t);
  await applier.apply({ op: 'write', path: 'f', offset: 0, data: Buffer.from('x') });
  await rejects(applier.apply({ op: 'write', path: 'f', offset: 2 ** 52, data: Buffer.from('x') }), 'VIGIL_APPLY_FAILED', /^write f: (EFBIG|EINVAL)$/);
});

test('a folder checked once is checked again after it is replaced by a symlink, or removed by hand', async (t) => {
  const { applier, dir, at } = setUp(t);
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  // d/ is created and checked by the first records; later ones into d/ skip the check...
  await applyAll(applier, [{ op: 'mkdir', path: 'd', mode: 0o755 }, { op: 'create', path: 'd/a', mode: 0o644 }, { op: 'write', path: 'd/a', offset: 0, data: Buffer.from('a') }]);
  // ...until a record replaces d by a link out of the root: the next write through it must be refused.
  await applier.apply({ op: 'delete', path: 'd' });
  await applier.apply({ op: 'symlink', path: 'd', target: outside });
  await rejects(applier.apply({ op: 'write', path: 'd/b', offset: 0, data: Buffer.from('pwned') }), 'VIGIL_BAD_PATH', /leads through a symlink out of the mirror root/);
  await rejects(applier.apply({ op: 'meta', path: 'd/b', mode: 0o777 }), 'VIGIL_BAD_PATH', /leads through a symlink/);
  assert.deepEqual(readdirSync(outside), []);
  // A checked folder deleted by hand on the standby is made again rather than failing the stream.
  await applyAll(applier, [{ op: 'mkdir', path: 'e', mode: 0o755 }, { op: 'create', path: 'e/x', mode: 0o644 }]);
  rmSync(at('e'), { recursive: true });
  await applyAll(applier, [{ op: 'create', path: 'e/y', mode: 0o600 }, { op: 'write', path: 'e/y', offset: 0, data: Buffer.from('y') }]);
  assert.equal(readFileSync(at('e/y'), 'utf8'), 'y');
  assert.equal(statSync(at('e/y')).mode & 0o777, 0o600);
});


function randomRecords(seed: number, count: number): WireRecord[] {
  const random = prng(`apply ${seed}`);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const dirs = ['d1', 'd2', 'd1/sub'];
  const files = ['d1/a', 'd1/b', 'd2/a', 'c', 'd1/sub/x', 'd2/y'];
  const out: WireRecord[] = dirs.map((d) => ({ op: 'mkdir', path: d, mode: 0o755 }));
  for (let i = 0; i < count; i++) {
    const roll = random();
    const path = pick(files);
    if (roll < 0.35) out.push({ op: 'write', path, offset: Math.floor(random() * 3000), data: Buffer.from(`w${seed}-${i} `.repeat(1 + Math.floor(random() * 50))) });
    else if (roll < 0.41) out.push({ op: 'create', path, mode: pick([0o600, 0o644, 0o640]) });
    else if (roll < 0.45) out.push({ op: 'put', path, mode: pick([0o600, 0o644, 0o2750]), mtimeMs: MTIME, data: Buffer.from(`p${seed}-${i} `.repeat(Math.floor(random() * 40))) });
    else if (roll < 0.5) {
      // Two to four files, the same one twice at times, some where a folder or a link may be by then.
      const paths = Array.from({ length: 2 + Math.floor(random() * 3) }, () => pick([...files, 'd3', 'l1']));
      out.push({ op: 'puts', files: paths.map((p, k) => ({ path: p, mode: pick([0o600, 0o644]), mtimeMs: MTIME, data: Buffer.from(`s${seed}-${i}-${k} `.repeat(Math.floor(random() * 30))) })) });
    }
    else if (roll < 0.55) out.push({ op: 'truncate', path, size: Math.floor(random() * 2000) });
    else if (roll < 0.7) out.push({ op: 'meta', path, mode: pick([0o600, 0o644]), mtimeMs: MTIME });
    else if (roll < 0.8) out.push({ op: 'rename', from: pick([...files, ...dirs]), to: pick([...files, 'd3', 'd2/moved']) });
    else if (roll < 0.87) out.push({ op: 'delete', path: pick([...files, ...dirs]) });
    else if (roll < 0.93) out.push({ op: 'mkdir', path: pick([...dirs, 'd3']), mode: 0o750 });
    else out.push({ op: 'symlink', path: pick(['l1', 'd2/l2']), target: pick(['c', 'd1/a', 'nowhere']) });
  }
  return out;
}

test('records applied with overlapping calls end as if applied one by one (30 random sequences)', async (t) => {
  for (let seed = 1; seed <= 30; seed++) {
    const records = randomRecords(seed, 150);
    const one = setUp(t);
    const outcomes: string[] = [];
    for (const r of records) outcomes.push(await one.applier.apply(r).then(() => 'ok', (e: ApplyError) => e.code));
    await one.applier.sync();
    const all = setUp(t);
    // Every call at once, as the transport's pipeline does: content ops on different files overlap.
    const overlapped = await Promise.all(records.map((r) => all.applier.apply(r).then(() => 'ok', (e: ApplyError) => e.code)));
    await all.applier.sync();
    assert.deepEqual(snapshot(all.root), snapshot(one.root), `seed ${seed}`);
    assert.deepEqual(overlapped, outcomes, `seed ${seed}: the same records fail`);
    // A puts record is its files' put records, one after the other.
    const apart = setUp(t);
    for (const r of records.flatMap((r): ChangeRecord[] => (r.op === 'puts' ? r.files.map((f) => ({ op: 'put', ...f })) : [r]))) await apart.applier.apply(r).catch(() => undefined);
    await apart.applier.sync();
    assert.deepEqual(snapshot(apart.root), snapshot(one.root), `seed ${seed}: puts records as put records`);
  }
});

test('a create gives the file its mode whether it is new (the umask may cut bits) or replaces one with another mode', async (t) => {
  const { root, applier } = setUp(t);
  const mode = (p: string): number => statSync(join(root, p)).mode & 0o7777;
  await applyAll(applier, [
    { op: 'create', path: 'plain', mode: 0o640 },
    { op: 'create', path: 'wide', mode: 0o666 }, // beyond the usual umask 022
    { op: 'create', path: 'setgid', mode: 0o2750 },
  ]);
  await applier.sync();
  assert.deepEqual([mode('plain'), mode('wide'), mode('setgid')], [0o640, 0o666, 0o2750]);
  writeFileSync(join(root, 'old'), 'old content', { mode: 0o600 });
  await applyAll(applier, [{ op: 'create', path: 'old', mode: 0o644 }]);
  await applier.sync();
  assert.equal(mode('old'), 0o644);
  assert.equal(readFileSync(join(root, 'old'), 'utf8'), '', 'emptied');
});

test('a put writes a whole file at once: content, mode (new or replacing), mtime; over a folder or a link it replaces them', async (t) => {
  const { root, applier, at } = setUp(t);
  const mode = (p: string): number => statSync(join(root, p)).mode & 0o7777;
  await applyAll(applier, [
    { op: 'put', path: 'new/deep/a', mode: 0o640, mtimeMs: MTIME, data: Buffer.from('alpha') },
    { op: 'put', path: 'wide', mode: 0o666, mtimeMs: MTIME + 0.5, data: Buffer.alloc(70_000, 1) }, // beyond the umask 022
    { op: 'put', path: 'setgid', mode: 0o2750, mtimeMs: MTIME, data: Buffer.alloc(0) },
  ]);
  assert.deepEqual([mode('new/deep/a'), mode('wide'), mode('setgid')], [0o640, 0o666, 0o2750]);
  assert.equal(readFileSync(at('new/deep/a'), 'utf8'), 'alpha');
  assert.deepEqual(readFileSync(at('wide')), Buffer.alloc(70_000, 1));
  assert.equal(statSync(at('new/deep/a')).mtimeMs, MTIME);
  assert.ok(Math.abs(statSync(at('wide')).mtimeMs - (MTIME + 0.5)) < 0.002, 'sub-millisecond mtimes kept (to the microsecond)');
  // Over an existing, longer file with another mode: emptied first, given the new mode.
  writeFileSync(at('old'), 'a much longer old content', { mode: 0o600 });
  // A write leaves the file open in the applier's cache: the put must not be undone by it.
  await applyAll(applier, [
    { op: 'write', path: 'cached', offset: 0, data: Buffer.from('stale and longer') },
    { op: 'put', path: 'old', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('new') },
    { op: 'put', path: 'cached', mode: 0o600, mtimeMs: MTIME, data: Buffer.from('fresh') },
  ]);
  assert.equal(readFileSync(at('old'), 'utf8'), 'new');
  assert.equal(mode('old'), 0o644);
  assert.equal(readFileSync(at('cached'), 'utf8'), 'fresh');
  // A folder (with content) and a link where the file goes are replaced by it.
  mkdirSync(at('dir/inside'), { recursive: true });
  writeFileSync(at('target-of-link'), 'kept');
  await applyAll(applier, [
    { op: 'symlink', path: 'link', target: 'target-of-link' },
    { op: 'put', path: 'dir', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('was a folder') },
    { op: 'put', path: 'link', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('was a link') },
  ]);
  assert.equal(readFileSync(at('dir'), 'utf8'), 'was a folder');
  assert.ok(lstatSync(at('link')).isFile());
  assert.equal(readFileSync(at('link'), 'utf8'), 'was a link');
  assert.equal(readFileSync(at('target-of-link'), 'utf8'), 'kept');
  // Applied again (a replay after a crash): the same tree.
  const before = snapshot(root);
  await applyAll(applier, [{ op: 'put', path: 'old', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('new') }]);
  assert.deepEqual(snapshot(root), before);
});

test('a put applies its owner only with applyOwner', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const plain = setUp(t);
  await applyAll(plain.applier, [{ op: 'put', path: 'f', mode: 0o644, mtimeMs: MTIME, uid: 4321, gid: 8765, data: Buffer.from('x') }]);
  assert.deepEqual([statSync(plain.at('f')).uid, statSync(plain.at('f')).gid], [0, 0]);
  const owned = setUp(t, { applyOwner: true });
  await applyAll(owned.applier, [
    { op: 'put', path: 'f', mode: 0o644, mtimeMs: MTIME, uid: 4321, gid: 8765, data: Buffer.from('x') },
    { op: 'put', path: 'g', mode: 0o644, mtimeMs: MTIME, uid: 1111, data: Buffer.from('y') },
  ]);
  assert.deepEqual([statSync(owned.at('f')).uid, statSync(owned.at('f')).gid], [4321, 8765]);
  assert.deepEqual([statSync(owned.at('g')).uid, statSync(owned.at('g')).gid], [1111, 0], 'gid kept');
});

test('a put fails with its op and path named when the file cannot be written', async (t) => {
  const { applier } = setUp(t);
  const name = 'n'.repeat(300); // a valid path, but a name longer than the file system takes
  await rejects(applier.apply({ op: 'put', path: `d/${name}`, mode: 0o644, mtimeMs: MTIME, data: Buffer.from('x') }), 'VIGIL_APPLY_FAILED', new RegExp(`^put d/${name}: ENAMETOOLONG$`));
  // The thread goes on: the next put lands.
  await applier.apply({ op: 'put', path: 'd/ok', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('x') });
});

test('files of one new folder applied at once share the check of the folder; a folder leading out refuses each, naming its own path', async (t) => {
  const { applier, dir, at } = setUp(t);
  const puts = Array.from({ length: 50 }, (_, i) => applier.apply({ op: 'put', path: `new/deeper/f${i}`, mode: 0o644, mtimeMs: MTIME, data: Buffer.from(`file ${i}`) }));
  await Promise.all(puts);
  for (let i = 0; i < 50; i++) assert.equal(readFileSync(at(`new/deeper/f${i}`), 'utf8'), `file ${i}`);
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  await applier.apply({ op: 'symlink', path: 'out', target: outside });
  const refused = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    applier.apply({ op: 'put', path: `out/sub/g${i}`, mode: 0o644, mtimeMs: MTIME, data: Buffer.from('x') }).then(() => 'applied', (e: ApplyError) => `${e.code} ${e.message}`)));
  refused.forEach((outcome, i) => assert.match(outcome, new RegExp(`^VIGIL_BAD_PATH put out/sub/g${i}: "out/sub/g${i}" leads through a symlink out of the mirror root`)));
  assert.deepEqual(readdirSync(outside), []);
});

test('a link makes another name of a file, replacing a file or folder there; again it changes nothing; a missing file is named', async (t) => {
  const { applier, at } = setUp(t);
  await applyAll(applier, [
    { op: 'put', path: 'a', mode: 0o640, mtimeMs: MTIME, data: Buffer.from('shared') },
    { op: 'put', path: 'b', mode: 0o600, mtimeMs: MTIME, data: Buffer.from('b before') },
    { op: 'mkdir', path: 'd', mode: 0o755 },
    { op: 'put', path: 'd/inside', mode: 0o600, mtimeMs: MTIME, data: Buffer.from('x') },
    { op: 'link', path: 'new/c', existing: 'a' },
    { op: 'link', path: 'b', existing: 'a' },
    { op: 'link', path: 'd', existing: 'a' },
  ]);
  const ino = statSync(at('a')).ino;
  for (const name of ['new/c', 'b', 'd']) {
    assert.equal(statSync(at(name)).ino, ino, name);
    assert.equal(readFileSync(at(name), 'utf8'), 'shared');
  }
  assert.equal(statSync(at('a')).nlink, 4);
  await applier.apply({ op: 'link', path: 'b', existing: 'a' });
  assert.equal(statSync(at('a')).nlink, 4, 'applied again: nothing changes');
  // Written through one name, read through another.
  await applier.apply({ op: 'write', path: 'b', offset: 0, data: Buffer.from('SH') });
  await applier.sync();
  assert.equal(readFileSync(at('new/c'), 'utf8'), 'SHared');
  await rejects(applier.apply({ op: 'link', path: 'e', existing: 'nothing' }), 'VIGIL_APPLY_FAILED', /link e -> nothing: nothing is missing in the copy/);
  await rejects(applier.apply({ op: 'link', path: 'e', existing: 'new' }), 'VIGIL_APPLY_FAILED', /new is not a file/);
  await rejects(applier.apply({ op: 'link', path: 'e', existing: '../outside' }), 'VIGIL_BAD_PATH', /\.\./);
});

test('a create or a put on a name that shares its file with others (a hard link) gives it a file of its own: the others keep theirs', async (t) => {
  const { applier, at } = setUp(t);
  await applyAll(applier, [
    { op: 'put', path: 'a', mode: 0o640, mtimeMs: MTIME, data: Buffer.from('shared') },
    { op: 'link', path: 'b', existing: 'a' },
    { op: 'link', path: 'c', existing: 'a' },
    { op: 'create', path: 'b', mode: 0o600 },
    { op: 'write', path: 'b', offset: 0, data: Buffer.from('b alone') },
    { op: 'put', path: 'c', mode: 0o644, mtimeMs: MTIME, data: Buffer.from('c alone') },
    // A folder (more than one link too) where the source now has a file: replaced, as before.
    { op: 'mkdir', path: 'dir', mode: 0o755 },
    { op: 'mkdir', path: 'dir/sub', mode: 0o755 },
    { op: 'create', path: 'dir', mode: 0o600 },
    { op: 'mkdir', path: 'dir2', mode: 0o755 },
    { op: 'mkdir', path: 'dir2/sub', mode: 0o755 },
    { op: 'put', path: 'dir2', mode: 0o600, mtimeMs: MTIME, data: Buffer.from('was a folder') },
  ]);
  assert.ok(statSync(at('dir')).isFile());
  assert.equal(readFileSync(at('dir2'), 'utf8'), 'was a folder');
  assert.equal(readFileSync(at('a'), 'utf8'), 'shared');
  assert.equal(readFileSync(at('b'), 'utf8'), 'b alone');
  assert.equal(readFileSync(at('c'), 'utf8'), 'c alone');
  assert.equal(statSync(at('a')).nlink, 1);
  assert.equal((statSync(at('a')).mode & 0o777).toString(8), '640');
});

test('a run of zeros past the file\'s end leaves a hole; over its bytes it writes zeros; again it changes nothing', async (t) => {
  const { applier, at } = setUp(t);
  const MiB = 1024 * 1024;
  const head = Buffer.alloc(MiB, 7);
  const tail = Buffer.alloc(MiB, 9);
  // A new file of 64 MiB: data, 62 MiB of hole, data; then a run at the end that grows it by 16 MiB.
  await applyAll(applier, [
    { op: 'create', path: 'disk.img', mode: 0o600 },
    { op: 'write', path: 'disk.img', offset: 0, data: head },
    { op: 'zeros', path: 'disk.img', offset: MiB, length: 62 * MiB },
    { op: 'write', path: 'disk.img', offset: 63 * MiB, data: tail },
    { op: 'zeros', path: 'disk.img', offset: 64 * MiB, length: 16 * MiB },
  ]);
  const expected = Buffer.concat([head, Buffer.alloc(62 * MiB), tail, Buffer.alloc(16 * MiB)]);
  assert.ok(readFileSync(at('disk.img')).equals(expected), 'the content: data and zeros where they were sent');
  const allocated = (): number => statSync(at('disk.img')).blocks * 512;
  assert.ok(allocated() < 8 * MiB, `${allocated()} bytes allocated for 2 MiB of data in 80 MiB: the zeros are holes`);
  // Applied again (a replay after a crash): the same file.
  await applyAll(applier, [{ op: 'zeros', path: 'disk.img', offset: MiB, length: 62 * MiB }, { op: 'zeros', path: 'disk.img', offset: 64 * MiB, length: 16 * MiB }]);
  assert.ok(readFileSync(at('disk.img')).equals(expected));
  assert.ok(allocated() < 8 * MiB, 'still holes');
  // Over the file's bytes, and past its end at once: zeros written where data was, the file grown by the rest.
  await applyAll(applier, [{ op: 'zeros', path: 'disk.img', offset: 63 * MiB + 100, length: 17 * MiB + 50 }]);
  const after = Buffer.concat([head, Buffer.alloc(62 * MiB), tail.subarray(0, 100), Buffer.alloc(17 * MiB + 50)]);
  assert.ok(readFileSync(at('disk.img')).equals(after), 'the tail\'s data became zeros, the file grew by 150 bytes');
  assert.ok(allocated() < 8 * MiB, 'the holes are still holes');
  await rejects(applier.apply({ op: 'zeros', path: '../outside', offset: 0, length: 1 }), 'VIGIL_BAD_PATH', /\.\./);
});

test('a run of zeros over a file\'s bytes punches a hole there (the copy stays as thin as the source); without punching it writes zeros', async (t) => {
  const MiB = 1024 * 1024;
  const data = Buffer.from(Array.from({ length: 4 * MiB }, (_, i) => 1 + ((i * 7919) % 251)));
  for (const punchHoles of [true, false]) {
    const { applier, at } = setUp(t, { punchHoles });
    await applyAll(applier, [{ op: 'create', path: 'disk.img', mode: 0o600 }, { op: 'write', path: 'disk.img', offset: 0, data }]);
    const before = statSync(at('disk.img')).blocks * 512;
    await applyAll(applier, [{ op: 'zeros', path: 'disk.img', offset: 64 * 1024 + 10, length: 2 * MiB }]);
    const expected = Buffer.from(data);
    expected.fill(0, 64 * 1024 + 10, 64 * 1024 + 10 + 2 * MiB);
    assert.ok(readFileSync(at('disk.img')).equals(expected), `punchHoles ${punchHoles}: the run reads as zeros, the rest as it was`);
    const freed = before - statSync(at('disk.img')).blocks * 512;
    if (punchHoles) assert.ok(freed >= 1.5 * MiB, `${freed} bytes freed by the hole`);
    else assert.equal(freed, 0, 'zeros written stay allocated');
  }
});

test('an xattrs record makes the path\'s travelling attributes its own, after the put before it; a missing path, a symlink or a file system without them are counted, not refused', async (t) => {
  const { access } = extendedAttributes();
  assert.ok(access !== undefined);
  const notSet: string[] = [];
  const onXattrsNotSet = (p: { path: string; code: string }): void => { notSet.push(`${p.path} ${p.code}`); };
  const { applier, at, dir } = setUp(t, { xattrs: access, onXattrsNotSet });
  const acl = { name: 'system.posix_acl_access', value: posixAclBytes([[ACL_TAG.userObj, 0o7, undefined], [ACL_TAG.user, 0o6, 4242], [ACL_TAG.groupObj, 0o5, undefined], [ACL_TAG.mask, 0o7, undefined], [ACL_TAG.other, 0o4, undefined]]) };
  // Handed over together: the attributes land on the file the put writes, after it.
  const put = applier.apply({ op: 'put', path: 'd/f', mode: 0o640, mtimeMs: MTIME, data: Buffer.from('x') });
  const set = applier.apply({ op: 'xattrs', path: 'd/f', xattrs: [acl, { name: 'user.label', value: Buffer.from('finance') }] });
  await Promise.all([put, set]);
  assert.match(execFileSync('getfacl', ['-cp', at('d/f')], { encoding: 'utf8' }), /^user::rwx\nuser:4242:rw-\ngroup::r-x\nmask::rwx\nother::r--\n\n$/);
  assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'user.label', at('d/f')], { encoding: 'utf8' }), 'finance');
  await applier.apply({ op: 'xattrs', path: 'd/f', xattrs: [{ name: 'user.label', value: Buffer.from('finance') }] });
  assert.equal(execFileSync('getfacl', ['-cp', at('d/f')], { encoding: 'utf8' }).includes('4242'), false, 'the ACL not sent is removed');
  await applier.apply({ op: 'xattrs', path: 'd', xattrs: [{ name: 'user.folder', value: Buffer.from('1') }] });
  assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'user.folder', at('d')], { encoding: 'utf8' }), '1');

  await applier.apply({ op: 'xattrs', path: 'gone', xattrs: [] });
  assert.equal(applier.stats.metaWithoutPath, 1);
  await applier.apply({ op: 'symlink', path: 'd/link', target: 'f' });
  await applier.apply({ op: 'xattrs', path: 'd/link', xattrs: [{ name: 'user.x', value: Buffer.from('1') }] });
  assert.equal(applier.stats.xattrsNotSet, 1, 'Linux takes no user attribute on a symlink');
  assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'user.label', at('d/f')], { encoding: 'utf8' }), 'finance', 'nor through it');

  const ramfs = join(dir, 'ramfs');
  mkdirSync(ramfs);
  execFileSync('mount', ['-t', 'ramfs', 'vigil-apply-ramfs', ramfs]);
  const thin = new Applier(ramfs, { xattrs: access, onXattrsNotSet });
  try {
    await thin.apply({ op: 'write', path: 'f', offset: 0, data: Buffer.from('x') });
    await thin.apply({ op: 'xattrs', path: 'f', xattrs: [{ name: 'user.a', value: Buffer.from('1') }] });
    await thin.apply({ op: 'xattrs', path: 'f', xattrs: [{ name: 'user.a', value: Buffer.from('2') }] });
    assert.equal(thin.stats.xattrsNotSet, 2);
  } finally {
    await thin.close();
    execFileSync('umount', [ramfs]);
  }
  assert.deepEqual(notSet, ['d/link EPERM', 'f ENOTSUP', 'f ENOTSUP'], 'each told, with the errno');
  // A target without the adapter refuses the record rather than drop it; a path out of the root, as every op.
  const without = setUp(t);
  await rejects(without.applier.apply({ op: 'xattrs', path: 'f', xattrs: [] }), 'VIGIL_APPLY_FAILED', /xattrs f: this node cannot set extended attributes/);
  symlinkSync(tmpdir(), at('out'));
  await rejects(applier.apply({ op: 'xattrs', path: 'out/x', xattrs: [] }), 'VIGIL_BAD_PATH', /leads through a symlink out of the mirror root/);
});
