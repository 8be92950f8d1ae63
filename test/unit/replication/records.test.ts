import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeRecord, decodeRecordInPlace, encodeRecord, encodeRecordParts, MAX_PUTS_FILES, MAX_WRITE_BYTES, RecordError, relativePathProblem, type WireRecord } from '../../../agent/replication/records.js';
import { shortStrings } from '../../support/short-strings.js';

const samples: WireRecord[] = [
  { op: 'write', path: 'a/b.txt', offset: 2 ** 40 + 3, data: Buffer.from('hello') },
  { op: 'write', path: 'empty', offset: 0, data: Buffer.alloc(0) },
  { op: 'truncate', path: 'a/b.txt', size: Number.MAX_SAFE_INTEGER },
  { op: 'create', path: 'ünïcode/файл', mode: 0o640 },
  { op: 'mkdir', path: 'dir/sub', mode: 0o2755 },
  { op: 'symlink', path: 'link', target: '../outside/../anything' },
  { op: 'rename', from: 'x/old name', to: 'y/new name' },
  { op: 'delete', path: 'tree' },
  { op: 'meta', path: 'm' },
  { op: 'meta', path: 'm', mode: 0o600, mtimeMs: 1_700_000_000_123.456, uid: 1000, gid: 0 },
  { op: 'meta', path: 'm', gid: 4_294_967_295 },
  { op: 'file-hash', path: 'a/b.txt', size: 5, sha256: createHash('sha256').update('hello').digest() },
  { op: 'put', path: 'small/file', mode: 0o4750, mtimeMs: 1_700_000_000_123.456, data: Buffer.from('whole') },
  { op: 'put', path: 'p', mode: 0o644, mtimeMs: 0, uid: 0, gid: 4_294_967_295, data: Buffer.alloc(3000, 7) },
  { op: 'put', path: 'empty', mode: 0o600, mtimeMs: 1, uid: 1000, data: Buffer.alloc(0) },
  { op: 'puts', files: [
    { path: 'd/one', mode: 0o644, mtimeMs: 1_700_000_000_123.456, data: Buffer.from('first') },
    { path: 'd/two', mode: 0o600, mtimeMs: 2, uid: 0, gid: 4_294_967_295, data: Buffer.alloc(0) },
  ] },
  { op: 'puts', files: [
    { path: 'ünïcode/a', mode: 0o4750, mtimeMs: 0, gid: 7, data: Buffer.alloc(3000, 1) },
    { path: 'ünïcode/b', mode: 0o644, mtimeMs: 3, data: Buffer.alloc(1025, 2) },
    { path: 'ünïcode/a', mode: 0o640, mtimeMs: 4, uid: 5, data: Buffer.from('again') },
  ] },
  { op: 'link', path: 'ünïcode/second name', existing: 'a/b.txt' },
  { op: 'zeros', path: 'disk.img', offset: 0, length: 1 },
  { op: 'zeros', path: 'ünïcode/disk.img', offset: 2 ** 40, length: Number.MAX_SAFE_INTEGER - 2 ** 40 },
  { op: 'xattrs', path: 'shared/report.docx', xattrs: [] },
  { op: 'xattrs', path: 'ünïcode/dir', xattrs: [
    { name: 'security.NTACL', value: Buffer.alloc(300, 9) },
    { name: 'system.posix_acl_access', value: Buffer.from([2, 0, 0, 0, 1, 0, 6, 0]) },
    { name: 'trusted.x', value: Buffer.alloc(0) },
    { name: 'user.ünï', value: Buffer.alloc(64 * 1024, 1) },
  ] },
];

function fails(bytes: Buffer, field: string, offset: number, problem: RegExp): void {
  assert.throws(() => decodeRecord(bytes), (e: unknown) => {
    assert.ok(e instanceof RecordError, String(e));
    assert.equal(e.code, 'VIGIL_BAD_RECORD');
    assert.equal(e.field, field, e.message);
    assert.equal(e.offset, offset, e.message);
    assert.match(e.message, problem);
    assert.ok(e.message.startsWith(`change record: ${field} at byte ${offset}: `), e.message);
    return true;
  });
}

test('every op survives a round trip', () => {
  for (const r of samples) assert.deepEqual(decodeRecord(encodeRecord(r)), r, r.op);
});

test('a decoded write does not share memory with the buffer it came from', () => {
  const bytes = encodeRecord({ op: 'write', path: 'f', offset: 0, data: Buffer.from('abc') });
  const r = decodeRecord(bytes);
  bytes.fill(0);
  assert.deepEqual(r, { op: 'write', path: 'f', offset: 0, data: Buffer.from('abc') });
});

test('every truncation of every record is refused, naming a field and an offset within the record', () => {
  for (const r of samples) {
    const bytes = encodeRecord(r);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decodeRecord(bytes.subarray(0, cut)), (e: unknown) =>
        e instanceof RecordError && e.code === 'VIGIL_BAD_RECORD' && e.offset !== undefined && e.offset <= cut && /truncated/.test(e.message),
      `${r.op} cut at ${cut}`);
    }
  }
});

test('trailing bytes, unknown versions, ops and meta flags are refused', () => {
  const del = encodeRecord({ op: 'delete', path: 'x' });
  fails(Buffer.concat([del, Buffer.of(0)]), 'end', del.length, /1 trailing bytes/);
  fails(Buffer.from([2, ...del.subarray(1)]), 'version', 0, /2, expected 1/);
  fails(Buffer.from([1, 0, ...del.subarray(2)]), 'op', 1, /unknown op code 0/);
  fails(Buffer.from([1, 15, ...del.subarray(2)]), 'op', 1, /unknown op code 15/);
  const meta = encodeRecord({ op: 'meta', path: 'm' });
  meta[meta.length - 1] = 0x10;
  fails(meta, 'meta flags', meta.length - 1, /unknown bits 0x10/);
  // put: version, op, path (2 + 1), mode (4), mtimeMs (8), then its flags, which carry only uid and gid.
  const put = encodeRecord({ op: 'put', path: 'p', mode: 0o644, mtimeMs: 5, data: Buffer.from('x') });
  put[17] = 0x01;
  fails(put, 'put flags', 17, /unknown bits 0x1/);
  const huge = encodeRecord({ op: 'put', path: 'p', mode: 0o644, mtimeMs: 5, data: Buffer.from('x') });
  huge.writeUInt32BE(16 * 1024 * 1024 + 1, 18);
  fails(huge, 'data length', 18, /exceeds/);
});

test('a puts record holds 2 to MAX_PUTS_FILES files of MAX_WRITE_BYTES in all, and an error names the file and its field', () => {
  const PUTS = 11;
  /** A put record's body (its fields and data, without version and op): one file of a puts record. */
  const body = (path: string, data: Buffer): Buffer => encodeRecord({ op: 'put', path, mode: 0o644, mtimeMs: 5, data }).subarray(2);
  const puts = (count: number, files: readonly Buffer[]): Buffer => {
    const head = Buffer.of(1, PUTS, 0, 0);
    head.writeUInt16BE(count, 2);
    return Buffer.concat([head, ...files]);
  };
  const one = body('a', Buffer.from('x'));
  fails(puts(0, []), 'files', 2, /0 files; a puts record holds 2 to 4096/);
  fails(puts(1, [one]), 'files', 2, /1 files/);
  fails(puts(2, [one]), 'files[1].path', 2 + 2 + one.length, /truncated/);
  // The second file's path, after the first file's bytes and its own length: named with its place in the record.
  const bad = Buffer.concat([Buffer.of(0, 5), Buffer.from('../up')]);
  fails(puts(2, [one, bad]), 'files[1].path', 4 + one.length + 2, /".." segment/);
  // Its flags carry only uid and gid.
  const flagged = body('b', Buffer.from('y'));
  flagged[1 + 2 + 4 + 8] = 0x02;
  fails(puts(2, [one, flagged]), 'files[1].put flags', 4 + one.length + 1 + 2 + 4 + 8, /unknown bits 0x2/);
  // 16 MiB in the first file is allowed; one more byte in the second is not.
  const full = body('big', Buffer.alloc(MAX_WRITE_BYTES, 3));
  fails(puts(2, [full, one]), 'files[1].data', 4 + full.length + one.length - 1, /reaches 16777217 bytes, beyond 16777216/);
  assert.equal((decodeRecord(puts(2, [full, body('e', Buffer.alloc(0))])) as { files: unknown[] }).files.length, 2);

  const refuses = (files: number, bytes: number, message: RegExp): void => {
    const record: WireRecord = { op: 'puts', files: Array.from({ length: files }, (_, i) => ({ path: `f${i}`, mode: 0o644, mtimeMs: 1, data: Buffer.alloc(i === 0 ? bytes : 0) })) };
    assert.throws(() => encodeRecord(record), (e: unknown) => e instanceof RecordError && e.field === 'files' && message.test(e.message), message.source);
  };
  refuses(1, 0, /1 files; a puts record holds 2 to 4096/);
  refuses(MAX_PUTS_FILES + 1, 0, /4097 files/);
  refuses(2, MAX_WRITE_BYTES + 1, /16777217 bytes of data exceeds 16777216/);
  assert.equal((decodeRecord(encodeRecord({ op: 'puts', files: Array.from({ length: MAX_PUTS_FILES }, (_, i) => ({ path: `f${i}`, mode: 0o644, mtimeMs: 1, data: Buffer.alloc(0) })) })) as { files: unknown[] }).files.length, MAX_PUTS_FILES);
  assert.throws(() => encodeRecord({ op: 'puts', files: [{ path: 'ok', mode: 0o644, mtimeMs: 1, data: Buffer.alloc(0) }, { path: 'a//b', mode: 0o644, mtimeMs: 1, data: Buffer.alloc(0) }] }),
    (e: unknown) => e instanceof RecordError && e.field === 'files[1].path' && /empty segment/.test(e.message));
});

test('bad paths are refused on decode, at the offset of the path', () => {
  const encodePath = (op: number, path: Buffer): Buffer => {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(path.length);
    return Buffer.concat([Buffer.of(1, op), length, path]);
  };
  const DELETE = 7;
  fails(encodePath(DELETE, Buffer.from('/etc/passwd')), 'path', 4, /absolute/);
  fails(encodePath(DELETE, Buffer.from('a/../../etc')), 'path', 4, /".." segment/);
  fails(encodePath(DELETE, Buffer.from('a/./b')), 'path', 4, /"\." segment/);
  fails(encodePath(DELETE, Buffer.from('..')), 'path', 4, /".." segment/);
  fails(encodePath(DELETE, Buffer.from('a//b')), 'path', 4, /empty segment/);
  fails(encodePath(DELETE, Buffer.from('a/')), 'path', 4, /empty segment/);
  fails(encodePath(DELETE, Buffer.from('a\0b')), 'path', 4, /NUL/);
  fails(encodePath(DELETE, Buffer.alloc(0)), 'path', 4, /empty/);
  fails(encodePath(DELETE, Buffer.from([0x61, 0xff, 0x62])), 'path', 4, /not valid UTF-8/);
  fails(encodePath(DELETE, Buffer.from('a\\b')), 'path', 4, /backslash/);
  // The second path of a rename is named as such.
  const rename = Buffer.concat([encodePath(6, Buffer.from('ok')), Buffer.of(0, 3), Buffer.from('../')]);
  fails(rename, 'to', 8, /".." segment/);
  const symlink = Buffer.concat([encodePath(5, Buffer.from('l')), Buffer.of(0, 0)]);
  fails(symlink, 'target', 7, /empty/);
  // A link's existing name is a path inside the mirror as well.
  const link = Buffer.concat([encodePath(12, Buffer.from('new')), Buffer.of(0, 11), Buffer.from('/etc/shadow')]);
  fails(link, 'existing', 9, /absolute/);
  assert.throws(() => encodeRecord({ op: 'link', path: 'new', existing: '../outside' }), (e: unknown) => e instanceof RecordError && e.field === 'existing');
});

test('numbers out of range are refused on decode', () => {
  const bytes = encodeRecord({ op: 'truncate', path: 'f', size: 1 });
  bytes.writeBigUInt64BE(2n ** 53n, 5);
  fails(bytes, 'size', 5, /exceeds 2\^53 - 1/);
  const mode = encodeRecord({ op: 'mkdir', path: 'd', mode: 0o755 });
  mode.writeUInt32BE(0o10000, 5);
  fails(mode, 'mode', 5, /beyond 0o7777/);
  const mtime = encodeRecord({ op: 'meta', path: 'm', mtimeMs: 1 });
  mtime.writeDoubleBE(Number.NaN, 6);
  fails(mtime, 'mtimeMs', 6, /not finite/);
  // A run of zeros holds a byte at least, and ends within 2^53 - 1: the length is named.
  const zeros = encodeRecord({ op: 'zeros', path: 'z', offset: 2 ** 40, length: 5 });
  zeros.writeBigUInt64BE(0n, 13);
  fails(zeros, 'length', 13, /at least one byte/);
  zeros.writeBigUInt64BE(2n ** 53n - 2n ** 40n, 13);
  fails(zeros, 'length', 13, /beyond 2\^53 - 1/);
  const write = encodeRecord({ op: 'write', path: 'w', offset: 0, data: Buffer.alloc(1) });
  write.writeUInt32BE(0xffffffff, 13);
  fails(write, 'data length', 13, /exceeds/);
});

test('encoding refuses what decoding would refuse, naming the field', () => {
  const refuses = (r: WireRecord, field: string): void => {
    assert.throws(() => encodeRecord(r), (e: unknown) => e instanceof RecordError && e.code === 'VIGIL_BAD_RECORD' && e.field === field, field);
  };
  refuses({ op: 'delete', path: '../x' }, 'path');
  refuses({ op: 'rename', from: 'a', to: '/b' }, 'to');
  refuses({ op: 'write', path: 'a', offset: -1, data: Buffer.alloc(0) }, 'offset');
  refuses({ op: 'write', path: 'a', offset: 1.5, data: Buffer.alloc(0) }, 'offset');
  refuses({ op: 'create', path: 'a', mode: 0o10000 }, 'mode');
  refuses({ op: 'meta', path: 'a', uid: -1 }, 'uid');
  refuses({ op: 'meta', path: 'a', mtimeMs: Infinity }, 'mtimeMs');
  refuses({ op: 'file-hash', path: 'a', size: 0, sha256: Buffer.alloc(31) }, 'sha256');
  refuses({ op: 'symlink', path: 'a', target: '' }, 'target');
  refuses({ op: 'delete', path: 'x'.repeat(4097) }, 'path');
  refuses({ op: 'zeros', path: 'z', offset: 0, length: 0 }, 'length');
  refuses({ op: 'zeros', path: 'z', offset: 1, length: Number.MAX_SAFE_INTEGER }, 'length');
  refuses({ op: 'zeros', path: 'z', offset: -1, length: 1 }, 'offset');
});

test('every field survives the encoder growing its buffer: data of 0 to 2100 bytes, paths up to the limit, all ops', () => {
  // Filled with a pattern, so bytes left uninitialized by the encoder could not pass for data.
  const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
  const paths = ['a', 'dir/'.repeat(30) + 'f', 'p'.repeat(4096)];
  const records: WireRecord[] = [];
  for (const path of paths) {
    for (let size = 0; size <= 2100; size += size < 1100 ? 97 : 1) if (size <= 40 || size % 97 === 0 || (size >= 1020 && size <= 1030)) records.push({ op: 'write', path, offset: size * 7, data: pattern(size, size) });
    records.push({ op: 'truncate', path, size: 2 ** 40 + 3 });
    records.push({ op: 'create', path, mode: 0o640 });
    records.push({ op: 'mkdir', path, mode: 0o2755 });
    records.push({ op: 'symlink', path, target: 't'.repeat(4000) });
    records.push({ op: 'rename', from: path, to: `${path}2`.slice(-4096) });
    records.push({ op: 'delete', path });
    records.push({ op: 'meta', path, mode: 0o4711, mtimeMs: 1_700_000_000_123.25, uid: 4_000_000_000, gid: 65534 });
    records.push({ op: 'file-hash', path, size: 12345, sha256: pattern(32, 9) });
  }
  for (const r of records) {
    const whole = encodeRecord(r);
    const parts = encodeRecordParts(r);
    assert.deepEqual(Buffer.isBuffer(parts) ? parts : Buffer.concat(parts), whole);
    assert.deepEqual(decodeRecord(whole), r, `${r.op} ${'path' in r ? r.path.length : ''}`);
  }
});

test('decodeRecordInPlace gives the same record with its data a view of the payload; decodeRecord a copy', () => {
  const payload = encodeRecord({ op: 'write', path: 'a/b', offset: 7, data: Buffer.from('hello') });
  const copied = decodeRecord(payload);
  const viewed = decodeRecordInPlace(payload);
  assert.deepEqual(viewed, copied);
  assert.ok(viewed.op === 'write' && copied.op === 'write');
  payload[payload.length - 1] = 0x21; // the last byte of the data
  assert.equal(viewed.data.toString(), 'hell!');
  assert.equal(copied.data.toString(), 'hello');
  assert.throws(() => decodeRecordInPlace(payload.subarray(0, payload.length - 1)), /data at byte \d+: truncated/);
});

test('relativePathProblem judges every short path of letters, dots, slashes and backslashes as a segment-by-segment check does', () => {
  // The reference: each segment checked in turn (what relativePathProblem does for any path its quick look cannot clear).
  const reference = (p: string): string | undefined => {
    if (p === '') return 'empty';
    if (p.startsWith('/')) return 'absolute';
    if (p.includes('\\')) return 'contains a backslash';
    for (const segment of p.split('/')) {
      if (segment === '') return 'has an empty segment';
      if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
    }
    return undefined;
  };
  const paths = shortStrings(['a', '.', '/', '\\'], 7);
  for (const p of paths) assert.equal(relativePathProblem(p), reference(p), JSON.stringify(p));
  assert.equal(paths.length, 21844);
  assert.equal(relativePathProblem('a\0b'), 'contains NUL');
});
