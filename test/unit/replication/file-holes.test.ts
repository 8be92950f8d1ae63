import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileHoles, readSkippingHoles } from '../../../agent/replication/file-holes.js';
import { prng } from '../../support/dataset.js';

const MiB = 1024 * 1024;

/** 64 MiB holding three runs of data (one at the very end), holes elsewhere. */
function sparseFile(t: { after(fn: () => void): void }): { path: string; fd: number; size: number } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-holes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'disk.img');
  const fd = openSync(path, 'w+');
  t.after(() => closeSync(fd));
  const random = prng('file-holes');
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 255) + 1));
  writeSync(fd, bytes(200 * 1024), 0, undefined, MiB + 123);
  writeSync(fd, bytes(70 * 1024 + 5), 0, undefined, 20 * MiB - 5);
  ftruncateSync(fd, 64 * MiB);
  writeSync(fd, bytes(1), 0, undefined, 64 * MiB - 1);
  return { path, fd, size: fstatSync(fd).size };
}

/** What a plain read loop gives: the reference. */
function plainRead(fd: number, length: number, position: number): Buffer {
  const out = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, out, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return out.subarray(0, filled);
}

/** Bytes this process has read through read(2) and the like (/proc/self/io's rchar). */
function bytesRead(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

test('a sparse file read around its holes gives the bytes a plain read gives, at any offset and length, past its end too', (t) => {
  assert.ok(fileHoles() !== undefined, 'the native addon answers SEEK_DATA here');
  const { fd, size } = sparseFile(t);
  const random = prng('file-holes offsets');
  const cases: [number, number][] = [[0, 64 * MiB], [MiB, MiB], [MiB + 122, 3], [20 * MiB - 6, 10], [64 * MiB - 2, 10], [64 * MiB, 5], [70 * MiB, 5], [0, 0]];
  for (let i = 0; i < 60; i++) cases.push([Math.floor(random() * 66 * MiB), Math.floor(random() * 3 * MiB)]);
  const into = Buffer.alloc(66 * MiB, 0xee); // stale bytes: every byte of what is filled must be written
  for (const [position, length] of cases) {
    const expected = plainRead(fd, length, position);
    const at = 7;
    const n = readSkippingHoles(fd, into, at, length, position, size, fileHoles());
    assert.equal(n, expected.length, `${length} at ${position}`);
    assert.ok(into.subarray(at, at + n).equals(expected), `${length} at ${position}`);
    // Without the platform's answer, the same bytes, read.
    const m = readSkippingHoles(fd, into, at, length, position, size, undefined);
    assert.ok(m === n && into.subarray(at, at + m).equals(expected));
  }
});

test('the holes are not read: 64 MiB holding 270 KiB reads a few hundred KiB through read(2), where a plain read reads it all', (t) => {
  const { fd, size } = sparseFile(t);
  const chunk = Buffer.alloc(MiB);
  const readAll = (holes: boolean): number => {
    const before = bytesRead();
    for (let at = 0; at < size; at += MiB) readSkippingHoles(fd, chunk, 0, MiB, at, size, holes ? fileHoles() : undefined);
    return bytesRead() - before;
  };
  const skipping = readAll(true);
  const plain = readAll(false);
  assert.ok(plain >= 64 * MiB, `a plain read reads ${plain} bytes`);
  assert.ok(skipping < 2 * MiB, `around the holes, ${skipping} bytes were read`);
});
