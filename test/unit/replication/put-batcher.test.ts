// How a resync's put records are gathered into puts records: runs of one folder, within a count and a size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutBatcher } from '../../../agent/replication/put-batcher.js';
import type { ChangeRecord, WireRecord } from '../../../agent/replication/records.js';

type PutRecord = Extract<ChangeRecord, { op: 'put' }>;
const put = (path: string, bytes = 1): PutRecord => ({ op: 'put', path, mode: 0o644, mtimeMs: 1, data: Buffer.alloc(bytes) });

/** The paths of what came out, a puts record as its paths joined. */
function shape(records: readonly (WireRecord | undefined)[]): string[] {
  return records.filter((r) => r !== undefined).map((r) => (r.op === 'puts' ? r.files.map((f) => f.path).join('+') : r.op === 'rename' ? r.from : r.path));
}

test('puts gather by folder: a run of one folder is one record, a lone file stays a put record', () => {
  const batcher = new PutBatcher();
  const out = ['0/a', '0/d/b', '0/c', '1/a', '0/e', '0/f'].map((p) => batcher.add(put(p)));
  out.push(batcher.take());
  assert.deepEqual(shape(out), ['0/a+0/d/b+0/c', '1/a', '0/e+0/f']);
  assert.equal(out.find((r) => r !== undefined && shape([r])[0] === '1/a')?.op, 'put');
  assert.equal(batcher.take(), undefined, 'nothing is left once taken');
  assert.equal(batcher.lastPath, undefined, 'and no last file');
  batcher.add(put('0/x'));
  batcher.add(put('0/y'));
  assert.equal(batcher.lastPath, '0/y', 'the file an xattrs record that follows would name');
});

test('a record holds at most the files and bytes it was given; a file larger than the bytes goes alone', () => {
  const byCount = new PutBatcher(3, 1000);
  const counted = ['0/1', '0/2', '0/3', '0/4', '0/5', '0/6', '0/7'].map((p) => byCount.add(put(p)));
  counted.push(byCount.take());
  assert.deepEqual(shape(counted), ['0/1+0/2+0/3', '0/4+0/5+0/6', '0/7']);
  const bySize = new PutBatcher(100, 1000);
  const sized = [put('0/a', 400), put('0/b', 400), put('0/c', 300), put('0/big', 5000), put('0/d', 10)].map((p) => bySize.add(p));
  sized.push(bySize.take());
  assert.deepEqual(shape(sized), ['0/a+0/b', '0/c', '0/big', '0/d']);
});

test('a batcher cannot be asked for records larger than the format holds', () => {
  assert.throws(() => new PutBatcher(4097), /at most 4096 files, not 4097/);
  assert.throws(() => new PutBatcher(10, 16 * 1024 * 1024 + 1), /at most 16777216 bytes/);
});
