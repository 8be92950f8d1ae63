import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extendedAttributes, matchXattrs, travellingXattrs, travels, xattrDigest, xattrNameProblem, type ExtendedAttributes } from '../../../agent/replication/xattrs.js';

function access(): ExtendedAttributes {
  const { access: a, why } = extendedAttributes();
  assert.ok(a !== undefined, `the addon loads here: ${why ?? ''}`);
  return a;
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-xattrs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What getfattr (attr's own tool, not our addon) reads: name -> hex value. */
function getfattr(path: string): Map<string, string> {
  const out = execFileSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', path], { encoding: 'utf8' });
  const found = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line);
    if (m !== null) found.set(m[1]!, m[2]!);
  }
  return found;
}

test('the addon lists, sets and removes attributes through the name, never following a symlink, and names the errno', (t) => {
  const x = access();
  const dir = tempDir(t);
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  assert.deepEqual(x.list(file), []);
  x.set(file, 'user.a', Buffer.from('hello'));
  x.set(file, 'user.empty', Buffer.alloc(0));
  // ext4 keeps a value within one block (4 KiB) unless it has ea_inode.
  x.set(file, 'user.big', Buffer.alloc(3000, 7));
  const listed = new Map(x.list(file).map((a) => [a.name, a.value] as const));
  assert.deepEqual([...listed.keys()].sort(), ['user.a', 'user.big', 'user.empty']);
  assert.deepEqual(listed.get('user.big'), Buffer.alloc(3000, 7));
  // attr's getfattr sees what we set.
  assert.equal(getfattr(file).get('user.a'), Buffer.from('hello').toString('hex'));
  execFileSync('setfattr', ['-n', 'user.by-setfattr', '-v', '0x0102', file]);
  assert.deepEqual(x.list(file).find((a) => a.name === 'user.by-setfattr')?.value, Buffer.from([1, 2]));
  assert.equal(x.remove(file, 'user.a'), true);
  assert.equal(x.remove(file, 'user.a'), false, 'already gone');
  // A symlink's own attributes, not its target's: Linux allows no user attributes on a link.
  const link = join(dir, 'link');
  symlinkSync(file, link);
  assert.deepEqual(x.list(link), []);
  assert.throws(() => x.set(link, 'user.b', Buffer.from('1')), { code: 'EPERM', message: /lsetxattr '.*link'/ });
  assert.equal(x.list(file).some((a) => a.name === 'user.b'), false, 'the target was not touched');
  assert.throws(() => x.list(join(dir, 'missing')), { code: 'ENOENT', syscall: 'llistxattr' });
  assert.throws(() => x.set(file, '', Buffer.from('1')), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => x.set(file, 'user.nul\0x', Buffer.from('1')), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => x.set(file, 'user.c', 'text' as unknown as Buffer), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('what travels: user, trusted, security but the SELinux label, the two POSIX ACLs; names a record cannot carry are named', () => {
  for (const name of ['user.a', 'trusted.overlay', 'security.NTACL', 'security.capability', 'system.posix_acl_access', 'system.posix_acl_default']) assert.equal(travels(name), true, name);
  for (const name of ['security.selinux', 'system.nfs4_acl', 'system.sockprotoname', 'os2.x', 'user']) assert.equal(travels(name), false, name);
  assert.match(xattrNameProblem('security.selinux') ?? '', /not in a namespace that is mirrored/);
  assert.match(xattrNameProblem(`user.${'n'.repeat(251)}`) ?? '', /longer than 255 bytes/);
  assert.equal(xattrNameProblem(`user.${'n'.repeat(250)}`), undefined);
});

test('a digest says the set, whatever the order; none for no attributes', () => {
  const a = { name: 'user.a', value: Buffer.from('1') };
  const b = { name: 'user.b', value: Buffer.from('2') };
  assert.equal(xattrDigest([]), undefined);
  assert.equal(xattrDigest([a, b]), xattrDigest([b, a]));
  assert.match(xattrDigest([a]) ?? '', /^[0-9a-f]{32}$/);
  assert.notEqual(xattrDigest([a]), xattrDigest([a, b]));
  assert.notEqual(xattrDigest([a]), xattrDigest([{ name: 'user.a', value: Buffer.from('2') }]), 'the value counts');
  // Name and value are delimited: "user.a" + "b1" is not "user.ab" + "1".
  assert.notEqual(xattrDigest([{ name: 'user.a', value: Buffer.from('b1') }]), xattrDigest([{ name: 'user.ab', value: Buffer.from('1') }]));
});

test('matchXattrs makes the travelling set exactly the one given, ACLs included, and leaves the rest alone', (t) => {
  const x = access();
  const dir = tempDir(t);
  const source = join(dir, 'source');
  const target = join(dir, 'target');
  mkdirSync(source);
  mkdirSync(target);
  // Real ACLs, made by setfacl: an access ACL (which moves the group bits of the mode to the mask) and a default one.
  execFileSync('setfacl', ['-m', 'u:4242:rwx,g:4243:r-x', source]);
  execFileSync('setfacl', ['-d', '-m', 'u:4242:rw-', source]);
  x.set(source, 'user.label', Buffer.from('finance'));
  x.set(target, 'user.stale', Buffer.from('old'));
  x.set(target, 'user.label', Buffer.from('other'));
  const wanted = travellingXattrs(x, source);
  assert.deepEqual(wanted.map((a) => a.name), ['system.posix_acl_access', 'system.posix_acl_default', 'user.label'], 'sorted by name');
  assert.equal(matchXattrs(x, target, wanted), 4, 'two ACLs and a label set, a stale one removed');
  assert.equal(xattrDigest(travellingXattrs(x, target)), xattrDigest(wanted));
  assert.equal(execFileSync('getfacl', ['-cp', target], { encoding: 'utf8' }), execFileSync('getfacl', ['-cp', source], { encoding: 'utf8' }));
  assert.equal(statSync(target).mode & 0o777, statSync(source).mode & 0o777, 'the ACL set the mode\'s group bits too');
  assert.equal(matchXattrs(x, target, wanted), 0, 'level: nothing changed');
  assert.equal(matchXattrs(x, target, []), 3, 'none wanted: every travelling one removed');
  assert.deepEqual(travellingXattrs(x, target), []);
  // No ACL entries left (removing the access ACL leaves the mode as the mask had it).
  assert.match(execFileSync('getfacl', ['-cp', target], { encoding: 'utf8' }), /^user::r..\ngroup::r..\nother::r..\n\n$/);
});

test('a file system that keeps no attributes (ramfs) lists none, and refuses one with ENOTSUP', (t) => {
  const x = access();
  const dir = tempDir(t);
  execFileSync('mount', ['-t', 'ramfs', 'vigil-xattrs-ramfs', dir]);
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    assert.deepEqual(travellingXattrs(x, file), []);
    assert.throws(() => matchXattrs(x, file, [{ name: 'user.a', value: Buffer.from('1') }]), { code: 'ENOTSUP' });
  } finally {
    execFileSync('umount', [dir]);
  }
});
