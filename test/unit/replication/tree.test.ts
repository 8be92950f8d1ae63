import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, type Stats, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGlobs, type PathFilter } from '../../../agent/replication/glob.js';
import { checkRelativePath, childPath, comparePaths, scanTree, type TreeEntry, type TreeScan } from '../../../agent/replication/tree.js';
import { shortStrings } from '../../support/short-strings.js';

function tempDir(t: { after: (fn: () => void) => void }, prefix = 'vigil-tree-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function collect(scan: TreeScan): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  for await (const e of scan) entries.push(e);
  return entries;
}

/** A filter that remembers every path it was asked about. */
function recording(filter: PathFilter): PathFilter & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    matches: (p, isDir) => { asked.push(p); return filter.matches(p, isDir); },
    mayContain: (p) => { asked.push(p); return filter.mayContain(p); },
  };
}

/** The tree the scans below read; `outside` is a folder beside the root that a symlink points to. */
function buildTree(root: string, outside: string): void {
  writeFileSync(join(outside, 'secret'), 'not part of the data set');
  writeFileSync(join(root, 'a.txt'), 'hello');
  chmodSync(join(root, 'a.txt'), 0o640);
  mkdirSync(join(root, 'b/node_modules/pkg'), { recursive: true });
  writeFileSync(join(root, 'b/node_modules/pkg/index.js'), '');
  mkdirSync(join(root, 'b/deep/cache/inner'), { recursive: true });
  writeFileSync(join(root, 'b/deep/cache/inner/y'), 'cached');
  writeFileSync(join(root, 'b/deep/keep.txt'), 'keep');
  writeFileSync(join(root, 'b/deep/noise.log'), 'log');
  writeFileSync(join(root, 'b/c.txt'), 'c');
  mkdirSync(join(root, 'empty'));
  mkdirSync(join(root, 'x'));
  writeFileSync(join(root, 'x/y'), '');
  writeFileSync(join(root, 'x-1'), '');
  writeFileSync(join(root, 'x.txt'), '');
  symlinkSync('a.txt', join(root, 'link-in'));
  symlinkSync(outside, join(root, 'link-out'));
  symlinkSync('does/not/exist', join(root, 'link-dangling'));
  execFileSync('mkfifo', [join(root, 'pipe')]);
  writeFileSync(Buffer.from(`${root}/bad-\xff-name`, 'latin1'), 'a name that is not UTF-8');
}

test('a scan lists the data set in path order, skips excluded folders, records symlinks and reports the rest', async (t) => {
  const root = tempDir(t);
  const outside = tempDir(t, 'vigil-outside-');
  buildTree(root, outside);
  const filter = recording(compileGlobs([], ['node_modules/', 'b/deep/cache/', '*.log']));
  const scan = scanTree(root, filter);
  const entries = await collect(scan);

  assert.deepEqual(entries.map((e) => `${e.type} ${e.path}`), [
    'file a.txt',
    'dir b',
    'file b/c.txt',
    'dir b/deep',
    'file b/deep/keep.txt',
    'dir empty',
    'symlink link-dangling',
    'symlink link-in',
    'symlink link-out',
    'dir x',
    'file x/y',
    'file x-1',
    'file x.txt',
  ]);
  assert.deepEqual([...entries].sort((p, q) => comparePaths(p.path, q.path)), entries, 'the order is comparePaths order');

  const a = entries.find((e) => e.path === 'a.txt')!;
  const st = statSync(join(root, 'a.txt'));
  assert.deepEqual(a, { path: 'a.txt', type: 'file', size: 5, mode: 0o640, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid, ino: st.ino, nlink: 1 });
  assert.equal(entries.find((e) => e.path === 'b')!.size, 0);
  assert.equal(entries.find((e) => e.path === 'link-in')!.linkTarget, 'a.txt');
  assert.equal(entries.find((e) => e.path === 'link-out')!.linkTarget, outside);
  assert.equal(entries.find((e) => e.path === 'link-dangling')!.linkTarget, 'does/not/exist');
  assert.ok(!entries.some((e) => e.path.startsWith('link-out/')), 'the symlink out of the root is not followed');

  assert.ok(!filter.asked.some((p) => p.startsWith('b/node_modules/') || p.startsWith('b/deep/cache/')), 'excluded folders are not read');

  assert.deepEqual(scan.problems.map((p) => [p.kind, p.code, p.path]), [
    ['unreadable', 'VIGIL_BAD_NAME', 'bad-\ufffd-name'],
    ['unsupported', 'VIGIL_UNSUPPORTED_TYPE', 'pipe'],
  ]);
  assert.match(scan.problems[1]!.reason, /pipe: a FIFO cannot be mirrored/);
  assert.match(scan.problems[0]!.reason, /bytes 6261642dff2d6e616d65/);

  // A second pass gives the same answer, problems not doubled.
  assert.deepEqual(await collect(scan), entries);
  assert.equal(scan.problems.length, 2);
});

test('with includes, folders that only lead to admitted entries are reported just before them', async (t) => {
  const root = tempDir(t);
  const outside = tempDir(t, 'vigil-outside-');
  buildTree(root, outside);
  const scan = scanTree(root, compileGlobs(['**/keep.txt', 'x/'], ['*.log']));
  assert.deepEqual((await collect(scan)).map((e) => e.path), ['b', 'b/deep', 'b/deep/keep.txt', 'x', 'x/y']);
  assert.deepEqual(scan.problems, [], 'the FIFO and the bad name are outside the data set');

  const badOnly = scanTree(root, compileGlobs(['bad-*'], []));
  assert.deepEqual(await collect(badOnly), []);
  assert.deepEqual(badOnly.problems.map((p) => p.code), ['VIGIL_BAD_NAME'], 'a bad name the filter admits is reported');

  const nothing = await collect(scanTree(root, compileGlobs(['no-such-thing/**'], [])));
  assert.deepEqual(nothing, []);
});

test('a root given with doubled slashes, "." or a trailing slash is scanned by its normalized path', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'f'), 'f');
  const asked: string[] = [];
  const lstatMany = (paths: readonly (string | Buffer)[]): Promise<Stats[]> => {
    asked.push(...paths.map(String));
    return Promise.resolve(paths.map((p) => lstatSync(p)));
  };
  const entries = await collect(scanTree(`${root}//./`, compileGlobs([], []), lstatMany));
  assert.deepEqual(entries.map((e) => `${e.type} ${e.path}`), ['dir sub', 'file sub/f']);
  assert.deepEqual(asked, [join(root, 'sub'), join(root, 'sub', 'f')]);
  assert.equal(childPath('/', 'etc'), '/etc');
  assert.equal(childPath('/srv/data', 'a/b'), '/srv/data/a/b');
});

test('a root that is missing or not a folder is refused', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), '');
  const all = compileGlobs([], []);
  await assert.rejects(collect(scanTree(join(dir, 'absent'), all)), { code: 'VIGIL_BAD_ROOT', message: /absent: cannot be read \(ENOENT\)/ });
  await assert.rejects(collect(scanTree(join(dir, 'file'), all)), { code: 'VIGIL_BAD_ROOT', message: /not a folder/ });
});

test('checkRelativePath accepts canonical relative paths and names what is wrong with the others', () => {
  for (const good of ['a', 'a/b/c.txt', '.hidden', 'a/..b', 'with space/ü', 'a\\b']) assert.equal(checkRelativePath(good), good);
  const bad: [unknown, RegExp][] = [
    ['', /"": is empty/],
    ['/etc/passwd', /"\/etc\/passwd": starts with '\/'/],
    ['..', /has a '\.\.' segment/],
    ['a/../../etc', /"a\/..\/..\/etc": has a '\.\.' segment/],
    ['a\\..\\..\\x', /has a '\.\.' segment/],
    ['a//b', /has an empty segment/],
    ['a/', /has an empty segment/],
    ['./a', /has a '\.' segment/],
    ['a\0b', /NUL/],
    [42, /is a number/],
  ];
  for (const [path, message] of bad) {
    assert.throws(() => checkRelativePath(path as string), { code: 'VIGIL_BAD_PATH', message }, String(path));
  }
});

test('checkRelativePath judges every short path of slashes, dots and backslashes as a segment-by-segment check does', () => {
  // The reference: each segment checked in turn (what checkRelativePath does for any path its quick look cannot clear).
  const reference = (p: string): string => {
    if (p === '') return 'is empty';
    if (p.startsWith('/')) return "starts with '/'";
    for (const segment of p.split('/')) {
      if (segment === '') return 'has an empty segment';
      if (segment === '.') return "has a '.' segment";
      if (segment.split('\\').includes('..')) return "has a '..' segment";
    }
    return 'ok';
  };
  const verdict = (p: string): string => {
    try {
      checkRelativePath(p);
      return 'ok';
    } catch (e) {
      return (e as Error).message.slice(`path ${JSON.stringify(p)}: `.length);
    }
  };
  const paths = shortStrings(['a', '.', '/', '\\'], 7);
  for (const p of paths) assert.equal(verdict(p), reference(p), JSON.stringify(p));
  assert.equal(paths.length, 21844);
});

test('comparePaths puts a folder right before its contents', () => {
  const sorted = ['a', 'a/b', 'a/b/c', 'a-b', 'a.b', 'ab', 'b'];
  assert.deepEqual([...sorted].reverse().sort(comparePaths), sorted);
  assert.equal(comparePaths('same', 'same'), 0);
});
