import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TimeSlicer } from '../../../agent/util/time-slice.js';
import { compileGlobs } from '../../../agent/replication/glob.js';
import {
  compareManifests, decodeManifest, encodeManifest, treeManifest, verifyTrees, type Manifest, type ManifestEntry,
} from '../../../agent/replication/verify.js';

const ALL = compileGlobs([], ['skip/']);

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-verify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A source tree and an exact copy of it (cp -a keeps modes, owners, times and symlinks). */
function sourceAndCopy(t: { after: (fn: () => void) => void }): { source: string; target: string } {
  const dir = tempDir(t);
  const source = join(dir, 'source');
  mkdirSync(join(source, 'docs/deep'), { recursive: true });
  mkdirSync(join(source, 'skip'));
  writeFileSync(join(source, 'docs/a.txt'), 'alpha');
  writeFileSync(join(source, 'docs/deep/b.bin'), Buffer.alloc(100_000, 7));
  writeFileSync(join(source, 'empty'), '');
  writeFileSync(join(source, 'grows'), 'x');
  writeFileSync(join(source, 'skip/ignored'), 'excluded');
  symlinkSync('docs/a.txt', join(source, 'link'));
  const target = join(dir, 'target');
  execFileSync('cp', ['-a', source, target]);
  return { source, target };
}

test('a faithful copy verifies equal, owners and times included', async (t) => {
  const { source, target } = sourceAndCopy(t);
  const report = await verifyTrees(source, target, ALL, { checkOwner: true, checkMtime: true });
  assert.deepEqual(report, { equal: true, missing: [], extra: [], contentDiffers: [], metadataDiffers: [], problems: [] });

  const manifest = await treeManifest(source, ALL);
  assert.deepEqual(manifest.entries.map((e) => e.path), ['docs', 'docs/a.txt', 'docs/deep', 'docs/deep/b.bin', 'empty', 'grows', 'link']);
  const a = manifest.entries.find((e) => e.path === 'docs/a.txt')!;
  assert.equal(a.hash, createHash('sha256').update('alpha').digest('hex'));
  assert.equal(manifest.entries.find((e) => e.path === 'link')!.linkTarget, 'docs/a.txt');
});

test('every kind of difference is reported under its own heading', async (t) => {
  const { source, target } = sourceAndCopy(t);
  unlinkSync(join(target, 'docs/a.txt'));                            // missing
  writeFileSync(join(target, 'docs/stray'), 'extra');               // extra
  writeFileSync(join(target, 'skip/also-ignored'), 'excluded');     // excluded: not reported
  writeFileSync(join(target, 'docs/deep/b.bin'), Buffer.alloc(100_000, 8)); // same size, other bytes
  writeFileSync(join(target, 'grows'), 'xy');                      // other size
  rmSync(join(target, 'empty'));
  mkdirSync(join(target, 'empty'));                                 // a folder where a file was
  unlinkSync(join(target, 'link'));
  symlinkSync('elsewhere', join(target, 'link'));                   // another link target
  chmodSync(join(target, 'docs'), 0o700);                           // mode
  chownSync(join(target, 'docs/deep'), 1234, 5678);                 // owner
  lchownSync(join(target, 'link'), 1234, 5678);
  const past = new Date(Date.UTC(2001, 0, 1));
  utimesSync(join(target, 'docs/deep'), past, past);                // mtime
  chmodSync(target, 0o700);                                         // the folder itself: its mode (and time)

  const full = await verifyTrees(source, target, ALL, { checkOwner: true, checkMtime: true });
  assert.equal(full.equal, false);
  assert.deepEqual(full.missing, ['docs/a.txt']);
  assert.deepEqual(full.extra, ['docs/stray']);
  assert.deepEqual(full.contentDiffers, ['docs/deep/b.bin', 'empty', 'grows', 'link']);
  assert.deepEqual(full.metadataDiffers, [
    { path: '', fields: ['mode', 'mtimeMs'] }, // "empty" and "link" replaced in it
    { path: 'docs', fields: ['mode', 'mtimeMs'] }, // a file removed and one added: its mtime moved too
    { path: 'docs/deep', fields: ['uid', 'gid', 'mtimeMs'] },
  ]);
  assert.deepEqual(full.problems, []);

  const lenient = await verifyTrees(source, target, ALL);
  assert.deepEqual(lenient.metadataDiffers, [{ path: '', fields: ['mode'] }, { path: 'docs', fields: ['mode'] }], 'owners and times are compared only when asked');
  // A manifest without the folder itself (an older agent's): it is not compared.
  const { root: _, ...older } = await treeManifest(target, ALL);
  const withoutRoot = await compareManifests(await treeManifest(source, ALL), decodeManifest(encodeManifest(older)));
  assert.deepEqual(withoutRoot.metadataDiffers, [{ path: 'docs', fields: ['mode'] }]);
});

test('hard links: the names of one file are grouped alike on both sides, or each name that differs is named', async (t) => {
  const { source, target } = sourceAndCopy(t);
  // docs/a.txt gets two more names on the source; on the target, one of them is a copy.
  linkSync(join(source, 'docs/a.txt'), join(source, 'docs/deep/second'));
  linkSync(join(source, 'docs/a.txt'), join(source, 'third'));
  linkSync(join(target, 'docs/a.txt'), join(target, 'docs/deep/second'));
  writeFileSync(join(target, 'third'), 'alpha');
  const manifest = await treeManifest(source, ALL);
  assert.deepEqual(manifest.entries.filter((e) => e.linkedTo !== undefined).map((e) => [e.path, e.linkedTo]), [['docs/deep/second', 'docs/a.txt'], ['third', 'docs/a.txt']]);
  assert.deepEqual(decodeManifest(encodeManifest(manifest)), manifest, 'linkedTo survives encoding');
  const report = await verifyTrees(source, target, ALL);
  assert.deepEqual(report.metadataDiffers, [{ path: 'third', fields: ['linkedTo'] }]);
  rmSync(join(target, 'third'));
  linkSync(join(target, 'docs/a.txt'), join(target, 'third'));
  assert.equal((await verifyTrees(source, target, ALL)).equal, true);
});

test('what cannot be compared is a problem, and a tree with one is not equal', async (t) => {
  const { source, target } = sourceAndCopy(t);
  execFileSync('mkfifo', [join(source, 'pipe')]);
  const report = await verifyTrees(source, target, ALL);
  assert.equal(report.equal, false);
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.problems.map((p) => [p.side, p.path, p.code]), [['source', 'pipe', 'VIGIL_UNSUPPORTED_TYPE']]);
});

test('a manifest survives encoding, compactly, and plain JSON too', async (t) => {
  const { source } = sourceAndCopy(t);
  execFileSync('mkfifo', [join(source, 'pipe')]);
  chmodSync(source, 0o2750);
  const manifest = await treeManifest(source, ALL);
  assert.equal(manifest.root?.mode, 0o2750);
  assert.deepEqual(decodeManifest(encodeManifest(manifest)), manifest);
  assert.deepEqual(JSON.parse(JSON.stringify(manifest)), manifest);
  const withXattrs: Manifest = { ...manifest, root: { ...manifest.root!, xattrs: 'ab'.repeat(16) } };
  assert.deepEqual(decodeManifest(encodeManifest(withXattrs)), withXattrs, 'the folder\'s own attributes too');

  const entries: ManifestEntry[] = [];
  for (let d = 0; d < 100; d++) {
    for (let f = 0; f < 1000; f++) {
      const path = `projects/dept-${String(d).padStart(3, '0')}/reports/report-${String(f).padStart(4, '0')}.pdf`;
      entries.push({ path, type: 'file', size: 123456 + f, mode: 0o644, mtimeMs: 1_712_345_678_901.123, uid: 1000, gid: 1000, hash: createHash('sha256').update(path).digest('hex') });
    }
  }
  const big: Manifest = { entries, problems: [] };
  const encoded = encodeManifest(big);
  // Each entry: its hash (66 with quotes), a short suffix of its path, and its numbers.
  assert.ok(encoded.length < 100_000 * 140, `${encoded.length} bytes for 100k entries`);
  assert.ok(encoded.length < JSON.stringify(big).length * 0.6, 'shared path prefixes are not repeated');
  const decoded = decodeManifest(encoded);
  assert.equal(decoded.entries.length, 100_000);
  assert.deepEqual(decoded.entries[54_321], entries[54_321]);
  // Compared a slice at a time: with slices spent at once, it gives way every 256 entries of either side.
  const slicer = new TimeSlicer(0);
  assert.equal((await compareManifests(big, decoded, { checkOwner: true, checkMtime: true }, slicer)).equal, true);
  assert.ok(slicer.yields >= 2 * 100_000 / 256 - 1, `${slicer.yields} turns given away`);
});

test('a malformed manifest is refused, naming the entry and the field', () => {
  const hash = 'a'.repeat(64);
  const entry = (shared: number, suffix: string, extra = hash, type = 'f'): unknown[] => [shared, suffix, type, 1, 0o644, 1, 0, 0, extra];
  const encode = (e: unknown[]): string => JSON.stringify({ v: 1, e, p: [] });
  const cases: [string, RegExp][] = [
    ['not json', /peer manifest: not JSON/],
    [JSON.stringify({ v: 2, e: [], p: [] }), /version 2/],
    [JSON.stringify({ v: 1, e: {}, p: [] }), /field e is not a list/],
    [encode([entry(0, '../etc/passwd')]), /entry 0 field path: path "..\/etc\/passwd": has a '..' segment/],
    [encode([entry(0, 'b'), entry(0, 'a')]), /entry 1 field path: "a" is not after "b"/],
    [encode([entry(0, 'a'), entry(0, 'a')]), /entry 1 field path: "a" is not after "a"/],
    [encode([entry(0, 'a'), entry(5, 'b')]), /entry 1 field shared: 5 is not a prefix length/],
    [encode([entry(0, 'a', 'xyz')]), /entry 0 field hash: "xyz" is not a SHA-256/],
    [encode([entry(0, 'a', '', 'q')]), /entry 0 field type: "q" is not f, d or l/],
    [encode([[0, 'a', 'f', -1, 0, 1, 0, 0, hash]]), /entry 0 field size: -1/],
    [encode([[0, 'a', 'f', 1, 0o10000, 1, 0, 0, hash]]), /entry 0 field mode/],
    [encode([[0, 'a', 'f']]), /entry 0 field \(all\): not a list of 9 values/],
    [encode([entry(0, 'b'), [0, 'c', 'f', 1, 0o644, 1, 0, 0, hash, 'd']]), /entry 1 field linkedTo: "d" is not a file's path before this one/],
    [encode([[0, 'c', 'f', 1, 0o644, 1, 0, 0, hash, '../x']]), /entry 0 field linkedTo/],
    [encode([[0, 'c', 'd', 0, 0o755, 1, 0, 0, '', 'a']]), /entry 0 field linkedTo/],
    [JSON.stringify({ v: 1, e: [], p: [['x', 'weird', 'C', 'r']] }), /problem 0: not \[path, kind, code, reason\]/],
    [JSON.stringify({ v: 1, e: [], p: [], r: [0o755, 1, 0] }), /the folder itself \(r\) field \(all\): not a list of 4 values/],
    [JSON.stringify({ v: 1, e: [], p: [], r: [0o20000, 1, 0, 0] }), /the folder itself \(r\) field mode: 8192 is not a permission mode/],
    [JSON.stringify({ v: 1, e: [], p: [], r: [0o755, 1, -1, 0] }), /the folder itself \(r\) field uid: -1 is not a user id/],
    [JSON.stringify({ v: 1, e: [], p: [], r: [0o755, 1, 0, 0, 'XY'] }), /the folder itself \(r\) field xattrs: "XY" is not an attributes digest/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => decodeManifest(text, 'peer manifest'), { code: 'VIGIL_BAD_MANIFEST', message }, text);
  }
  const ok = decodeManifest(encode([entry(0, 'dir', '', 'd'), entry(3, '/file'), entry(4, 'x', 'target', 'l')]));
  assert.deepEqual(ok.entries.map((e) => [e.path, e.type]), [['dir', 'dir'], ['dir/file', 'file'], ['dir/x', 'symlink']]);
});
